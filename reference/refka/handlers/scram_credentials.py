"""DescribeUserScramCredentials (v0, KIP-554): served by the broker from its metadata image
(mechanism and iterations only, never the keys), as Kafka's ``KafkaApis`` does from its
metadata cache. No users named (null or empty): every user with a credential. A named user
without one: RESOURCE_NOT_FOUND; a user named twice: DUPLICATE_RESOURCE. It needs DESCRIBE on
the CLUSTER (``security.api_acls``), else CLUSTER_AUTHORIZATION_FAILED for the request and
each user named."""

from __future__ import annotations

from collections import Counter
from typing import Any

from kio.schema.errors import ErrorCode

from refka.core.context import RequestContext
from refka.core.topics import Topics
from refka.protocol import codec
from refka.security.api_acls import CLUSTER, allowed

KEY = 50


def handle_describe_user_scram_credentials(
    topics: Topics, ctx: RequestContext, request: Any
) -> Any:
    m = codec.response_module(KEY, ctx.api_version)
    if not allowed(ctx, CLUSTER):
        denied, why = ErrorCode.cluster_authorization_failed, "Cluster authorization failed."
        return m.DescribeUserScramCredentialsResponse(  # Kafka's getErrorResponse: no user names
            throttle_time=codec.millis(0),
            error_code=denied,
            error_message=why,
            results=tuple(
                m.DescribeUserScramCredentialsResult(
                    user="", error_code=denied, error_message=why, credential_infos=()
                )
                for _ in request.users or ()
            ),
        )
    scram = topics.image.scram
    named = [u.name for u in request.users or ()]
    users = list(dict.fromkeys(named)) or sorted({user for user, _ in scram})
    count = Counter(named)
    results = []
    for user in users:
        infos = tuple(
            m.CredentialInfo(mechanism=mech, iterations=record.iterations)
            for (name, mech), record in sorted(scram.items())
            if name == user
        )
        error, message = ErrorCode.none, None
        if count[user] > 1:
            error = ErrorCode.duplicate_resource
            message = (
                "Cannot describe SCRAM credentials for the same user twice in a single request: "
                + user
            )
            infos = ()
        elif not infos:
            error = ErrorCode.resource_not_found
            message = f"Attempt to describe a user credential that does not exist: {user}"
        results.append(
            m.DescribeUserScramCredentialsResult(
                user=user, error_code=error, error_message=message, credential_infos=infos
            )
        )
    return m.DescribeUserScramCredentialsResponse(
        throttle_time=codec.millis(0),
        error_code=ErrorCode.none,
        error_message=None,
        results=tuple(results),
    )
