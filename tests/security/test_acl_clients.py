"""ACLs with real clients over PLAINTEXT, where every connection is User:ANONYMOUS (as in
Kafka): confluent-kafka's AdminClient creates, describes and deletes ACLs; Produce, the
consumer group and Metadata are refused or allowed as Kafka's StandardAuthorizer decides."""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer
from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    NewTopic,
    ResourcePatternType,
    ResourceType,
)
from refka.testing import RunningBroker

STANDARD = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
ANON = "User:ANONYMOUS"
TIMEOUT_S = 20.0


def admin_of(broker: RunningBroker) -> AdminClient:
    return AdminClient({"bootstrap.servers": broker.bootstrap})


def create(admin: AdminClient, *acls: AclBinding) -> None:
    for future in admin.create_acls(list(acls), request_timeout=TIMEOUT_S).values():
        future.result(timeout=TIMEOUT_S)


def topic_acl(
    name: str,
    op: AclOperation,
    principal: str = ANON,
    pattern: ResourcePatternType = ResourcePatternType.LITERAL,
    perm: AclPermissionType = AclPermissionType.ALLOW,
) -> AclBinding:
    return AclBinding(ResourceType.TOPIC, name, pattern, principal, "*", op, perm)


def wait_for(predicate, what: str) -> None:  # type: ignore[no-untyped-def]
    """Poll ``predicate`` until true (ACLs reach the broker's image through the metadata log)."""
    deadline = time.monotonic() + TIMEOUT_S
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.mark.refka(authorizer_class_name=STANDARD, super_users=ANON)
def test_admin_client_creates_describes_and_deletes_acls(refka_broker: RunningBroker) -> None:
    admin = admin_of(refka_broker)
    prefixed = topic_acl("orders-", AclOperation.READ, "User:alice", ResourcePatternType.PREFIXED)
    literal = topic_acl("audit", AclOperation.WRITE, "User:bob", perm=AclPermissionType.DENY)
    create(admin, prefixed, literal)
    everything = AclBindingFilter(
        ResourceType.ANY,
        None,
        ResourcePatternType.ANY,
        None,
        None,
        AclOperation.ANY,
        AclPermissionType.ANY,
    )

    def described() -> list[AclBinding]:
        return list(admin.describe_acls(everything, request_timeout=TIMEOUT_S).result(TIMEOUT_S))

    wait_for(lambda: len(described()) == 2, "the ACLs in the broker's image")
    assert sorted(described(), key=str) == sorted([prefixed, literal], key=str)
    match = AclBindingFilter(
        ResourceType.TOPIC,
        "orders-eu",
        ResourcePatternType.MATCH,
        None,
        None,
        AclOperation.ANY,
        AclPermissionType.ANY,
    )
    matched = admin.describe_acls(match, request_timeout=TIMEOUT_S).result(timeout=TIMEOUT_S)
    assert matched == [prefixed]
    deleted = admin.delete_acls([match], request_timeout=TIMEOUT_S)[match].result(TIMEOUT_S)
    assert deleted == [prefixed]
    wait_for(lambda: len(described()) == 1, "the deletion in the broker's image")
    assert described() == [literal]


@pytest.mark.refka(authorizer_class_name=STANDARD, super_users=ANON)
def test_acls_survive_a_restart(refka_broker: RunningBroker) -> None:
    acl = topic_acl("kept", AclOperation.DESCRIBE, "User:carol")
    create(admin_of(refka_broker), acl)
    refka_broker.restart()
    everything = AclBindingFilter(
        ResourceType.ANY,
        None,
        ResourcePatternType.ANY,
        None,
        None,
        AclOperation.ANY,
        AclPermissionType.ANY,
    )
    admin = admin_of(refka_broker)
    found = admin.describe_acls(everything, request_timeout=TIMEOUT_S).result(timeout=TIMEOUT_S)
    assert found == [acl]


def cluster_acl(op: AclOperation, perm: AclPermissionType) -> AclBinding:
    pattern = ResourcePatternType.LITERAL
    return AclBinding(ResourceType.BROKER, "kafka-cluster", pattern, ANON, "*", op, perm)


@pytest.mark.refka(authorizer_class_name=STANDARD, allow_everyone_if_no_acl_found=True)
def test_a_principal_denied_alter_on_the_cluster_cannot_create_acls(
    refka_broker: RunningBroker,
) -> None:
    """ALLOW ALL keeps the node's own anonymous requests (CLUSTER_ACTION) allowed; the DENY
    takes ALTER away, which CreateAcls needs."""
    admin = admin_of(refka_broker)
    create(
        admin,
        cluster_acl(AclOperation.ALL, AclPermissionType.ALLOW),
        cluster_acl(AclOperation.ALTER, AclPermissionType.DENY),
    )

    def refused() -> bool:
        try:
            create(admin, topic_acl("t", AclOperation.READ))
        except KafkaException as error:
            return bool(error.args[0].code() == KafkaError.CLUSTER_AUTHORIZATION_FAILED)
        return False

    wait_for(refused, "the DENY ALTER ACL")


def produce_one(bootstrap: str, topic: str) -> KafkaError | None:
    """One record, acks=all; the delivery error (None: delivered)."""
    outcome: list[KafkaError | None] = []
    producer = Producer(
        {"bootstrap.servers": bootstrap, "message.timeout.ms": 10000, "enable.idempotence": False}
    )
    producer.produce(topic, b"v", on_delivery=lambda err, _msg: outcome.append(err))
    producer.flush(TIMEOUT_S)
    assert outcome, "no delivery report"
    return outcome[0]


@pytest.mark.refka(authorizer_class_name=STANDARD, allow_everyone_if_no_acl_found=True)
def test_produce_is_refused_until_an_acl_allows_write(refka_broker: RunningBroker) -> None:
    topic = f"guarded-{uuid.uuid4().hex[:6]}"
    admin = admin_of(refka_broker)
    admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(TIMEOUT_S)
    create(admin, topic_acl(topic, AclOperation.WRITE, "User:alice"))  # covers it: others denied
    wait_for(lambda: produce_one(refka_broker.bootstrap, topic) is not None, "the ACL")
    error = produce_one(refka_broker.bootstrap, topic)
    assert error is not None and error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    create(admin, topic_acl(topic, AclOperation.WRITE))  # WRITE implies DESCRIBE
    wait_for(lambda: produce_one(refka_broker.bootstrap, topic) is None, "the second ACL")


@pytest.mark.refka(authorizer_class_name=STANDARD, allow_everyone_if_no_acl_found=True)
def test_metadata_hides_topics_the_principal_may_not_describe(
    refka_broker: RunningBroker,
) -> None:
    admin = admin_of(refka_broker)
    for name in ("shown", "hidden"):
        admin.create_topics([NewTopic(name, 1, 1)])[name].result(TIMEOUT_S)
    create(admin, topic_acl("hid", AclOperation.ALL, "User:alice", ResourcePatternType.PREFIXED))

    def listed() -> set[str]:
        return set(admin.list_topics(timeout=TIMEOUT_S).topics)

    wait_for(lambda: "hidden" not in listed(), "the ACL to hide the topic")
    assert "shown" in listed()
    asked = admin.list_topics("hidden", timeout=TIMEOUT_S).topics["hidden"]
    assert asked.error is not None
    assert asked.error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED


@pytest.mark.refka(authorizer_class_name=STANDARD, allow_everyone_if_no_acl_found=True)
def test_a_consumer_group_the_principal_may_not_read_is_refused(
    refka_broker: RunningBroker,
) -> None:
    admin = admin_of(refka_broker)
    admin.create_topics([NewTopic("events", 1, 1)])["events"].result(TIMEOUT_S)
    group_acl = AclBinding(
        ResourceType.GROUP,
        "locked",
        ResourcePatternType.LITERAL,
        "User:alice",
        "*",
        AclOperation.READ,
        AclPermissionType.ALLOW,
    )
    create(admin, group_acl)
    errors: list[KafkaError] = []
    consumer = Consumer(
        {
            "bootstrap.servers": refka_broker.bootstrap,
            "group.id": "locked",
            "error_cb": errors.append,
        }
    )
    try:
        consumer.subscribe(["events"])
        deadline = time.monotonic() + TIMEOUT_S
        seen = None
        while seen is None and time.monotonic() < deadline:
            message = consumer.poll(0.2)
            if message is not None and message.error() is not None:
                seen = message.error()
            elif errors:
                seen = errors[0]
        assert seen is not None, "the consumer was never refused"
        assert seen.code() == KafkaError.GROUP_AUTHORIZATION_FAILED
    finally:
        consumer.close()


@pytest.mark.refka(authorizer_class_name=STANDARD, allow_everyone_if_no_acl_found=True)
def test_acls_reach_every_broker_of_a_cluster_and_replication_goes_on(refka_cluster) -> None:  # type: ignore[no-untyped-def]
    """An ACL created through one broker is enforced by all (the metadata log replicates it);
    followers still fetch (CLUSTER_ACTION: no ACL covers the cluster), so acks=all works."""
    topic = f"replicated-{uuid.uuid4().hex[:6]}"
    refka_cluster.create_topic(topic, 1, 3)
    brokers = list(refka_cluster.brokers.values())
    create(admin_of(brokers[0]), topic_acl(topic, AclOperation.WRITE, "User:alice"))
    for broker in brokers:
        admin = admin_of(broker)

        def refused(admin: AdminClient = admin) -> bool:
            error = admin.list_topics(topic, timeout=TIMEOUT_S).topics[topic].error
            return error is not None and error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED

        wait_for(refused, f"the ACL on broker {broker.bootstrap}")
    create(admin_of(brokers[1]), topic_acl(topic, AclOperation.WRITE))
    wait_for(lambda: produce_one(refka_cluster.bootstrap, topic) is None, "a replicated write")


@pytest.mark.refka(authorizer_class_name=STANDARD, super_users=ANON)
def test_the_java_admin_client_creates_describes_and_deletes_acls(
    refka_broker: RunningBroker,
) -> None:
    from refka.peers.kafka import libs_dir

    libs = libs_dir()
    if shutil.which("java") is None or not any(libs.glob("kafka-clients-*.jar")):
        pytest.skip("Java or the kafka-clients jar is missing (scripts/ensure-peers)")
    probe = Path(__file__).with_name("java") / "AclProbe.java"
    run = subprocess.run(
        ["java", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp",
         f"{libs}/*", str(probe), refka_broker.bootstrap],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    read = "orders-/PREFIXED/User:alice/READ/ALLOW"
    deny = "audit/LITERAL/User:bob/ALL/DENY"
    assert run.stdout.splitlines() == [
        f"described {deny},{read}",
        f"deleted {read}",
        f"left {deny}",
    ]
