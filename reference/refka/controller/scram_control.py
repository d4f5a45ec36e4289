"""AlterUserScramCredentials on the controller (KIP-554; Kafka's ``ScramControlManager``).

Each user's deletions and upsertions are checked together, then committed as
``UserScramCredentialRecord``/``RemoveUserScramCredentialRecord`` (the broker never sees a
password: the client sends a salted password, the controller keeps only the stored and server
keys). One result per user, with Kafka's errors: UNACCEPTABLE_CREDENTIAL (empty name, iterations
outside 4096..16384), UNSUPPORTED_SASL_MECHANISM, RESOURCE_NOT_FOUND (deleting a credential that
does not exist), DUPLICATE_RESOURCE (one user and mechanism twice in one request).
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from kio.schema.errors import ErrorCode

from refka.core.context import RequestContext
from refka.protocol import codec
from refka.security.scram import MAX_ITERATIONS, MIN_ITERATIONS, ScramMechanism, make_credential

if TYPE_CHECKING:
    from refka.controller.quorum_controller import QuorumController

KNOWN = (ScramMechanism.SCRAM_SHA_256, ScramMechanism.SCRAM_SHA_512)


def handle_alter_user_scram_credentials(
    c: QuorumController, ctx: RequestContext, request: Any
) -> Any:
    from refka.metadata.scram_records import (
        RemoveUserScramCredentialRecord,
        UserScramCredentialRecord,
    )

    m = codec.response_module(ctx.api_key, ctx.api_version)
    changes = [(d.name, int(d.mechanism), None) for d in request.deletions]
    changes += [(u.name, int(u.mechanism), u) for u in request.upsertions]
    twice = Counter((name, mechanism) for name, mechanism, _ in changes)
    users = list(dict.fromkeys(name for name, _, _ in changes))
    results = []
    for user in users:
        mine = [change for change in changes if change[0] == user]
        error, message = _check(c, mine, twice)
        if error is ErrorCode.none:
            records: list[Any] = []
            for name, mechanism, upsert in mine:
                if upsert is None:
                    records.append(RemoveUserScramCredentialRecord(name=name, mechanism=mechanism))
                    continue
                cred = make_credential(
                    ScramMechanism(mechanism),
                    upsert.salted_password,
                    upsert.salt,
                    upsert.iterations,
                )
                records.append(
                    UserScramCredentialRecord(
                        name=name,
                        mechanism=mechanism,
                        salt=cred.salt,
                        stored_key=cred.stored_key,
                        server_key=cred.server_key,
                        iterations=cred.iterations,
                    )
                )
            c.commit(records, ctx.now_ms)
        results.append(
            m.AlterUserScramCredentialsResult(user=user, error_code=error, error_message=message)
        )
    return m.AlterUserScramCredentialsResponse(
        throttle_time=codec.millis(0), results=tuple(results)
    )


def _check(
    c: QuorumController, changes: list[tuple[str, int, Any]], twice: Counter[tuple[str, int]]
) -> tuple[ErrorCode, str | None]:
    for name, mechanism, upsert in changes:
        if not name:
            return ErrorCode.unacceptable_credential, "Username must not be empty"
        if mechanism not in KNOWN:
            return ErrorCode.unsupported_sasl_mechanism, "Unknown SCRAM mechanism"
        if upsert is None:
            if (name, mechanism) not in c.image.scram:
                return (
                    ErrorCode.resource_not_found,
                    "Attempt to delete a user credential that does not exist",
                )
        elif upsert.iterations < MIN_ITERATIONS:
            return ErrorCode.unacceptable_credential, "Too few iterations"
        elif upsert.iterations > MAX_ITERATIONS:
            return ErrorCode.unacceptable_credential, "Too many iterations"
    for name, mechanism, _ in changes:  # after the checks above, as Kafka orders them
        if twice[name, mechanism] > 1:
            return (
                ErrorCode.duplicate_resource,
                "A user credential cannot be altered twice in the same request",
            )
    return ErrorCode.none, None
