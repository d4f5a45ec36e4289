"""SASL probes (KIP-43, KIP-152): the handshake and the authentication failure path, as raw
frames, so that they check exactly what Kafka answers and when it closes the connection.

Each probe takes the ``host:port`` of a SASL_PLAINTEXT listener with
``sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256`` and the PLAIN user ``alice``/``alice-secret``
(:data:`BROKER_CONFIG`), and the ``host:port`` of a PLAINTEXT listener of the same broker.
tests/test_conformance_sasl.py runs them against Apache Kafka and refka configured alike.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from conformance.target import eventually
from conformance.wire import Connection, build

MECHANISMS = ("PLAIN", "SCRAM-SHA-256")
JAAS = (
    "org.apache.kafka.common.security.plain.PlainLoginModule required "
    'username="admin" password="admin-secret" user_admin="admin-secret" user_alice="alice-secret";'
)
REAUTH_MS = 600_000
BROKER_CONFIG = {
    "sasl.enabled.mechanisms": ",".join(MECHANISMS),
    "connections.max.reauth.ms": str(REAUTH_MS),
    "listener.name.sasl_plaintext.plain.sasl.jaas.config": JAAS,
    "listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config": (
        "org.apache.kafka.common.security.scram.ScramLoginModule required;"
    ),
    "listener.security.protocol.map": (
        "PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT"
    ),
}
HANDSHAKE, AUTHENTICATE, METADATA, API_VERSIONS = 17, 36, 3, 18
UNSUPPORTED_SASL_MECHANISM, ILLEGAL_SASL_STATE, SASL_AUTHENTICATION_FAILED = 33, 34, 58

Probe = Callable[[str, str], None]


def _metadata() -> Any:
    return build(METADATA, 12, topics=None, allow_auto_topic_creation=False)


def _handshake(conn: Connection, mechanism: str = "PLAIN") -> Any:
    return conn.request(build(HANDSHAKE, 1, mechanism=mechanism))


def _authenticate(conn: Connection, token: bytes) -> Any:
    return conn.request(build(AUTHENTICATE, 2, auth_bytes=token))


def probe_versions_list_the_sasl_apis(sasl: str, plaintext: str) -> None:
    for bootstrap in (sasl, plaintext):
        with Connection(bootstrap) as conn:
            answer = conn.request(
                build(API_VERSIONS, 3, client_software_name="p", client_software_version="1")
            )
            ranges = {k.api_key: (k.min_version, k.max_version) for k in answer.api_keys}
            assert ranges[HANDSHAKE] == (0, 1), ranges.get(HANDSHAKE)
            assert ranges[AUTHENTICATE] == (0, 2), ranges.get(AUTHENTICATE)


def probe_handshake_lists_the_enabled_mechanisms(sasl: str, plaintext: str) -> None:
    with Connection(sasl) as conn:
        answer = _handshake(conn)
        assert answer.error_code == 0 and tuple(answer.mechanisms) == MECHANISMS, answer


def probe_plain_authenticates_then_serves(sasl: str, plaintext: str) -> None:
    with Connection(sasl) as conn:
        _handshake(conn)
        answer = _authenticate(conn, b"\x00alice\x00alice-secret")
        assert answer.error_code == 0 and answer.error_message == "", answer
        assert answer.session_lifetime.total_seconds() * 1000 == REAUTH_MS
        assert conn.request(_metadata()).brokers


def probe_reauthentication_on_a_live_connection(sasl: str, plaintext: str) -> None:
    """KIP-368: SaslHandshake + SaslAuthenticate again on an authenticated connection."""
    with Connection(sasl) as conn:
        _handshake(conn)
        assert _authenticate(conn, b"\x00alice\x00alice-secret").error_code == 0
        assert conn.request(_metadata()).brokers
        assert _handshake(conn).error_code == 0
        answer = _authenticate(conn, b"\x00alice\x00alice-secret")
        assert answer.error_code == 0, answer
        assert answer.session_lifetime.total_seconds() * 1000 == REAUTH_MS
        assert conn.request(_metadata()).brokers


def probe_handshake_v0_then_raw_tokens(sasl: str, plaintext: str) -> None:
    """SaslHandshake v0: the SASL tokens follow as raw size-prefixed frames (KIP-43)."""
    with Connection(sasl) as conn:
        answer = conn.request(build(HANDSHAKE, 0, mechanism="PLAIN"))
        assert answer.error_code == 0, answer
        token = b"\x00alice\x00alice-secret"
        conn.send_raw(len(token).to_bytes(4, "big") + token)
        assert conn.recv_frame() == b""  # PLAIN's empty server token
        assert conn.request(_metadata()).brokers


def probe_unsupported_mechanism_answers_then_closes(sasl: str, plaintext: str) -> None:
    with Connection(sasl) as conn:
        answer = _handshake(conn, "GSSAPI")
        assert answer.error_code == UNSUPPORTED_SASL_MECHANISM, answer
        assert tuple(answer.mechanisms) == MECHANISMS, answer
        assert conn.closed_by_peer()


def probe_wrong_password_answers_then_closes(sasl: str, plaintext: str) -> None:
    with Connection(sasl) as conn:
        _handshake(conn)
        answer = _authenticate(conn, b"\x00alice\x00wrong")
        assert answer.error_code == SASL_AUTHENTICATION_FAILED, answer
        assert answer.error_message == "Authentication failed: Invalid username or password"
        assert conn.closed_by_peer()


def probe_scram_unknown_user_answers_then_closes(sasl: str, plaintext: str) -> None:
    with Connection(sasl) as conn:
        _handshake(conn, "SCRAM-SHA-256")
        answer = _authenticate(conn, b"n,,n=nobody,r=abcdefgh")
        assert answer.error_code == SASL_AUTHENTICATION_FAILED, answer
        assert answer.error_message == (
            "Authentication failed during authentication due to invalid credentials with "
            "SASL mechanism SCRAM-SHA-256"
        )
        assert conn.closed_by_peer()


def _closed_without_an_answer(conn: Connection, timeout_s: float = 10.0) -> bool:
    """The broker closes the connection and sends nothing first."""
    conn.sock.settimeout(timeout_s)
    return conn.sock.recv(65536) == b""


def probe_request_before_handshake_closes(sasl: str, plaintext: str) -> None:
    with Connection(sasl) as conn:
        conn.send(_metadata())
        assert _closed_without_an_answer(conn)


def probe_request_between_handshake_and_authenticate_closes(sasl: str, plaintext: str) -> None:
    with Connection(sasl) as conn:
        _handshake(conn)
        correlation_id = conn.send(_metadata())  # answered with its error response first
        answer = conn.receive(_metadata(), correlation_id)
        assert (answer.brokers, answer.topics, answer.controller_id) == ((), (), -1), answer
        assert _closed_without_an_answer(conn)


def probe_handshake_on_a_plaintext_listener_is_illegal(sasl: str, plaintext: str) -> None:
    with Connection(plaintext) as conn:
        assert _handshake(conn).error_code == ILLEGAL_SASL_STATE


def probe_authenticate_after_success_is_illegal(sasl: str, plaintext: str) -> None:
    with Connection(sasl) as conn:
        _handshake(conn)
        _authenticate(conn, b"\x00alice\x00alice-secret")
        answer = _authenticate(conn, b"\x00alice\x00alice-secret")
        assert answer.error_code == ILLEGAL_SASL_STATE, answer


def _alter(conn: Connection, deletions: list[Any], upsertions: list[Any]) -> dict[str, Any]:
    answer = conn.request(build(51, 0, deletions=deletions, upsertions=upsertions))
    return {r.user: (r.error_code, r.error_message) for r in answer.results}


def _upsert(name: str, mechanism: int = 1, iterations: int = 4096) -> dict[str, Any]:
    salt, salted = b"0123456789abcdef", b"s" * 32
    return {
        "name": name,
        "mechanism": mechanism,
        "iterations": iterations,
        "salt": salt,
        "salted_password": salted,
    }


def probe_alter_scram_credentials_errors(sasl: str, plaintext: str) -> None:
    with Connection(plaintext) as conn:
        results = _alter(
            conn,
            [{"name": "ghost", "mechanism": 1}, {"name": "twice", "mechanism": 2}],
            [
                _upsert("few", iterations=1000),
                _upsert("many", iterations=20000),
                _upsert("odd", mechanism=0),
                _upsert("twice", mechanism=2),
                _upsert(""),
            ],
        )
    assert results == {
        "ghost": (91, "Attempt to delete a user credential that does not exist"),
        "twice": (91, "Attempt to delete a user credential that does not exist"),
        "few": (93, "Too few iterations"),
        "many": (93, "Too many iterations"),
        "odd": (33, "Unknown SCRAM mechanism"),
        "": (93, "Username must not be empty"),
    }, results


def probe_describe_scram_credentials(sasl: str, plaintext: str) -> None:
    with Connection(plaintext) as conn:
        assert _alter(conn, [], [_upsert("described", 2, 8192)]) == {"described": (0, None)}
        answer = eventually(  # the record reaches the broker's image through the metadata log
            lambda: conn.request(build(50, 0, users=[{"name": "described"}])),
            lambda a: a.results[0].error_code == 0,
        )
        (found,) = answer.results
        assert (found.user, found.error_code) == ("described", 0), answer
        assert [(i.mechanism, i.iterations) for i in found.credential_infos] == [(2, 8192)]
        answer = conn.request(
            build(50, 0, users=[{"name": "nobody"}, {"name": "x"}, {"name": "x"}])
        )
        got = {r.user: (r.error_code, r.error_message) for r in answer.results}
        assert got == {
            "nobody": (91, "Attempt to describe a user credential that does not exist: nobody"),
            "x": (
                92,
                "Cannot describe SCRAM credentials for the same user twice in a single request: x",
            ),
        }, got


PROBES: dict[str, Probe] = {
    name.removeprefix("probe_"): probe
    for name, probe in sorted(globals().items())
    if name.startswith("probe_") and callable(probe)
}
