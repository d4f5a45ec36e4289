"""SCRAM with ``tokenauth=true`` on the sans-I/O server (KIP-48): the token id and its HMAC log
in as the token's owner, marked token-authenticated; an expired token is refused even before
the controller's expiry check removes it (``refka.core.broker._live_token``)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from types import MappingProxyType
from typing import Any

import pytest
from refka.core.broker import _live_token
from refka.metadata.image import MetadataImage
from refka.metadata.token_records import DelegationTokenRecord
from refka.security import delegation_token as dt
from refka.security.mechanism import SaslFailure
from refka.security.scram import ScramMechanism, ScramServer

SECRET = "sans-io-secret"
TOKEN = DelegationTokenRecord(
    owner="User:alice",
    requester="User:alice",
    renewers=(),
    issue_timestamp=0,
    max_timestamp=10_000,
    expiration_timestamp=5_000,
    token_id="AAAAAAAAAAAAAAAAAAAAAA",
)


def image() -> MetadataImage:
    import dataclasses

    empty = MetadataImage.empty("cluster")
    return dataclasses.replace(empty, tokens=MappingProxyType({TOKEN.token_id: TOKEN}))


def login(now_ms: int, password: str, user: str = TOKEN.token_id) -> ScramServer:
    mechanism = ScramMechanism.SCRAM_SHA_256
    server = ScramServer(
        mechanism,
        lambda _user, _mechanism: None,  # no SCRAM users: only the token can log in
        lambda: "servernonce",
        lambda token_id, m: _live_token(image, SECRET, token_id, m, now_ms),
    )
    bare = f"n={user},r=clientnonce,tokenauth=true"
    first = server.evaluate(f"n,,{bare}".encode()).token.decode()
    fields: dict[str, Any] = dict(f.split("=", 1) for f in first.split(","))
    salted = hashlib.pbkdf2_hmac(
        "sha256", password.encode(), base64.b64decode(fields["s"]), int(fields["i"])
    )
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    without_proof = f"c=biws,r={fields['r']}"
    message = f"{bare},{first},{without_proof}".encode()
    signature = hmac.new(hashlib.sha256(client_key).digest(), message, "sha256").digest()
    proof = base64.b64encode(bytes(a ^ b for a, b in zip(client_key, signature, strict=True)))
    assert server.evaluate(f"{without_proof},p={proof.decode()}".encode()).done
    return server


def test_a_live_token_logs_in_as_its_owner() -> None:
    server = login(4_000, dt.password(SECRET, TOKEN.token_id))
    assert server.authorization_id == "alice" and server.token_authenticated


def test_a_wrong_hmac_is_refused() -> None:
    with pytest.raises(SaslFailure):
        login(4_000, base64.b64encode(b"\x00" * 64).decode())


def test_an_expired_token_is_refused_before_the_expiry_check() -> None:
    with pytest.raises(SaslFailure, match="Invalid tokenId"):
        login(5_001, dt.password(SECRET, TOKEN.token_id))


def test_an_unknown_token_is_refused() -> None:
    with pytest.raises(SaslFailure, match="Invalid tokenId"):
        login(0, "x", user="nosuchtoken")
