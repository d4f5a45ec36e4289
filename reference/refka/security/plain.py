"""SASL/PLAIN on the server side (RFC 4616; Kafka's ``PlainSaslServer``, KIP-43).

The client's one message is ``authzid NUL authcid NUL passwd``. The users are the
``user_<name>="<password>"`` options of the listener's ``PlainLoginModule`` JAAS entry
(Kafka's ``PlainServerCallbackHandler``). Failures carry Kafka's messages, which reach the
client in SaslAuthenticate's ``error_message``.
"""

from __future__ import annotations

from collections.abc import Mapping

from refka.security.mechanism import SaslFailure, Step

PLAIN = "PLAIN"


class PlainServer:
    """One PLAIN exchange: a single client message, then complete or failed."""

    mechanism = PLAIN

    def __init__(self, users: Mapping[str, str]) -> None:
        self._users = users
        self.complete = False
        self.authorization_id: str | None = None

    def evaluate(self, token: bytes) -> Step:
        """Check the client's ``authzid\\0authcid\\0passwd``; the answer is empty."""
        parts = token.decode("utf-8", errors="replace").split("\x00")
        if len(parts) != 3:
            raise SaslFailure(f"Invalid SASL/PLAIN response: expected 3 tokens, got {len(parts)}")
        authzid, username, password = parts
        if not username:
            raise SaslFailure("Authentication failed: username not specified", client=True)
        if not password:
            raise SaslFailure("Authentication failed: password not specified", client=True)
        import hmac  # not at the broker's start (it imports hashlib)

        expected = self._users.get(username)
        if expected is None or not hmac.compare_digest(expected.encode(), password.encode()):
            raise SaslFailure("Authentication failed: Invalid username or password", client=True)
        if authzid and authzid != username:
            raise SaslFailure(
                "Authentication failed: Client requested an authorization id that is different "
                "from username",
                client=True,
            )
        self.authorization_id = username
        self.complete = True
        return Step(b"", done=True)


def plain_users(options: Mapping[str, str]) -> dict[str, str]:
    """The ``user_<name>`` options of a ``PlainLoginModule`` entry, as name -> password."""
    return {k[len("user_") :]: v for k, v in options.items() if k.startswith("user_")}
