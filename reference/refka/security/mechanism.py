"""What every server-side SASL mechanism shares: a step's answer and a failure.

A mechanism is a small state machine fed the client's tokens (``evaluate``); each step returns
the server's token, and ``done`` once the client is authenticated (``authorization_id`` then
names it). A failed step raises :class:`SaslFailure`; ``client=True`` marks Kafka's
``SaslAuthenticationException`` whose message the client is shown; any other failure is shown
as Kafka's generic "Authentication failed during authentication due to invalid credentials
with SASL mechanism <M>".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class SaslFailure(Exception):
    """The client failed to authenticate."""

    def __init__(self, message: str, client: bool = False) -> None:
        super().__init__(message)
        self.client = client  # the message is the client's to read (SaslAuthenticationException)


@dataclass(frozen=True, slots=True)
class Step:
    """The server's token for one client token; ``done`` once authenticated."""

    token: bytes
    done: bool = False


class SaslServer(Protocol):
    """A server-side mechanism (Java's ``javax.security.sasl.SaslServer``)."""

    mechanism: str
    complete: bool
    authorization_id: str | None

    def evaluate(self, token: bytes) -> Step: ...
