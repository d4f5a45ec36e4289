"""Real clients authenticate to refka over SASL_PLAINTEXT, or are refused, as Kafka does
(issue 13): confluent-kafka with PLAIN and SCRAM-SHA-256/512, kafka-python and kcat with PLAIN,
the Java client with SCRAM; raw frames for what a client never sends (a request before
authentication, a wrong mechanism) and for KIP-368 re-authentication."""

from __future__ import annotations

import logging
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import confluent_kafka
import kafka
import pytest
from confluent_kafka.admin import (
    AdminClient,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialUpsertion,
)
from refka.testing import RunningBroker, running_broker

from conformance.wire import Connection, ConnectionClosed, build

JAAS = (
    "org.apache.kafka.common.security.plain.PlainLoginModule required "
    'username="admin" password="admin-secret" user_admin="admin-secret" user_alice="alice-secret";'
)
SCRAM_JAAS = "org.apache.kafka.common.security.scram.ScramLoginModule required;"
MECHANISMS = "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512"
DEADLINE_S = 20.0
KCAT = shutil.which("kcat")
JAVA_PROBE = Path(__file__).with_name("java") / "ScramRoundTrip.java"


def sasl_config(**extra: str) -> dict[str, str]:
    return {
        "listeners": "SASL_PLAINTEXT://127.0.0.1:0",
        "sasl.enabled.mechanisms": MECHANISMS,
        "sasl.mechanism.inter.broker.protocol": "PLAIN",  # the listener is the inter-broker one
        "listener.name.sasl_plaintext.plain.sasl.jaas.config": JAAS,
        "listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config": SCRAM_JAAS,
        "listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config": SCRAM_JAAS,
        **extra,
    }


@pytest.fixture(scope="module")
def sasl_broker() -> Iterator[RunningBroker]:
    with running_broker(config=sasl_config()) as broker:
        yield broker


def client_config(broker: RunningBroker, mechanism: str, user: str, password: str) -> dict:
    return {
        "bootstrap.servers": broker.bootstrap,
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": mechanism,
        "sasl.username": user,
        "sasl.password": password,
    }


def produce_consume(config: dict[str, Any], topic: str, count: int = 5) -> list[bytes]:
    producer = confluent_kafka.Producer(config)
    for i in range(count):
        producer.produce(topic, f"{topic}-{i}".encode())
    assert producer.flush(DEADLINE_S) == 0
    consumer = confluent_kafka.Consumer(
        {**config, "group.id": f"g-{topic}", "auto.offset.reset": "earliest"}
    )
    consumer.subscribe([topic])
    got: list[bytes] = []
    deadline = time.monotonic() + DEADLINE_S
    while len(got) < count and time.monotonic() < deadline:
        message = consumer.poll(0.5)
        if message is not None and message.error() is None:
            got.append(message.value())
    consumer.close()
    return got


def authentication_error(config: dict[str, Any]) -> confluent_kafka.KafkaError:
    """The first error a producer with ``config`` reports (within the deadline)."""
    errors: list[confluent_kafka.KafkaError] = []
    producer = confluent_kafka.Producer({**config, "error_cb": errors.append})
    deadline = time.monotonic() + DEADLINE_S
    while not errors and time.monotonic() < deadline:
        producer.poll(0.2)
    assert errors, "no error reported"
    return errors[0]


def test_confluent_plain_produce_consume(sasl_broker: RunningBroker) -> None:
    config = client_config(sasl_broker, "PLAIN", "alice", "alice-secret")
    assert produce_consume(config, "plain") == [f"plain-{i}".encode() for i in range(5)]


def test_confluent_plain_wrong_password_is_an_authentication_error(
    sasl_broker: RunningBroker,
) -> None:
    error = authentication_error(client_config(sasl_broker, "PLAIN", "alice", "nope"))
    assert error.code() == confluent_kafka.KafkaError._AUTHENTICATION
    assert "Authentication failed: Invalid username or password" in error.str()


def add_scram_user(
    broker: RunningBroker, user: str, password: str, admin_config: dict | None = None
) -> None:
    """AlterUserScramCredentials as the PLAIN admin, then wait until the broker describes it."""
    admin = AdminClient(admin_config or client_config(broker, "PLAIN", "admin", "admin-secret"))
    upserts = [
        UserScramCredentialUpsertion(user, ScramCredentialInfo(mechanism, 4096), password.encode())
        for mechanism in (ScramMechanism.SCRAM_SHA_256, ScramMechanism.SCRAM_SHA_512)
    ]
    for future in admin.alter_user_scram_credentials(upserts).values():
        future.result(DEADLINE_S)
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        try:
            described = admin.describe_user_scram_credentials([user])[user].result(DEADLINE_S)
        except confluent_kafka.KafkaException:
            continue  # RESOURCE_NOT_FOUND until the record reaches the broker's image
        if len(described.scram_credential_infos) == 2:
            return
    raise AssertionError(f"{user}'s credentials never appeared")


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_confluent_scram_produce_consume_and_wrong_password(
    sasl_broker: RunningBroker, mechanism: str
) -> None:
    user = f"bob-{mechanism[-3:]}"
    add_scram_user(sasl_broker, user, "bob-secret")
    topic = f"scram-{mechanism[-3:]}"
    got = produce_consume(client_config(sasl_broker, mechanism, user, "bob-secret"), topic)
    assert got == [f"{topic}-{i}".encode() for i in range(5)]
    error = authentication_error(client_config(sasl_broker, mechanism, user, "wrong"))
    assert error.code() == confluent_kafka.KafkaError._AUTHENTICATION
    assert f"invalid credentials with SASL mechanism {mechanism}" in error.str()


def test_describe_and_alter_scram_errors(sasl_broker: RunningBroker) -> None:
    admin = AdminClient(client_config(sasl_broker, "PLAIN", "admin", "admin-secret"))
    with pytest.raises(confluent_kafka.KafkaException) as missing:
        admin.describe_user_scram_credentials(["nobody"])["nobody"].result(DEADLINE_S)
    assert missing.value.args[0].code() == confluent_kafka.KafkaError.RESOURCE_NOT_FOUND
    few = UserScramCredentialUpsertion(
        "carol", ScramCredentialInfo(ScramMechanism.SCRAM_SHA_256, 1000), b"pw"
    )
    with pytest.raises(confluent_kafka.KafkaException) as refused:
        admin.alter_user_scram_credentials([few])["carol"].result(DEADLINE_S)
    assert refused.value.args[0].code() == confluent_kafka.KafkaError.UNACCEPTABLE_CREDENTIAL


def test_kafka_python_plain(sasl_broker: RunningBroker, caplog: pytest.LogCaptureFixture) -> None:
    common: dict[str, Any] = {
        "bootstrap_servers": sasl_broker.bootstrap,
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "PLAIN",
        "sasl_plain_username": "alice",
        "sasl_plain_password": "alice-secret",
    }
    producer = kafka.KafkaProducer(**common)
    for i in range(3):
        producer.send("kafka-python", f"kp-{i}".encode()).get(DEADLINE_S)
    producer.close()
    consumer = kafka.KafkaConsumer(
        "kafka-python", auto_offset_reset="earliest", consumer_timeout_ms=10_000, **common
    )
    got = [message.value for _, message in zip(range(3), consumer, strict=False)]
    consumer.close()
    assert got == [f"kp-{i}".encode() for i in range(3)]
    caplog.set_level(logging.INFO, logger="kafka")  # it logs the broker's message at INFO
    wrong = {**common, "sasl_plain_password": "wrong", "bootstrap_timeout_ms": 2000}
    with pytest.raises(kafka.errors.KafkaError):  # it retries, then gives up bootstrapping
        kafka.KafkaProducer(**wrong)
    assert "Authentication failed: Invalid username or password" in caplog.text


@pytest.mark.skipif(KCAT is None, reason="kcat is not installed")
def test_kcat_plain(sasl_broker: RunningBroker) -> None:
    assert KCAT is not None
    sasl = ["-X", "security.protocol=SASL_PLAINTEXT", "-X", "sasl.mechanisms=PLAIN"]
    sasl += ["-X", "sasl.username=alice", "-X", "sasl.password=alice-secret"]
    base = [KCAT, "-b", sasl_broker.bootstrap, *sasl]
    subprocess.run([*base, "-P", "-t", "kcat"], input=b"k1\nk2\n", check=True, timeout=DEADLINE_S)
    out = subprocess.run(
        [*base, "-C", "-t", "kcat", "-o", "beginning", "-e", "-c", "2"],
        capture_output=True,
        check=True,
        timeout=DEADLINE_S,
    )
    assert out.stdout.split() == [b"k1", b"k2"]


def test_request_before_authentication_closes_the_connection(sasl_broker: RunningBroker) -> None:
    """Regression: only ApiVersions, SaslHandshake and SaslAuthenticate before authentication."""
    with Connection(sasl_broker.bootstrap) as conn:
        assert conn.request(build(18, 3, client_software_name="t", client_software_version="1"))
        conn.send(build(3, 12, topics=None, allow_auto_topic_creation=False))
        assert conn.closed_by_peer()
    with Connection(sasl_broker.bootstrap) as conn:  # after the handshake, before authenticating
        assert conn.request(build(17, 1, mechanism="PLAIN")).error_code == 0
        conn.send(build(3, 12, topics=None, allow_auto_topic_creation=False))
        assert conn.closed_by_peer()


def test_unsupported_mechanism_and_failed_authentication_answer_then_close(
    sasl_broker: RunningBroker,
) -> None:
    with Connection(sasl_broker.bootstrap) as conn:
        answer = conn.request(build(17, 1, mechanism="GSSAPI"))
        assert answer.error_code == 33  # UNSUPPORTED_SASL_MECHANISM
        assert answer.mechanisms == tuple(MECHANISMS.split(","))
        assert conn.closed_by_peer()
    with Connection(sasl_broker.bootstrap) as conn:
        assert conn.request(build(17, 1, mechanism="PLAIN")).error_code == 0
        answer = conn.request(build(36, 2, auth_bytes=b"\x00alice\x00wrong"))
        assert answer.error_code == 58  # SASL_AUTHENTICATION_FAILED
        assert answer.error_message == "Authentication failed: Invalid username or password"
        assert conn.closed_by_peer()


def authenticate(conn: Connection, password: str = "alice-secret") -> Any:
    assert conn.request(build(17, 1, mechanism="PLAIN")).error_code == 0
    return conn.request(build(36, 2, auth_bytes=b"\x00alice\x00" + password.encode()))


def test_reauthentication_and_session_expiry() -> None:
    """KIP-368: the session lifetime is ``connections.max.reauth.ms``; re-authenticating on the
    live connection renews it; a request after it expired closes the connection."""
    reauth_ms = 1500
    with running_broker(config=sasl_config(**{"connections.max.reauth.ms": str(reauth_ms)})) as b:
        metadata = build(3, 12, topics=None, allow_auto_topic_creation=False)
        with Connection(b.bootstrap) as conn:
            answer = authenticate(conn)
            assert answer.error_code == 0
            assert answer.session_lifetime.total_seconds() * 1000 == reauth_ms
            assert conn.request(metadata).brokers
            assert authenticate(conn).error_code == 0  # re-authentication on a live session
            assert conn.request(metadata).brokers
            deadline = time.monotonic() + DEADLINE_S
            with pytest.raises(ConnectionClosed):
                while time.monotonic() < deadline:  # served until the session expires
                    conn.request(metadata)
                    time.sleep(0.1)


def java_round_trip(
    broker: RunningBroker, topic: str, settings: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    from refka.peers.kafka import libs_dir

    libs = libs_dir()
    if shutil.which("java") is None or not any(libs.glob("kafka-clients-*.jar")):
        pytest.skip("Java or the kafka-clients jar is missing (scripts/ensure-peers)")
    pairs = [f"{key}={value}" for key, value in settings.items()]
    return subprocess.run(
        ["java", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp", f"{libs}/*",
         str(JAVA_PROBE), broker.bootstrap, topic, "5", *pairs],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def java_scram(user: str, password: str, protocol: str = "SASL_PLAINTEXT") -> dict[str, str]:
    return {
        "security.protocol": protocol,
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.jaas.config": "org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="{user}" password="{password}";',
    }


def test_java_client_scram_over_sasl_plaintext(sasl_broker: RunningBroker) -> None:
    add_scram_user(sasl_broker, "java-user", "java-secret")
    good = java_round_trip(sasl_broker, "java-scram", java_scram("java-user", "java-secret"))
    assert good.returncode == 0, good.stderr[-2000:]
    assert good.stdout.split() == ["consumed", "5"]
    bad = java_round_trip(sasl_broker, "java-scram", java_scram("java-user", "wrong"))
    assert bad.returncode == 3, bad.stdout + bad.stderr[-2000:]
    assert "invalid credentials with SASL mechanism SCRAM-SHA-512" in bad.stdout


def test_storage_format_add_scram_makes_a_first_user(tmp_path: Path) -> None:
    """``refka storage format --add-scram`` (kafka-storage's option): the user authenticates on
    the new cluster's first start, before any AlterUserScramCredentials."""
    import sys

    data = tmp_path / "data"
    refka = [sys.executable, "-m", "refka", "storage"]
    cluster_id = subprocess.run(
        [*refka, "random-uuid"], capture_output=True, text=True, check=True
    ).stdout.strip()
    subprocess.run(
        [*refka, "format", "--cluster-id", cluster_id, "--set", f"log.dirs={data}",
         "--add-scram", "SCRAM-SHA-256=[name=first,password=first-secret]",
         "--add-scram", 'SCRAM-SHA-512=[name=first,iterations=8192,password="first-secret"]'],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    with running_broker(data, config=sasl_config()) as broker:
        for mechanism in ("SCRAM-SHA-256", "SCRAM-SHA-512"):
            config = client_config(broker, mechanism, "first", "first-secret")
            producer = confluent_kafka.Producer(config)
            producer.produce(f"first-{mechanism[-3:]}", b"authenticated")
            assert producer.flush(DEADLINE_S) == 0


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_librdkafka_reauthenticates_before_its_session_expires() -> None:
    """KIP-368 with a real client: librdkafka reads ``session_lifetime_ms`` and re-authenticates
    on its live connection; its writes keep succeeding across several session lifetimes."""
    reauth_ms = 1000
    with running_broker(config=sasl_config(**{"connections.max.reauth.ms": str(reauth_ms)})) as b:
        lines = _Lines()
        logger = logging.getLogger("test.librdkafka.reauth")
        logger.addHandler(lines)
        logger.setLevel(logging.DEBUG)
        config = client_config(b, "PLAIN", "alice", "alice-secret")
        producer = confluent_kafka.Producer({**config, "debug": "security", "logger": logger})
        deadline = time.monotonic() + DEADLINE_S
        reauths = 0
        while reauths < 2 and time.monotonic() < deadline:
            producer.produce("reauth", b"x")
            assert producer.flush(DEADLINE_S) == 0
            producer.poll(0.1)  # serves the queued log lines to ``logger``
            reauths = sum("Auth in state REAUTH" in line for line in lines.lines)
        assert reauths >= 2, lines.lines[-20:]


def test_the_authenticated_principal_is_what_acls_check() -> None:
    """SASL sets the principal the StandardAuthorizer checks: the super user ``admin`` may
    write and describe SCRAM users, ``alice`` without ACLs may do neither."""
    authorizer = {
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "super.users": "User:admin;User:ANONYMOUS",  # ANONYMOUS: the PLAINTEXT controller link
    }
    with running_broker(config=sasl_config(**authorizer)) as broker:
        admin = client_config(broker, "PLAIN", "admin", "admin-secret")
        producer = confluent_kafka.Producer(admin)
        producer.produce("acl-checked", b"by admin")
        assert producer.flush(DEADLINE_S) == 0
        errors: list[Any] = []
        alice = confluent_kafka.Producer(
            {**client_config(broker, "PLAIN", "alice", "alice-secret"), "error_cb": errors.append}
        )
        alice.produce("acl-checked", b"by alice", on_delivery=lambda e, _m: errors.append(e))
        alice.flush(DEADLINE_S)
        codes = {e.code() for e in errors if e is not None}
        assert confluent_kafka.KafkaError.TOPIC_AUTHORIZATION_FAILED in codes, errors
        with Connection(broker.bootstrap) as conn:  # raw: librdkafka aborts on this answer
            assert authenticate(conn).error_code == 0
            answer = conn.request(build(50, 0, users=[{"name": "x"}]))
            assert answer.error_code == 31  # CLUSTER_AUTHORIZATION_FAILED
            assert answer.error_message == "Cluster authorization failed."
