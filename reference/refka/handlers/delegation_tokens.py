"""The delegation token APIs on the broker (KIP-48, KIP-373; Kafka's ``KafkaApis``).

CreateDelegationToken, RenewDelegationToken and ExpireDelegationToken change cluster metadata:
the broker refuses what Kafka's broker refuses itself, then forwards the request in an Envelope
carrying the client's principal (``ForwardingManager.forward_enveloped``); the controller
decides the rest (``refka.controller.token_control``). DescribeDelegationToken is answered from
the broker's metadata image.

- A connection that may not request tokens (PLAINTEXT, one-way TLS, or authenticated with a
  token) gets DELEGATION_TOKEN_REQUEST_NOT_ALLOWED on all four APIs.
- A token for another owner (v3) needs CREATE_TOKENS on that owner's USER resource, else
  DELEGATION_TOKEN_AUTHORIZATION_FAILED; a renewer that is not a User: INVALID_PRINCIPAL_TYPE.
- Describe without ``delegation.token.secret.key``: DELEGATION_TOKEN_AUTH_DISABLED; it lists
  the tokens the principal owns, renews or requested, and those it may DESCRIBE
  (DELEGATION_TOKEN resource) or DESCRIBE_TOKENS (the owner's USER resource), limited to the
  requested owners (a null list: all; an empty list: none).
"""

from __future__ import annotations

import datetime
from typing import Any

from kio.schema.errors import ErrorCode

from refka.core.context import RequestContext
from refka.core.topics import Topics
from refka.protocol import codec
from refka.security import delegation_token as dt
from refka.security.acl import AclOperation, ResourceType
from refka.security.api_acls import allowed

CREATE, RENEW, EXPIRE = 38, 39, 40


def _error_answer(ctx: RequestContext, request: Any, error: ErrorCode) -> Any:
    """The broker's refusal: Kafka's ``prepareResponse``, every timestamp -1."""
    m = codec.response_module(ctx.api_key, ctx.api_version)
    zero = codec.millis(0)
    none = datetime.datetime.fromtimestamp(-0.001, tz=datetime.UTC)  # -1
    if ctx.api_key != CREATE:
        cls = m.RenewDelegationTokenResponse if ctx.api_key == RENEW else None
        cls = cls or m.ExpireDelegationTokenResponse
        return cls(error_code=error, expiry_timestamp=none, throttle_time=zero)
    owner = _owner(ctx, request)
    owner_type, owner_name = dt.principal_name(owner)
    requester_type, requester_name = dt.principal_name(ctx.principal)
    return codec.build(  # v1-v2 have no requester fields
        m.CreateDelegationTokenResponse,
        error_code=error,
        principal_type=owner_type,
        principal_name=owner_name,
        token_requester_principal_type=requester_type,
        token_requester_principal_name=requester_name,
        issue_timestamp=none,
        expiry_timestamp=none,
        max_timestamp=none,
        token_id="",
        hmac=b"",
        throttle_time=zero,
    )


def _owner(ctx: RequestContext, request: Any) -> str:
    if getattr(request, "owner_principal_name", None):
        return f"{request.owner_principal_type}:{request.owner_principal_name}"
    return ctx.principal


def handle_token_change(topics: Topics, ctx: RequestContext, request: Any) -> Any:
    """Create, Renew or ExpireDelegationToken: the broker's checks, then the controller."""
    if not dt.may_request_tokens(ctx.principal, ctx.token_authenticated):
        return _error_answer(ctx, request, ErrorCode.delegation_token_request_not_allowed)
    if ctx.api_key == CREATE:
        owner = _owner(ctx, request)
        if owner != ctx.principal and not allowed(ctx, ResourceType.USER, owner):
            return _error_answer(ctx, request, ErrorCode.delegation_token_authorization_failed)
        if any(r.principal_type != "User" for r in request.renewers):
            return _error_answer(ctx, request, ErrorCode.invalid_principal_type)
    timed_out = _error_answer(ctx, request, ErrorCode.request_timed_out)
    return topics.forwarding.forward_enveloped(ctx, request, timed_out)


def handle_describe(topics: Topics, ctx: RequestContext, request: Any) -> Any:
    m = codec.response_module(ctx.api_key, ctx.api_version)
    settings = dt.TokenSettings.from_config(topics.config)

    def answer(error: ErrorCode, tokens: tuple[Any, ...] = ()) -> Any:
        return m.DescribeDelegationTokenResponse(
            error_code=error, tokens=tokens, throttle_time=codec.millis(0)
        )

    if not dt.may_request_tokens(ctx.principal, ctx.token_authenticated):
        return answer(ErrorCode.delegation_token_request_not_allowed)
    if settings.secret_key is None or not settings.enabled:
        return answer(ErrorCode.delegation_token_auth_disabled)
    if request.owners is not None and not request.owners:
        return answer(ErrorCode.none)
    owners = None
    if request.owners is not None:
        owners = {f"{o.principal_type}:{o.principal_name}" for o in request.owners}
    found = []
    for token in sorted(topics.image.tokens.values(), key=lambda t: t.issue_timestamp):
        if owners is not None and not any(dt.owner_or_renewer(token, o) for o in owners):
            continue
        if _may_describe(ctx, token):
            found.append(_described(m, token, settings.secret_key))
    return answer(ErrorCode.none, tuple(found))


def _may_describe(ctx: RequestContext, token: Any) -> bool:
    """Kafka's ``DelegationTokenManager.filterToken`` for the requester."""
    if dt.owner_or_renewer(token, ctx.principal) or token.requester == ctx.principal:
        return True
    if allowed(ctx, ResourceType.DELEGATION_TOKEN, token.token_id):
        return True
    return allowed(ctx, ResourceType.USER, token.owner, op=AclOperation.DESCRIBE_TOKENS)


def _described(m: Any, token: Any, secret_key: str) -> Any:
    owner_type, owner_name = dt.principal_name(token.owner)
    requester_type, requester_name = dt.principal_name(token.requester)
    renewers = tuple(
        m.DescribedDelegationTokenRenewer(principal_type=kind, principal_name=name)
        for kind, name in map(dt.principal_name, token.renewers)
    )
    return codec.build(
        m.DescribedDelegationToken,
        principal_type=owner_type,
        principal_name=owner_name,
        token_requester_principal_type=requester_type,
        token_requester_principal_name=requester_name,
        issue_timestamp=token.issue_timestamp,  # plain int64 here, unlike the other three APIs
        expiry_timestamp=token.expiration_timestamp,
        max_timestamp=token.max_timestamp,
        token_id=token.token_id,
        hmac=dt.token_hmac(secret_key, token.token_id),
        renewers=renewers,
    )
