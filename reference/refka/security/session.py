"""One connection's SASL state (Kafka's ``SaslServerAuthenticator``, KIP-43, KIP-152, KIP-368).

States and their legal moves (one method per event; an illegal move fails the connection):

- ``HANDSHAKE``: ApiVersions may come first; SaslHandshake with an enabled mechanism ->
  ``AUTHENTICATE`` (else UNSUPPORTED_SASL_MECHANISM, listing the enabled ones, then close);
  any other request closes the connection ("Unexpected Kafka request of type X during SASL
  handshake").
- ``AUTHENTICATE``: SaslAuthenticate tokens go to the mechanism (after a SaslHandshake v0 they
  come as raw size-prefixed frames instead, KIP-43's original framing: :meth:`raw_token`);
  done -> ``COMPLETE`` with the principal ``User:<authorization id>``; a failure answers
  SASL_AUTHENTICATION_FAILED and closes. Any other request closes the connection.
- ``COMPLETE``: every API is served while the session lives. With ``connections.max.reauth.ms``
  > 0 the session expires that long after authentication; a request after that, other than a
  SaslHandshake that starts re-authentication, closes the connection (KIP-368). A SaslHandshake
  (same mechanism) starts re-authentication -> ``REAUTHENTICATE``, where requests are still
  served as the old principal until SaslAuthenticate completes; the principal may not change.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

from refka.core.dispatch import Refusal
from refka.security.mechanism import SaslFailure, SaslServer

SASL_HANDSHAKE = 17
SASL_AUTHENTICATE = 36
API_VERSIONS = 18
NONE = 0
UNSUPPORTED_SASL_MECHANISM = 33
ILLEGAL_SASL_STATE = 34
SASL_AUTHENTICATION_FAILED = 58


class State(enum.Enum):
    HANDSHAKE = "handshake"
    AUTHENTICATE = "authenticate"
    COMPLETE = "complete"
    REAUTHENTICATE = "reauthenticate"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class HandshakeAnswer:
    """SaslHandshake's answer; ``close``: close the connection once it is sent."""

    error_code: int
    mechanisms: tuple[str, ...]
    close: bool = False


@dataclass(frozen=True, slots=True)
class AuthenticateAnswer:
    """SaslAuthenticate's answer; ``close``: close the connection once it is sent."""

    error_code: int
    error_message: str | None  # "" on success, as Kafka's SaslAuthenticateResponseData
    token: bytes
    session_lifetime_ms: int = 0
    principal: str | None = None  # set once authenticated
    close: bool = False


class SaslSession:
    """The SASL state of one connection on a SASL listener."""

    def __init__(
        self,
        mechanisms: tuple[str, ...],
        new_server: Callable[[str], SaslServer],
        max_reauth_ms: int,
    ) -> None:
        self.mechanisms = mechanisms
        self._new_server = new_server
        self.max_reauth_ms = max_reauth_ms
        self.state = State.HANDSHAKE
        self.mechanism: str | None = None
        self.principal: str | None = None
        self.token_authenticated = False  # with a delegation token (SCRAM tokenauth, KIP-48)
        self.expires_at_ms: int | None = None
        self._server: SaslServer | None = None
        self.raw_tokens = False  # after SaslHandshake v0: raw frames until authenticated

    def admit(self, api_key: int, now_ms: int) -> Refusal | None:
        """Why a request of ``api_key`` closes the connection now, or None to serve it. During
        authentication Kafka first answers such a request with ILLEGAL_SASL_STATE."""
        state = self.state
        if state is State.HANDSHAKE:
            if api_key in (API_VERSIONS, SASL_HANDSHAKE):
                return None
            return Refusal(f"Unexpected Kafka request of type {api_key} during SASL handshake")
        if state is State.AUTHENTICATE:
            if api_key == SASL_AUTHENTICATE:
                return None
            reason = f"Unexpected Kafka request of type {api_key} during SASL authentication"
            return Refusal(reason, ILLEGAL_SASL_STATE)
        if state is State.FAILED:
            return Refusal("SASL authentication failed")
        if api_key == SASL_HANDSHAKE or (
            state is State.REAUTHENTICATE and api_key == SASL_AUTHENTICATE
        ):
            return None
        if self.expires_at_ms is not None and now_ms >= self.expires_at_ms:
            return Refusal(
                "the SASL session expired (connections.max.reauth.ms) without re-authentication"
            )
        return None

    def handshake(self, mechanism: str, version: int = 1) -> HandshakeAnswer:
        """SaslHandshake: choose ``mechanism`` (or start re-authentication with it); at v0 the
        tokens follow as raw frames."""
        if mechanism not in self.mechanisms:
            self.state = State.FAILED
            return HandshakeAnswer(UNSUPPORTED_SASL_MECHANISM, self.mechanisms, close=True)
        if self.state is State.HANDSHAKE:
            self.state = State.AUTHENTICATE
        elif self.state in (State.COMPLETE, State.REAUTHENTICATE):
            if mechanism != self.mechanism:
                self.state = State.FAILED
                return HandshakeAnswer(ILLEGAL_SASL_STATE, self.mechanisms, close=True)
            self.state = State.REAUTHENTICATE
        else:
            return HandshakeAnswer(ILLEGAL_SASL_STATE, self.mechanisms, close=True)
        self.mechanism = mechanism
        self._server = self._new_server(mechanism)
        self.raw_tokens = version == 0
        return HandshakeAnswer(NONE, self.mechanisms)

    def raw_token(self, token: bytes, now_ms: int) -> bytes | None:
        """One raw token after SaslHandshake v0: the server's raw token, or None when the
        exchange failed (no framing carries an error: the connection is closed)."""
        answer = self.authenticate(token, now_ms)
        if answer.error_code != NONE:
            return None
        if self.state is State.COMPLETE:
            self.raw_tokens = False
        return answer.token

    def authenticate(self, token: bytes, now_ms: int) -> AuthenticateAnswer:
        """SaslAuthenticate: one token of the exchange."""
        server = self._server
        if self.state not in (State.AUTHENTICATE, State.REAUTHENTICATE) or server is None:
            message = "SaslAuthenticate request received after successful authentication"
            if self.state is State.HANDSHAKE:
                message = "Unexpected SaslAuthenticate request before SaslHandshake"
            return AuthenticateAnswer(ILLEGAL_SASL_STATE, message, b"")
        try:
            step = server.evaluate(token)
        except SaslFailure as failure:
            return self._fail(failure, server.mechanism)
        if not step.done:
            return AuthenticateAnswer(NONE, "", step.token)
        principal = f"User:{server.authorization_id}"
        if self.state is State.REAUTHENTICATE and principal != self.principal:
            message = (
                "Cannot change principals during re-authentication from "
                f"{self.principal}: {principal}"
            )
            return self._fail(SaslFailure(message, client=True), server.mechanism)
        self.principal, self.state, self._server = principal, State.COMPLETE, None
        self.token_authenticated = getattr(server, "token_authenticated", False)
        lifetime_ms = self.max_reauth_ms
        self.expires_at_ms = now_ms + lifetime_ms if lifetime_ms > 0 else None
        return AuthenticateAnswer(NONE, "", step.token, lifetime_ms, principal)

    def _fail(self, failure: SaslFailure, mechanism: str) -> AuthenticateAnswer:
        self.state, self._server = State.FAILED, None
        message = (
            str(failure)
            if failure.client
            else "Authentication failed during authentication due to invalid credentials with "
            f"SASL mechanism {mechanism}"
        )
        return AuthenticateAnswer(SASL_AUTHENTICATION_FAILED, message, b"", close=True)
