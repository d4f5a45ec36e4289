"""The client side of SASL for a node's own outbound connections (Kafka's
``SaslClientAuthenticator``): a broker authenticating to another broker's inter-broker listener
(``sasl.mechanism.inter.broker.protocol``) or to the controller
(``sasl.mechanism.controller.protocol``), with the ``username``/``password`` of that listener's
JAAS entry, as Kafka's login modules take them.

Sans-I/O: :meth:`SaslClient.start` gives the first request frame (SaslHandshake v1),
:meth:`SaslClient.on_frame` takes each response frame and gives the next request frames; once
``done``, the connection carries the core's requests. A refusal raises :class:`SaslFailure`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

from refka.protocol import codec
from refka.security.mechanism import SaslFailure
from refka.security.scram import ScramMechanism, salted_password

HANDSHAKE_VERSION, AUTHENTICATE_VERSION = 1, 2


@dataclass(frozen=True, slots=True)
class ClientCredentials:
    """What an outbound connection authenticates with."""

    mechanism: str
    username: str
    password: str


class SaslClient:
    """One outbound connection's SASL exchange."""

    def __init__(self, credentials: ClientCredentials, nonce: str, client_id: str) -> None:
        self.credentials = credentials
        self.done = False
        self._nonce = nonce
        self._client_id = client_id
        self._correlation_id = 0
        self._step = "handshake"
        self._scram = ScramMechanism.from_name(credentials.mechanism)
        self._client_first_bare = ""
        self._auth_message = b""
        self._salted = b""

    def start(self) -> bytes:
        m = codec.request_module(17, HANDSHAKE_VERSION)
        return self._frame(m.SaslHandshakeRequest(mechanism=self.credentials.mechanism))

    def on_frame(self, frame: bytes | memoryview) -> list[bytes]:
        """The frames to send after this response (none once authenticated)."""
        if self._step == "handshake":
            m = codec.response_module(17, HANDSHAKE_VERSION)
            answer = codec.decode_response(m.SaslHandshakeResponse, frame)
            if answer.error_code != 0:
                raise SaslFailure(
                    f"SaslHandshake failed ({answer.error_code}); enabled: {answer.mechanisms}"
                )
            self._step = "first"
            return [self._authenticate(self._first_token())]
        m = codec.response_module(36, AUTHENTICATE_VERSION)
        answer = codec.decode_response(m.SaslAuthenticateResponse, frame)
        if answer.error_code != 0:
            raise SaslFailure(answer.error_message or f"error {answer.error_code}")
        if self._scram is None or self._step == "final":
            if self._scram is not None:
                self._check_server_final(bytes(answer.auth_bytes))
            self.done = True
            return []
        self._step = "final"
        return [self._authenticate(self._client_final(bytes(answer.auth_bytes)))]

    def _first_token(self) -> bytes:
        user, password = self.credentials.username, self.credentials.password
        if self._scram is None:
            return f"\x00{user}\x00{password}".encode()
        name = user.replace("=", "=3D").replace(",", "=2C")
        self._client_first_bare = f"n={name},r={self._nonce}"
        return f"n,,{self._client_first_bare}".encode()

    def _client_final(self, server_first: bytes) -> bytes:
        scram = self._scram
        assert scram is not None
        text = server_first.decode()
        fields = dict(part.split("=", 1) for part in text.split(","))
        if not fields.get("r", "").startswith(self._nonce):
            raise SaslFailure("Invalid server nonce: does not start with client nonce")
        salt = base64.b64decode(fields["s"])
        self._salted = salted_password(scram, self.credentials.password, salt, int(fields["i"]))
        without_proof = f"c=biws,r={fields['r']}"
        self._auth_message = f"{self._client_first_bare},{text},{without_proof}".encode()
        h = scram.hash_name
        client_key = hmac.new(self._salted, b"Client Key", h).digest()
        stored_key = hashlib.new(h, client_key).digest()
        signature = hmac.new(stored_key, self._auth_message, h).digest()
        proof = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
        return f"{without_proof},p={base64.b64encode(proof).decode()}".encode()

    def _check_server_final(self, token: bytes) -> None:
        scram = self._scram
        assert scram is not None
        server_key = hmac.new(self._salted, b"Server Key", scram.hash_name).digest()
        expected = hmac.new(server_key, self._auth_message, scram.hash_name).digest()
        if token != b"v=" + base64.b64encode(expected):
            raise SaslFailure("Invalid server signature in the SCRAM server final message")

    def _authenticate(self, token: bytes) -> bytes:
        m = codec.request_module(36, AUTHENTICATE_VERSION)
        return self._frame(m.SaslAuthenticateRequest(auth_bytes=token))

    def _frame(self, request: object) -> bytes:
        self._correlation_id += 1
        return codec.request_frame(request, self._correlation_id, self._client_id)  # type: ignore[arg-type]
