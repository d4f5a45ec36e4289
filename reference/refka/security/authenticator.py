"""SASL on a core's listeners: which listeners authenticate, with which mechanisms and users,
and each connection's :class:`~refka.security.session.SaslSession` (Kafka's
``ChannelBuilders``/``SaslChannelBuilder`` + ``SaslServerAuthenticator``).

The dispatcher asks :meth:`SaslAuthenticator.admit` before it serves a request (a refusal
closes the connection) and :meth:`closing` after (a failed exchange is answered, then closed);
the SaslHandshake and SaslAuthenticate handlers drive the sessions. A connection on a listener
that is not SASL has no session: SaslHandshake and SaslAuthenticate there answer
ILLEGAL_SASL_STATE, as Kafka's ``KafkaApis`` does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the sessions and mechanisms load with the first SASL exchange (issue 15)
    from refka.core.dispatch import Refusal
    from refka.security.mechanism import SaslServer
    from refka.security.scram import CredentialLookup
    from refka.security.session import AuthenticateAnswer, HandshakeAnswer, SaslSession

SERVED_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


@dataclass(frozen=True, slots=True)
class ListenerSasl:
    """A SASL listener's settings: ``sasl.enabled.mechanisms``, PLAIN's JAAS users and
    ``connections.max.reauth.ms``."""

    mechanisms: tuple[str, ...]
    plain_users: dict[str, str] = field(default_factory=dict)
    max_reauth_ms: int = 0


class SaslAuthenticator:
    """The SASL sessions of one core's connections."""

    def __init__(
        self,
        listeners: dict[str, ListenerSasl],
        credentials: CredentialLookup,
        nonce: Callable[[], str],
        failed_close_delay_ms: int = 0,
        tokens: Callable[[str, Any, int], Any] | None = None,
    ) -> None:
        """``tokens(token_id, mechanism, now_ms)``: the (owner, SCRAM credential) of a live
        delegation token, or None (``refka.security.scram.TokenLookup`` at a time)."""
        self.listeners = listeners
        self._credentials = credentials
        self._nonce = nonce
        self._tokens = tokens
        self.failed_close_delay_ms = (
            failed_close_delay_ms  # connection.failed.authentication.delay.ms
        )
        self.sessions: dict[int, SaslSession] = {}
        self._closing: dict[int, str] = {}
        self._delayed: dict[int, tuple[int, str]] = {}  # connection -> (close at ms, reason)
        # (connection, principal, token-authenticated): Dispatcher.authenticate
        self.on_authenticated: Callable[[int, str, bool], None] = lambda c, p, t: None
        self.now_ms = 0  # the time of the latest exchange step (a token's expiry is checked)

    def on_connect(self, connection_id: int, listener: str) -> None:
        settings = self.listeners.get(listener.upper())
        if settings is not None:
            from refka.security.session import SaslSession

            self.sessions[connection_id] = SaslSession(
                settings.mechanisms,
                lambda mechanism: self._server(settings, mechanism),
                settings.max_reauth_ms,
            )

    def on_disconnect(self, connection_id: int) -> None:
        self.sessions.pop(connection_id, None)
        self._closing.pop(connection_id, None)
        self._delayed.pop(connection_id, None)

    def admit(self, connection_id: int, api_key: int, now_ms: int) -> Refusal | None:
        session = self.sessions.get(connection_id)
        return None if session is None else session.admit(api_key, now_ms)

    def closing(self, connection_id: int) -> str | None:
        """Why the connection closes once its answer is out (a failed exchange), or None; with
        ``connection.failed.authentication.delay.ms`` the close waits (:meth:`due_closes`)."""
        return self._closing.pop(connection_id, None)

    def due_closes(self, now_ms: int) -> list[tuple[int, str]]:
        """The failed connections whose close delay (KIP-306) is over: (connection, reason)."""
        due = [(c, reason) for c, (at_ms, reason) in self._delayed.items() if at_ms <= now_ms]
        for connection_id, _ in due:
            del self._delayed[connection_id]
        return due

    def next_deadline_ms(self) -> int | None:
        return min((at_ms for at_ms, _ in self._delayed.values()), default=None)

    def _fail(self, connection_id: int, reason: str, now_ms: int) -> None:
        if self.failed_close_delay_ms > 0:
            self._delayed[connection_id] = (now_ms + self.failed_close_delay_ms, reason)
        else:
            self._closing[connection_id] = reason

    def expects_raw(self, connection_id: int) -> bool:
        """The next frame is a raw SASL token (after SaslHandshake v0), not a request."""
        session = self.sessions.get(connection_id)
        return session is not None and session.raw_tokens

    def raw_token(self, connection_id: int, token: bytes, now_ms: int) -> bytes | None:
        """The server's raw token, or None: authentication failed (close the connection)."""
        session = self.sessions[connection_id]
        self.now_ms = now_ms
        answer = session.raw_token(token, now_ms)
        if answer is not None and not session.raw_tokens and session.principal is not None:
            self.on_authenticated(connection_id, session.principal, session.token_authenticated)
        return answer

    def handshake(
        self, connection_id: int, mechanism: str, version: int = 1, now_ms: int = 0
    ) -> HandshakeAnswer:
        from refka.security.session import ILLEGAL_SASL_STATE, HandshakeAnswer

        session = self.sessions.get(connection_id)
        if session is None:
            return HandshakeAnswer(ILLEGAL_SASL_STATE, ())
        answer = session.handshake(mechanism, version)
        if answer.close:
            self._fail(connection_id, f"SASL handshake failed: mechanism {mechanism}", now_ms)
        return answer

    def authenticate(self, connection_id: int, token: bytes, now_ms: int) -> AuthenticateAnswer:
        from refka.security.session import ILLEGAL_SASL_STATE, AuthenticateAnswer

        session = self.sessions.get(connection_id)
        if session is None:
            message = "SaslAuthenticate request received after successful authentication"
            return AuthenticateAnswer(ILLEGAL_SASL_STATE, message, b"")
        self.now_ms = now_ms
        answer = session.authenticate(token, now_ms)
        if answer.close:
            reason = f"SASL authentication failed: {answer.error_message}"
            self._fail(connection_id, reason, now_ms)
        elif answer.principal is not None:
            self.on_authenticated(connection_id, answer.principal, session.token_authenticated)
        return answer

    def _server(self, settings: ListenerSasl, mechanism: str) -> SaslServer:
        from refka.security.plain import PLAIN, PlainServer

        if mechanism == PLAIN:
            return PlainServer(settings.plain_users)
        from refka.security.scram import ScramMechanism, ScramServer  # hashlib: not at start

        scram = ScramMechanism.from_name(mechanism)
        assert scram is not None, mechanism  # only SERVED_MECHANISMS are enabled
        lookup = self._tokens
        if lookup is None:
            return ScramServer(scram, self._credentials, self._nonce)
        return ScramServer(
            scram,
            self._credentials,
            self._nonce,
            lambda token_id, mechanism: lookup(token_id, mechanism, self.now_ms),
        )
