"""The controller's authorization: the APIs only brokers send it (BrokerRegistration,
BrokerHeartbeat, AlterPartition, AllocateProducerIds, the metadata Fetch) need CLUSTER_ACTION on
the CLUSTER, DescribeQuorum DESCRIBE, UpdateFeatures, AddRaftVoter, RemoveRaftVoter and
UnregisterController ALTER
(``refka.security.api_acls``), as Kafka's
``ControllerApis`` checks them; denied, the answer is CLUSTER_AUTHORIZATION_FAILED.

The admin APIs a broker forwards are authorized at that broker, which knows the client's
principal (refka forwards them without Kafka's Envelope, so the controller sees the broker's
own). Only the delegation token APIs come in an Envelope (the token's owner is the client's
principal); the Envelope itself needs CLUSTER_ACTION, as in Kafka.
A broker on a PLAINTEXT controller listener is User:ANONYMOUS: as with Kafka, ``super.users``
must name it, or ``allow.everyone.if.no.acl.found`` cover it, for a cluster with an authorizer.
"""

from __future__ import annotations

from typing import Any

from kio.schema.errors import ErrorCode

from refka.core.context import RequestContext
from refka.protocol import codec
from refka.security.api_acls import CLUSTER, allowed

GUARDED = frozenset({1, 55, 56, 57, 58, 62, 63, 67, 80, 81, 94})

_DENIED_FIELDS: dict[str, Any] = {
    "error_code": ErrorCode.cluster_authorization_failed,
    "error_message": None,
    "topics": (),
    "nodes": (),
    "responses": (),
    "results": (),
    "broker_epoch": -1,
    "is_caught_up": False,
    "is_fenced": True,
    "should_shut_down": False,
    "producer_id_start": -1,
    "producer_id_len": 0,
    "session_id": 0,
}


def guard(api_key: int, handle: Any) -> Any:
    """``handle``, behind the CLUSTER check when ``api_key`` is one of the guarded APIs."""
    if api_key not in GUARDED:
        return handle

    def guarded(ctx: RequestContext, request: Any) -> Any:
        if allowed(ctx, CLUSTER):
            return handle(ctx, request)
        return codec.build(
            codec.response_class(ctx.api_key, ctx.api_version),
            throttle_time=codec.millis(0),
            **_DENIED_FIELDS,
        )

    return guarded
