"""AddRaftVoter and RemoveRaftVoter (KIP-853) on refka's static quorum.

refka's controller is the single voter of a static quorum (kraft.version 0: the voters are
configured, no VotersRecord, no directory ids). Kafka 4.4 with ``controller.quorum.voters``
answers both requests in this order, and so does refka: a ``cluster_id`` that is not null and
not the cluster's gets INCONSISTENT_CLUSTER_ID; then UNSUPPORTED_VERSION, "Cluster doesn't
support adding voter because the kraft.version feature is 0" (or "removing"). Kafka with a
dynamic quorum (``--standalone``, kraft.version 1) goes on to change the voter set; refka's
quorum cannot change. ALTER on the CLUSTER is checked by the broker that forwards the request
and by the controller (``controller_acls.GUARDED``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kio.schema.errors import ErrorCode

from refka.protocol import codec

if TYPE_CHECKING:
    from refka.controller.quorum_controller import QuorumController
    from refka.core.context import RequestContext

ADD_RAFT_VOTER = 80
REMOVE_RAFT_VOTER = 81
KRAFT_VERSION = 0  # a static quorum
_VERB = {ADD_RAFT_VOTER: "adding", REMOVE_RAFT_VOTER: "removing"}
_RESPONSE = {ADD_RAFT_VOTER: "AddRaftVoterResponse", REMOVE_RAFT_VOTER: "RemoveRaftVoterResponse"}


def handle_raft_voter_change(c: QuorumController, ctx: RequestContext, request: Any) -> Any:
    """AddRaftVoter (v0-v1) or RemoveRaftVoter (v0): refused, as by a static Kafka quorum."""
    error, message = refusal(ctx.api_key, request.cluster_id, c.settings.cluster_id)
    m = codec.response_module(ctx.api_key, ctx.api_version)
    return codec.build(
        getattr(m, _RESPONSE[ctx.api_key]),
        throttle_time=codec.millis(0),
        error_code=error,
        error_message=message,
    )


def refusal(api_key: int, cluster_id: str | None, own_cluster_id: str) -> tuple[ErrorCode, str]:
    if cluster_id is not None and cluster_id != own_cluster_id:
        message = f'The given id "{cluster_id}" doesn\'t match the cluster id "{own_cluster_id}"'
        return ErrorCode.inconsistent_cluster_id, message
    return ErrorCode.unsupported_version, (
        f"Cluster doesn't support {_VERB[api_key]} voter because the kraft.version "
        f"feature is {KRAFT_VERSION}"
    )
