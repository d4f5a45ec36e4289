"""Delegation token probes (KIP-48, KIP-373): the four token APIs, their errors, and SCRAM
authentication with a token (``tokenauth=true``), as raw frames.

Each probe takes the ``host:port`` of a SASL_PLAINTEXT listener with PLAIN (users ``admin``,
``alice``, ``bob``) and SCRAM-SHA-256 enabled and ``delegation.token.secret.key`` set
(:data:`BROKER_CONFIG`), and the ``host:port`` of a PLAINTEXT listener of the same broker.
tests/test_conformance_tokens.py runs them against Apache Kafka and refka configured alike.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import time
from collections.abc import Callable
from typing import Any

from conformance.wire import Connection, ConnectionClosed, build

JAAS = (
    "org.apache.kafka.common.security.plain.PlainLoginModule required "
    'username="admin" password="admin-secret" user_admin="admin-secret" '
    'user_alice="alice-secret" user_bob="bob-secret";'
)
EXPIRY_MS = 3_600_000
MAX_LIFETIME_MS = 7_200_000
BROKER_CONFIG = {
    "sasl.enabled.mechanisms": "PLAIN,SCRAM-SHA-256",
    "listener.name.sasl_plaintext.plain.sasl.jaas.config": JAAS,
    "listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config": (
        "org.apache.kafka.common.security.scram.ScramLoginModule required;"
    ),
    "listener.security.protocol.map": (
        "PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT"
    ),
    "delegation.token.secret.key": "refka-conformance-secret",
    "delegation.token.expiry.time.ms": str(EXPIRY_MS),
    "delegation.token.max.lifetime.ms": str(MAX_LIFETIME_MS),
}
CREATE, RENEW, EXPIRE, DESCRIBE = 38, 39, 40, 41
HANDSHAKE, AUTHENTICATE, METADATA, API_VERSIONS = 17, 36, 3, 18
SASL_AUTHENTICATION_FAILED = 58
NOT_FOUND, OWNER_MISMATCH, REQUEST_NOT_ALLOWED = 62, 63, 64
AUTHORIZATION_FAILED, INVALID_PRINCIPAL_TYPE = 65, 67
DEADLINE_S = 20.0

Probe = Callable[[str, str], None]


def plain_login(conn: Connection, user: str) -> None:
    assert conn.request(build(HANDSHAKE, 1, mechanism="PLAIN")).error_code == 0
    token = f"\x00{user}\x00{user}-secret".encode()
    assert conn.request(build(AUTHENTICATE, 2, auth_bytes=token)).error_code == 0


def scram_login(conn: Connection, user: str, password: str, tokenauth: bool = False) -> Any:
    """A SCRAM-SHA-256 exchange (RFC 5802); the last SaslAuthenticate answer."""
    assert conn.request(build(HANDSHAKE, 1, mechanism="SCRAM-SHA-256")).error_code == 0
    nonce = base64.b64encode(hashlib.sha256(user.encode()).digest()[:12]).decode()
    bare = f"n={user},r={nonce}" + (",tokenauth=true" if tokenauth else "")
    first = conn.request(build(AUTHENTICATE, 2, auth_bytes=f"n,,{bare}".encode()))
    if first.error_code != 0:
        return first
    server_first = first.auth_bytes.decode()
    fields = dict(item.split("=", 1) for item in server_first.split(","))
    salted = hashlib.pbkdf2_hmac(
        "sha256", password.encode(), base64.b64decode(fields["s"]), int(fields["i"])
    )
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    stored_key = hashlib.sha256(client_key).digest()
    without_proof = f"c=biws,r={fields['r']}"
    auth_message = f"{bare},{server_first},{without_proof}".encode()
    signature = hmac.new(stored_key, auth_message, "sha256").digest()
    proof = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
    final = f"{without_proof},p={base64.b64encode(proof).decode()}".encode()
    return conn.request(build(AUTHENTICATE, 2, auth_bytes=final))


def create(conn: Connection, renewers: tuple[tuple[str, str], ...] = (), **owner: Any) -> Any:
    m_renewers = [{"principal_type": t, "principal_name": n} for t, n in renewers]
    return conn.request(
        build(
            CREATE,
            3,
            owner_principal_type=owner.get("owner_type"),
            owner_principal_name=owner.get("owner_name"),
            renewers=m_renewers,
            max_lifetime=datetime.timedelta(milliseconds=-1),
        )
    )


def refused_create(conn: Connection, **owner: Any) -> tuple[int, str, str, int]:
    """A CreateDelegationToken read raw (a refusal's timestamps are -1, which kio cannot
    decode): (error code, owner, requester, issue timestamp)."""
    renewers = owner.pop("renewers", ())
    conn.send(
        build(
            CREATE,
            3,
            owner_principal_type=owner.get("owner_type"),
            owner_principal_name=owner.get("owner_name"),
            renewers=[{"principal_type": t, "principal_name": n} for t, n in renewers],
            max_lifetime=datetime.timedelta(milliseconds=-1),
        )
    )
    frame = conn.recv_frame()  # correlation id, tagged fields, then the body
    error = int.from_bytes(frame[5:7], "big", signed=True)
    position, names = 7, []
    for _ in range(4):  # owner type and name, requester type and name (compact strings)
        size = frame[position] - 1  # < 128 bytes: a one-byte uvarint
        names.append(frame[position + 1 : position + 1 + size].decode())
        position += 1 + size
    issued = int.from_bytes(frame[position : position + 8], "big", signed=True)
    return error, ":".join(names[:2]), ":".join(names[2:]), issued


def renew(conn: Connection, mac: bytes, period_ms: int = -1) -> tuple[int, int]:
    """RenewDelegationToken's (error code, expiry timestamp), read raw: a refusal's timestamp
    is -1, which kio cannot decode."""
    period = datetime.timedelta(milliseconds=period_ms)
    conn.send(build(RENEW, 2, hmac=mac, renew_period=period))
    frame = conn.recv_frame()  # correlation id, tagged fields, error code, expiry timestamp
    return int.from_bytes(frame[5:7], "big", signed=True), int.from_bytes(frame[7:15], "big")


def expire(conn: Connection, mac: bytes, period_ms: int = -1) -> int:
    """ExpireDelegationToken's error code, read from the raw answer: expiring at once answers
    a negative expiry timestamp (the period), which kio cannot decode."""
    period = datetime.timedelta(milliseconds=period_ms)
    conn.send(build(EXPIRE, 2, hmac=mac, expiry_time_period=period))
    frame = conn.recv_frame()  # correlation id, tagged fields, then the error code
    return int.from_bytes(frame[5:7], "big", signed=True)


def describe(conn: Connection, owners: list[tuple[str, str]] | None = None) -> Any:
    listed = (
        None if owners is None else [{"principal_type": t, "principal_name": n} for t, n in owners]
    )
    return conn.request(build(DESCRIBE, 3, owners=listed))


def _ms(value: datetime.datetime) -> int:
    return round(value.timestamp() * 1000)


def _until(check: Callable[[], bool]) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not check():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.05)


def _token_login(sasl: str, token: Any) -> Any:
    password = base64.b64encode(token.hmac).decode()
    conn = Connection(sasl)
    try:
        return conn, scram_login(conn, token.token_id, password, tokenauth=True)
    except ConnectionClosed:
        conn.close()
        raise


def probe_versions_list_the_token_apis(sasl: str, plaintext: str) -> None:
    with Connection(plaintext) as conn:
        answer = conn.request(
            build(API_VERSIONS, 3, client_software_name="p", client_software_version="1")
        )
        ranges = {k.api_key: (k.min_version, k.max_version) for k in answer.api_keys}
        expected = {CREATE: (1, 3), RENEW: (1, 2), EXPIRE: (1, 2), DESCRIBE: (1, 3)}
        assert {k: ranges.get(k) for k in expected} == expected, ranges


def probe_plaintext_may_not_request_tokens(sasl: str, plaintext: str) -> None:
    with Connection(plaintext) as conn:
        assert describe(conn).error_code == REQUEST_NOT_ALLOWED
        answer = refused_create(conn)
        assert answer == (REQUEST_NOT_ALLOWED, "User:ANONYMOUS", "User:ANONYMOUS", -1), answer
        assert renew(conn, b"x" * 64) == (REQUEST_NOT_ALLOWED, 2**64 - 1)  # -1
        assert expire(conn, b"x" * 64) == REQUEST_NOT_ALLOWED


def probe_create_then_describe(sasl: str, plaintext: str) -> None:
    with Connection(sasl) as conn:
        plain_login(conn, "alice")
        token = create(conn, renewers=(("User", "bob"),))
        assert token.error_code == 0, token
        assert (token.principal_type, token.principal_name) == ("User", "alice")
        assert token.token_requester_principal_name == "alice"
        assert len(token.token_id) == 22  # a Uuid's base64
        secret = BROKER_CONFIG["delegation.token.secret.key"].encode()
        assert token.hmac == hmac.new(secret, token.token_id.encode(), "sha512").digest()
        issued = _ms(token.issue_timestamp)
        assert _ms(token.expiry_timestamp) - issued == EXPIRY_MS
        assert _ms(token.max_timestamp) - issued == MAX_LIFETIME_MS

        def listed() -> bool:
            return any(t.token_id == token.token_id for t in describe(conn).tokens)

        _until(listed)
        (mine,) = [t for t in describe(conn).tokens if t.token_id == token.token_id]
        assert mine.hmac == token.hmac
        assert [(r.principal_type, r.principal_name) for r in mine.renewers] == [("User", "bob")]
        assert describe(conn, []).tokens == ()
        others = describe(conn, [("User", "nobody")])
        assert all(t.token_id != token.token_id for t in others.tokens)


def probe_renew_and_expire_check_the_requester(sasl: str, plaintext: str) -> None:
    with Connection(sasl) as alice, Connection(sasl) as admin, Connection(sasl) as bob:
        plain_login(alice, "alice")
        plain_login(admin, "admin")
        plain_login(bob, "bob")
        token = create(alice, renewers=(("User", "bob"),))
        assert token.error_code == 0, token
        assert renew(admin, b"\x00" * 64) == (NOT_FOUND, 0)
        _until(lambda: renew(admin, token.hmac)[0] != NOT_FOUND)
        assert renew(admin, token.hmac) == (OWNER_MISMATCH, 0)
        assert expire(admin, token.hmac) == OWNER_MISMATCH
        error, expiry = renew(bob, token.hmac, 60_000)  # a renewer
        assert error == 0
        assert 60_000 <= expiry - _ms(token.issue_timestamp) < EXPIRY_MS


def probe_invalid_renewer_type(sasl: str, plaintext: str) -> None:
    with Connection(sasl) as conn:
        plain_login(conn, "alice")
        answer = refused_create(conn, renewers=(("Group", "bob"),))
        assert answer == (INVALID_PRINCIPAL_TYPE, "User:alice", "User:alice", -1), answer


def probe_a_token_authenticates_as_its_owner(sasl: str, plaintext: str) -> None:
    """SCRAM with ``tokenauth=true``: the token id and HMAC log in; that connection may not
    request tokens; once expired, the token no longer logs in."""
    with Connection(sasl) as alice:
        plain_login(alice, "alice")
        token = create(alice)
        assert token.error_code == 0, token
        _until(lambda: any(t.token_id == token.token_id for t in describe(alice).tokens))
        conn, answer = _token_login(sasl, token)
        with conn:
            assert answer.error_code == 0, answer
            assert conn.request(build(METADATA, 12, topics=None, allow_auto_topic_creation=False))
            assert refused_create(conn)[:3] == (REQUEST_NOT_ALLOWED, "User:alice", "User:alice")
            assert describe(conn).error_code == REQUEST_NOT_ALLOWED
        assert expire(alice, token.hmac) == 0

        def refused() -> bool:
            conn, answer = _token_login(sasl, token)
            conn.close()
            return answer.error_code == SASL_AUTHENTICATION_FAILED

        _until(refused)
        _until(lambda: renew(alice, token.hmac)[0] == NOT_FOUND)


def probe_create_for_another_owner(sasl: str, plaintext: str) -> None:
    """KIP-373 without an authorizer: any principal may create a token for another owner."""
    with Connection(sasl) as conn:
        plain_login(conn, "admin")
        answer = create(conn, owner_type="User", owner_name="alice")
        assert answer.error_code == 0, answer
        assert (answer.principal_name, answer.token_requester_principal_name) == (
            "alice",
            "admin",
        )


PROBES: dict[str, Probe] = {
    name.removeprefix("probe_"): value
    for name, value in globals().items()
    if name.startswith("probe_") and callable(value)
}
