"""Envelope (KIP-590) on the controller: a request a broker forwards with its client's principal.

The Envelope carries the client's request (header and body, as the client sent it), its
principal as ``DefaultPrincipalData`` and its address. The controller serves the inner request
as that principal and answers with the inner response (header and body) in an Envelope
response. refka's brokers envelope only the delegation token APIs (the token's owner and
requester are the client's principal); an Envelope around any other API is answered
INVALID_REQUEST, as is one whose inner request cannot be read.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from kio.schema.errors import ErrorCode

from refka.core.context import ANONYMOUS, RequestContext
from refka.protocol import codec, framing

if TYPE_CHECKING:
    from refka.controller.quorum_controller import QuorumController

ENVELOPE = 58
ENVELOPED = frozenset({38, 39, 40})  # Create/Renew/ExpireDelegationToken


def principal_data(principal: str, token_authenticated: bool = False) -> bytes:
    """``DefaultPrincipalData`` (v0) of ``principal`` ("User:alice"), as an Envelope holds it."""
    from kio.schema.default_principal_data.v0.data import DefaultPrincipalData

    kind, _, name = principal.partition(":")
    data = DefaultPrincipalData(type_=kind, name=name, token_authenticated=token_authenticated)
    return (0).to_bytes(2, "big") + codec.encode(data)  # version prefix, as Kafka's serde


def read_principal(data: bytes | None) -> str:
    from kio.schema.default_principal_data.v0.data import DefaultPrincipalData

    if not data or len(data) < 2:
        return ANONYMOUS
    found, _ = codec.decode(DefaultPrincipalData, data, 2)
    return f"{found.type_}:{found.name}"


def handle_envelope(c: QuorumController, ctx: RequestContext, request: Any) -> Any:
    m = codec.response_module(ENVELOPE, ctx.api_version)
    data = request.request_data
    try:
        header, offset = framing.parse_request_header(data)
        api = c.apis.get(header.api_key)
        if header.api_key not in ENVELOPED or api is None or not api.supports(header.api_version):
            return m.EnvelopeResponse(response_data=None, error_code=ErrorCode.invalid_request)
        inner, _ = codec.decode(api.request_class(header.api_version), data, offset)
        principal = read_principal(request.request_principal)
    except Exception:  # a broker sent bytes that are not a request: its error, not ours
        return m.EnvelopeResponse(response_data=None, error_code=ErrorCode.invalid_request)
    inner_ctx = dataclasses.replace(
        ctx,
        api_key=header.api_key,
        api_version=header.api_version,
        correlation_id=header.correlation_id,
        client_id=header.client_id,
        principal=principal,
    )
    body = codec.encode(api.handle(inner_ctx, inner))
    flexible = codec.is_flexible(header.api_key, header.api_version)
    head = codec.response_header(header.correlation_id, flexible, len(body))[4:]
    return m.EnvelopeResponse(response_data=head + body, error_code=ErrorCode.none)
