"""SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC 7677; Kafka's ``ScramSaslServer``, KIP-84).

A credential is what the metadata log stores (``UserScramCredentialRecord``): salt, stored key,
server key and iterations, never the password. :func:`make_credential` derives one from a
salted password as AlterUserScramCredentials sends it (or from a password, for ``refka storage
format --add-scram``).

The server exchange (``ScramServer``) takes the client's first message
``n,[a=authzid],n=user,r=cnonce[,ext=value...]``, answers ``r=cnonce+snonce,s=salt,i=iter``,
takes ``c=biws,r=nonce,p=proof``, checks the proof against the stored key and answers
``v=server-signature``. The ``tokenauth=true`` extension asks for delegation-token credentials
(KIP-48): the username is a token id, the password the token's HMAC in base64
(``refka.security.delegation_token``); the authorization id is then the token's owner, and the
exchange is ``token_authenticated``. An unknown or expired token fails the exchange. The server
nonce comes from the caller (a seeded source), not from a global random.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass

from refka.security.mechanism import SaslFailure, Step

MIN_ITERATIONS = 4096
MAX_ITERATIONS = 16384


class ScramMechanism(enum.IntEnum):
    """Kafka's ``ScramMechanism`` with its wire ids (AlterUserScramCredentials, the records)."""

    UNKNOWN = 0
    SCRAM_SHA_256 = 1
    SCRAM_SHA_512 = 2

    @property
    def mechanism_name(self) -> str:
        return self.name.replace("_", "-")

    @property
    def hash_name(self) -> str:
        return "sha256" if self is ScramMechanism.SCRAM_SHA_256 else "sha512"

    @classmethod
    def from_name(cls, name: str) -> ScramMechanism | None:
        for member in (cls.SCRAM_SHA_256, cls.SCRAM_SHA_512):
            if member.mechanism_name == name:
                return member
        return None


class ScramState(enum.Enum):
    """Where a server exchange is: each client message moves it on; a failure ends it."""

    RECEIVE_CLIENT_FIRST = "receive-client-first"
    RECEIVE_CLIENT_FINAL = "receive-client-final"
    COMPLETE = "complete"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class ScramCredential:
    """A user's stored SCRAM credential for one mechanism."""

    salt: bytes
    stored_key: bytes
    server_key: bytes
    iterations: int


def salted_password(
    mechanism: ScramMechanism, password: str, salt: bytes, iterations: int
) -> bytes:
    """``Hi(password, salt, i)``: PBKDF2 with HMAC of the mechanism's hash."""
    return hashlib.pbkdf2_hmac(mechanism.hash_name, password.encode(), salt, iterations)


def make_credential(
    mechanism: ScramMechanism, salted: bytes, salt: bytes, iterations: int
) -> ScramCredential:
    """The stored credential of a salted password (RFC 5802 section 3)."""
    client_key = _hmac(mechanism, salted, b"Client Key")
    stored_key = hashlib.new(mechanism.hash_name, client_key).digest()
    return ScramCredential(salt, stored_key, _hmac(mechanism, salted, b"Server Key"), iterations)


def _hmac(mechanism: ScramMechanism, key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, mechanism.hash_name).digest()


CredentialLookup = Callable[[str, ScramMechanism], ScramCredential | None]
TokenLookup = Callable[[str, ScramMechanism], tuple[str, ScramCredential] | None]
"""token id -> (owner principal, credential) of a live delegation token, or None."""


def token_credential(mechanism: ScramMechanism, token_id: str, password: str) -> ScramCredential:
    """The SCRAM credential of a token (its password is its HMAC in base64). Kafka salts it
    at random with the mechanism's minimum iterations; here the salt is derived from the
    token id, so that every node answers alike without storing it."""
    salt = hashlib.sha256(token_id.encode()).digest()[:16]
    salted = salted_password(mechanism, password, salt, MIN_ITERATIONS)
    return make_credential(mechanism, salted, salt, MIN_ITERATIONS)


class ScramServer:
    """One SCRAM exchange: client-first, then client-final, then complete."""

    def __init__(
        self,
        mechanism: ScramMechanism,
        credentials: CredentialLookup,
        nonce: Callable[[], str],
        tokens: TokenLookup | None = None,
    ) -> None:
        self.scram = mechanism
        self.mechanism = mechanism.mechanism_name
        self._credentials = credentials
        self._tokens = tokens
        self.token_authenticated = False
        self._nonce = nonce
        self.complete = False
        self.authorization_id: str | None = None
        self._state = ScramState.RECEIVE_CLIENT_FIRST
        self._credential: ScramCredential | None = None
        self._auth_prefix = b""  # client-first-bare "," server-first
        self._nonce_full = ""
        self._user = ""

    def evaluate(self, token: bytes) -> Step:
        if self._state is ScramState.RECEIVE_CLIENT_FIRST:
            return self._client_first(token.decode("utf-8", errors="replace"))
        if self._state is ScramState.RECEIVE_CLIENT_FINAL:
            return self._client_final(token.decode("utf-8", errors="replace"))
        raise SaslFailure(f"Unexpected SASL request in state {self._state.name}")

    def _client_first(self, message: str) -> Step:
        self._state = ScramState.FAILED
        gs2, _, rest = message.partition(",")
        authzid, _, bare = rest.partition(",")
        if gs2 != "n" or (authzid and not authzid.startswith("a=")):
            raise SaslFailure(f"Invalid SCRAM client first message format: {message}")
        fields = bare.split(",")
        if len(fields) < 2 or not fields[0].startswith("n=") or not fields[1].startswith("r="):
            raise SaslFailure(f"Invalid SCRAM client first message format: {message}")
        user = _sasl_name(fields[0][2:])
        extensions = dict(f.partition("=")[::2] for f in fields[2:])
        owner = None
        if extensions.get("tokenauth", "").lower() == "true":
            found = None if self._tokens is None else self._tokens(user, self.scram)
            if found is None:
                raise SaslFailure("Token Authentication failed: Invalid tokenId : " + user)
            owner, credential = found
        if authzid and _sasl_name(authzid[2:]) != user:
            raise SaslFailure(
                "Authentication failed: Client requested an authorization id that is different "
                "from username",
                client=True,
            )
        if owner is None:
            stored = self._credentials(user, self.scram)
            if stored is None:
                raise SaslFailure("Authentication failed: Invalid user credentials")
            credential = stored
        self._user, self._credential = user, credential
        if owner is not None:  # the connection acts as the token's owner
            self._user, self.token_authenticated = owner.partition(":")[2], True
        self._nonce_full = fields[1][2:] + self._nonce()
        salt = base64.b64encode(credential.salt).decode()
        server_first = f"r={self._nonce_full},s={salt},i={credential.iterations}"
        self._auth_prefix = f"{bare},{server_first}".encode()
        self._state = ScramState.RECEIVE_CLIENT_FINAL
        return Step(server_first.encode())

    def _client_final(self, message: str) -> Step:
        self._state = ScramState.FAILED
        without_proof, _, proof_b64 = message.rpartition(",p=")
        fields = without_proof.split(",")
        if len(fields) < 2 or not fields[0].startswith("c=") or not fields[1].startswith("r="):
            raise SaslFailure(f"Invalid SCRAM client final message format: {message}")
        if fields[1][2:] != self._nonce_full:
            raise SaslFailure("Invalid client nonce in the final client message.")
        credential = self._credential
        assert credential is not None
        auth_message = self._auth_prefix + b"," + without_proof.encode()
        signature = _hmac(self.scram, credential.stored_key, auth_message)
        try:
            proof = base64.b64decode(proof_b64, validate=True)
        except ValueError:
            raise SaslFailure("Invalid client credentials") from None
        if len(proof) != len(signature):
            raise SaslFailure("Invalid client credentials")
        client_key = bytes(a ^ b for a, b in zip(proof, signature, strict=True))
        stored = hashlib.new(self.scram.hash_name, client_key).digest()
        if not hmac.compare_digest(stored, credential.stored_key):
            raise SaslFailure("Invalid client credentials")
        server_signature = _hmac(self.scram, credential.server_key, auth_message)
        self.authorization_id = self._user
        self.complete = True
        self._state = ScramState.COMPLETE
        return Step(b"v=" + base64.b64encode(server_signature), done=True)


def _sasl_name(name: str) -> str:
    """RFC 5802's saslname: ``=2C`` is a comma, ``=3D`` an equals sign."""
    return name.replace("=2C", ",").replace("=3D", "=")
