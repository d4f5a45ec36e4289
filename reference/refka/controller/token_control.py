"""CreateDelegationToken, RenewDelegationToken and ExpireDelegationToken on the controller
(KIP-48 in KRaft; Kafka's ``DelegationTokenControlManager``), and the expiry check.

The broker forwards these requests in an Envelope that carries the requester's principal
(``refka.controller.envelope``), after refusing what Kafka's broker refuses itself (a
token-authenticated or unauthenticated connection, creating for another owner without
CREATE_TOKENS). Here: DELEGATION_TOKEN_AUTH_DISABLED without ``delegation.token.secret.key``,
INVALID_PRINCIPAL_TYPE for a renewer that is not a User, DELEGATION_TOKEN_NOT_FOUND for an HMAC
that names no token, DELEGATION_TOKEN_EXPIRED, DELEGATION_TOKEN_OWNER_MISMATCH for a requester
that is neither owner nor renewer. A token is a ``DelegationTokenRecord``; an expired one is
removed with a ``RemoveDelegationTokenRecord`` by :func:`remove_expired`, every
``delegation.token.expiry.check.interval.ms`` on the controller's timer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kio.schema.errors import ErrorCode

from refka.core.context import RequestContext
from refka.protocol import codec
from refka.security import delegation_token as dt

if TYPE_CHECKING:
    from refka.controller.quorum_controller import QuorumController
    from refka.metadata.token_records import DelegationTokenRecord


def _ms(period: Any) -> int:
    return round(period.total_seconds() * 1000)


def handle_create(c: QuorumController, ctx: RequestContext, request: Any) -> Any:
    from refka.metadata.token_records import DelegationTokenRecord

    settings = c.settings.delegation_tokens
    owner = ctx.principal
    if getattr(request, "owner_principal_name", None):  # v3 (KIP-373): a token for another
        owner = f"{request.owner_principal_type}:{request.owner_principal_name}"
    m = codec.response_module(ctx.api_key, ctx.api_version)
    owner_type, owner_name = dt.principal_name(owner)
    requester_type, requester_name = dt.principal_name(ctx.principal)

    def answer(error: ErrorCode, **values: Any) -> Any:
        return codec.build(
            m.CreateDelegationTokenResponse,
            error_code=error,
            principal_type=owner_type,
            principal_name=owner_name,
            token_requester_principal_type=requester_type,
            token_requester_principal_name=requester_name,
            throttle_time=codec.millis(0),
            **{
                "issue_timestamp": codec.timestamp(0),
                "expiry_timestamp": codec.timestamp(0),
                "max_timestamp": codec.timestamp(0),
                "token_id": "",
                "hmac": b"",
                **values,
            },
        )

    if settings.secret_key is None or not settings.enabled:
        return answer(ErrorCode.delegation_token_auth_disabled)
    if any(r.principal_type != "User" for r in request.renewers):
        return answer(ErrorCode.invalid_principal_type)
    now = ctx.now_ms
    lifetime = settings.max_lifetime_ms
    if _ms(request.max_lifetime) > 0:
        lifetime = min(lifetime, _ms(request.max_lifetime))
    max_timestamp = now + lifetime
    expiry = min(max_timestamp, now + settings.expiry_time_ms)
    token_id = dt.token_id(
        c.random.next_u64().to_bytes(8, "big") + c.random.next_u64().to_bytes(8, "big")
    )
    record = DelegationTokenRecord(
        owner=owner,
        requester=ctx.principal,
        renewers=tuple(f"{r.principal_type}:{r.principal_name}" for r in request.renewers),
        issue_timestamp=now,
        max_timestamp=max_timestamp,
        expiration_timestamp=expiry,
        token_id=token_id,
    )
    c.commit([record], now)
    return answer(
        ErrorCode.none,
        issue_timestamp=codec.timestamp(now),
        expiry_timestamp=codec.timestamp(expiry),
        max_timestamp=codec.timestamp(max_timestamp),
        token_id=token_id,
        hmac=dt.token_hmac(settings.secret_key, token_id),
    )


def _find(
    c: QuorumController, ctx: RequestContext, mac: bytes
) -> tuple[ErrorCode, DelegationTokenRecord | None]:
    """The token an HMAC names and the requester may renew or expire, or the error."""
    settings = c.settings.delegation_tokens
    if settings.secret_key is None or not settings.enabled:
        return ErrorCode.delegation_token_auth_disabled, None
    token = dt.token_for_hmac(c.image.tokens, settings.secret_key, mac)
    if token is None:
        return ErrorCode.delegation_token_not_found, None
    if dt.expired(token, ctx.now_ms):
        return ErrorCode.delegation_token_expired, None
    if not dt.owner_or_renewer(token, ctx.principal):
        return ErrorCode.delegation_token_owner_mismatch, None
    return ErrorCode.none, token


def handle_renew(c: QuorumController, ctx: RequestContext, request: Any) -> Any:
    import dataclasses

    m = codec.response_module(ctx.api_key, ctx.api_version)
    error, token = _find(c, ctx, request.hmac)
    expiry = 0  # an error answer's, as Kafka's response data defaults it
    if token is not None:
        period = c.settings.delegation_tokens.expiry_time_ms
        if _ms(request.renew_period) > 0:
            period = min(period, _ms(request.renew_period))
        expiry = min(token.max_timestamp, ctx.now_ms + period)
        c.commit([dataclasses.replace(token, expiration_timestamp=expiry)], ctx.now_ms)
    return m.RenewDelegationTokenResponse(
        error_code=error, expiry_timestamp=_timestamp(expiry), throttle_time=codec.millis(0)
    )


def handle_expire(c: QuorumController, ctx: RequestContext, request: Any) -> Any:
    import dataclasses

    from refka.metadata.token_records import RemoveDelegationTokenRecord

    m = codec.response_module(ctx.api_key, ctx.api_version)
    error, token = _find(c, ctx, request.hmac)
    expiry = 0
    if token is not None:
        period = _ms(request.expiry_time_period)
        if period < 0:  # expire at once
            expiry = period
            c.commit([RemoveDelegationTokenRecord(token_id=token.token_id)], ctx.now_ms)
        else:
            expiry = min(token.max_timestamp, ctx.now_ms + period)
            c.commit([dataclasses.replace(token, expiration_timestamp=expiry)], ctx.now_ms)
    return m.ExpireDelegationTokenResponse(
        error_code=error, expiry_timestamp=_timestamp(expiry), throttle_time=codec.millis(0)
    )


def _timestamp(ms: int) -> Any:
    """A ``datetime_i64`` value, negative too: "expire at once" answers the period (-1)."""
    import datetime

    return datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.UTC)


def remove_expired(c: QuorumController, now_ms: int) -> None:
    """The expiry check: a ``RemoveDelegationTokenRecord`` for each expired token."""
    from refka.metadata.token_records import RemoveDelegationTokenRecord

    gone = dt.expired_tokens(c.image.tokens.values(), now_ms)
    if gone:
        c.commit([RemoveDelegationTokenRecord(token_id=t) for t in gone], now_ms)
