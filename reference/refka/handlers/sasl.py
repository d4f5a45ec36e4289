"""SaslHandshake (v0-1, KIP-43/KIP-152) and SaslAuthenticate (v0-2, KIP-152/KIP-368).

Both drive the connection's session in :class:`~refka.security.authenticator.SaslAuthenticator`.
SaslAuthenticate v1+ carries ``session_lifetime_ms`` (``connections.max.reauth.ms``, 0: none).
After a handshake v0 the tokens come as raw size-prefixed frames, without SaslAuthenticate
framing (KIP-43's original exchange); the dispatcher hands them to the session.
"""

from __future__ import annotations

from typing import Any

from kio.schema.errors import ErrorCode

from refka.core.context import RequestContext
from refka.protocol import codec
from refka.security.authenticator import SaslAuthenticator

HANDSHAKE_KEY = 17
AUTHENTICATE_KEY = 36


def handle_sasl_handshake(sasl: SaslAuthenticator, ctx: RequestContext, request: Any) -> Any:
    answer = sasl.handshake(ctx.connection_id, request.mechanism, ctx.api_version, ctx.now_ms)
    m = codec.response_module(HANDSHAKE_KEY, ctx.api_version)
    return m.SaslHandshakeResponse(
        error_code=ErrorCode(answer.error_code), mechanisms=answer.mechanisms
    )


def handle_sasl_authenticate(sasl: SaslAuthenticator, ctx: RequestContext, request: Any) -> Any:
    answer = sasl.authenticate(ctx.connection_id, bytes(request.auth_bytes), ctx.now_ms)
    m = codec.response_module(AUTHENTICATE_KEY, ctx.api_version)
    return codec.build(
        m.SaslAuthenticateResponse,
        error_code=ErrorCode(answer.error_code),
        error_message=answer.error_message,
        auth_bytes=answer.token,
        session_lifetime=codec.millis(answer.session_lifetime_ms),
    )
