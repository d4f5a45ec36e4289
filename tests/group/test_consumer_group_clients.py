"""KIP-848 (group.protocol=consumer) through real clients against a real refka broker:
Apache Kafka's Java consumer (kafka-clients 4.4) and librdkafka (confluent-kafka).

Every poll checks NoPartitionOwnedTwice (spec/ConsumerGroupProtocol.tla) from the clients'
side: no partition is in two live members' assignments at once.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from kio.schema.errors import ErrorCode
from refka.testing import RunningBroker, running_broker

from conformance.wire import Connection, build

PARTITIONS = 4
DEADLINE_S = 30.0
BROKER_CONFIGS = {
    "group_consumer_heartbeat_interval_ms": 300,
    "group_consumer_session_timeout_ms": 6_000,
    "group_initial_rebalance_delay_ms": 0,
}

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def broker() -> Iterator[RunningBroker]:
    with running_broker(**BROKER_CONFIGS) as b:  # type: ignore[arg-type]
        yield b


def new_topic(bootstrap: str, per_partition: int = 0) -> str:
    name = f"t-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(name, PARTITIONS, 1)]).values():
        future.result(10)
    if per_partition:
        producer = Producer({"bootstrap.servers": bootstrap})
        for p in range(PARTITIONS):
            for i in range(per_partition):
                producer.produce(name, f"{p}-{i}".encode(), partition=p)
        assert producer.flush(15) == 0
    return name


def wait_balanced(poll: Callable[[], list[set[int]]], sizes: list[int], what: str) -> None:
    """Poll until the members own ``sizes`` partitions each, checking NoPartitionOwnedTwice."""
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        owned = poll()
        seen: set[int] = set()
        for parts in owned:
            assert not (seen & parts), f"a partition has two owners: {owned}"
            seen |= parts
        if sorted(len(p) for p in owned) == sorted(sizes) and seen == set(range(PARTITIONS)):
            return
    raise AssertionError(f"{what}: not balanced within {DEADLINE_S} s: {owned}")


def committed(bootstrap: str, group: str, topic: str) -> dict[int, int]:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    result = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)])
    found = result[group].result(10)
    return {tp.partition: tp.offset for tp in found.topic_partitions if tp.topic == topic}


# -- the Java client ------------------------------------------------------------------------


class JavaMember:
    """``ConsumerProtocolProbe.java`` in its own JVM; ``owned()`` is its last ASSIGNED line."""

    def __init__(
        self,
        bootstrap: str,
        group: str,
        topic: str,
        assignor: str | None,
        probe_name: str = "ConsumerProtocolProbe.java",
    ) -> None:
        from refka.peers.kafka import libs_dir

        libs, java = libs_dir(), shutil.which("java")
        if java is None or not any(libs.glob("kafka-clients-*.jar")):
            pytest.skip("Java or the kafka-clients jar is missing (scripts/ensure-peers)")
        probe = Path(__file__).with_name("java") / probe_name
        args = [bootstrap, group, topic, *([assignor] if assignor else [])]
        self.process = subprocess.Popen(
            [java, "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp",
             f"{libs}/*", str(probe), *args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.strip())

    def owned(self) -> set[int]:
        assigned = [line.split()[1:] for line in self.lines if line.startswith("ASSIGNED")]
        return {int(p) for p in assigned[-1][0].split(",")} if assigned and assigned[-1] else set()

    def consumed(self) -> int:
        counts = [int(line.split()[1]) for line in self.lines if line.startswith("CONSUMED")]
        return counts[-1] if counts else 0

    def stop(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write("stop\n")
        self.process.stdin.flush()
        assert self.process.wait(30) == 0
        assert "CLOSED" in self.lines

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(10)


def poll_lines(members: list[JavaMember]) -> list[set[int]]:
    time.sleep(0.05)  # a JVM's output arrives on its own; this only paces the loop
    return [m.owned() for m in members]


def test_java_consumers_share_partitions_and_one_leaving_hands_over_with_commits(
    broker: RunningBroker,
) -> None:
    """Two Java consumers asking for the server-side ``range`` assignor (``uniform``, the
    default, is what the other tests get)."""
    assignor = "range"
    topic, group = new_topic(broker.bootstrap, per_partition=3), f"g-{uuid.uuid4().hex[:8]}"
    a = JavaMember(broker.bootstrap, group, topic, assignor)
    b = JavaMember(broker.bootstrap, group, topic, assignor)
    try:
        wait_balanced(lambda: poll_lines([a, b]), [2, 2], "two Java members")
        deadline = time.monotonic() + DEADLINE_S
        while a.consumed() + b.consumed() < 3 * PARTITIONS and time.monotonic() < deadline:
            time.sleep(0.05)
        a_parts = a.owned()
        a.stop()  # commits what it consumed, then leaves (member epoch -1)
        wait_balanced(lambda: poll_lines([b]), [PARTITIONS], "after one Java member left")
        offsets = committed(broker.bootstrap, group, topic)
        assert {p: offsets[p] for p in a_parts} == dict.fromkeys(a_parts, 3)
        b.stop()
        assert committed(broker.bootstrap, group, topic) == dict.fromkeys(range(PARTITIONS), 3)
    finally:
        a.kill()
        b.kill()


# -- librdkafka -----------------------------------------------------------------------------


def rdkafka_member(bootstrap: str, group: str, topic: str) -> Consumer:
    c = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "group.protocol": "consumer",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    c.subscribe([topic])
    return c


def owned(members: list[Consumer]) -> list[set[int]]:
    for c in members:
        c.poll(0.05)
    return [{tp.partition for tp in c.assignment()} for c in members]


def test_librdkafka_consumers_share_partitions_and_commits_survive_a_leave(
    broker: RunningBroker,
) -> None:
    topic, group = new_topic(broker.bootstrap, per_partition=2), f"g-{uuid.uuid4().hex[:8]}"
    a, b = (
        rdkafka_member(broker.bootstrap, group, topic),
        rdkafka_member(broker.bootstrap, group, topic),
    )

    try:
        wait_balanced(lambda: owned([a, b]), [2, 2], "two librdkafka members")
        a_parts = {tp.partition for tp in a.assignment()}
        deadline = time.monotonic() + DEADLINE_S
        mine = [TopicPartition(topic, p) for p in sorted(a_parts)]
        while any(tp.offset != 2 for tp in a.position(mine)):  # consumed both records of each
            assert time.monotonic() < deadline, a.position(mine)
            a.poll(0.05)
        a.commit(asynchronous=False)
        a.close()
        wait_balanced(lambda: owned([b]), [PARTITIONS], "after one member left")
        assert committed(broker.bootstrap, group, topic) == dict.fromkeys(a_parts, 2)
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        described = admin.describe_consumer_groups([group])[group].result(10)
        assert described.type.name == "CONSUMER" and len(described.members) == 1
        assert {tp.partition for tp in described.members[0].assignment.topic_partitions} == set(
            range(PARTITIONS)
        )
    finally:
        b.close()


def test_librdkafka_regex_subscription_picks_up_a_new_topic(broker: RunningBroker) -> None:
    """A regex subscription (``subscribed_topic_regex``) is resolved by the coordinator and
    follows topics created later."""
    prefix = f"rx-{uuid.uuid4().hex[:6]}"
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    for future in admin.create_topics([NewTopic(f"{prefix}-a", 2, 1)]).values():
        future.result(10)
    c = Consumer(
        {
            "bootstrap.servers": broker.bootstrap,
            "group.id": f"g-{uuid.uuid4().hex[:8]}",
            "group.protocol": "consumer",
            "topic.metadata.refresh.interval.ms": 500,
        }
    )
    c.subscribe([f"^{prefix}-.*"])

    def topics_owned() -> set[str]:
        c.poll(0.05)
        return {tp.topic for tp in c.assignment()}

    try:
        deadline = time.monotonic() + DEADLINE_S
        while topics_owned() != {f"{prefix}-a"}:
            assert time.monotonic() < deadline, c.assignment()
        for future in admin.create_topics([NewTopic(f"{prefix}-b", 1, 1)]).values():
            future.result(10)
        while topics_owned() != {f"{prefix}-a", f"{prefix}-b"}:
            assert time.monotonic() < deadline, c.assignment()
    finally:
        c.close()


def test_a_restart_keeps_the_group_its_epochs_and_its_commits(tmp_path: Path) -> None:
    """The group is replayed from its records in __consumer_offsets: after a restart the same
    member goes on at the same epochs, without a rebalance, and its commit is there."""

    def describe(bootstrap: str, group: str) -> tuple[int, list[tuple[str, int]]]:
        with Connection(bootstrap) as conn:
            request = build(69, 1, group_ids=(group,), include_authorized_operations=False)
            (g,) = conn.request(request).groups
        return g.group_epoch, sorted((m.member_id, m.member_epoch) for m in g.members)

    with running_broker(tmp_path / "data", **BROKER_CONFIGS) as b:  # type: ignore[arg-type]
        topic, group = new_topic(b.bootstrap, per_partition=1), "resume-cgroup"
        c = rdkafka_member(b.bootstrap, group, topic)
        try:
            d = rdkafka_member(b.bootstrap, group, topic)  # joins and leaves: epochs reach 3
            wait_balanced(lambda: owned([c, d]), [2, 2], "two members")
            d.close()
            wait_balanced(lambda: owned([c]), [PARTITIONS], "one member")
            c.commit(
                offsets=[TopicPartition(topic, 0, 1)],
                asynchronous=False,
            )
            before = describe(b.bootstrap, group)
            assert before[0] == 3 and before[1][0][1] == 3
            b.restart()
            deadline = time.monotonic() + DEADLINE_S
            while True:
                c.poll(0.05)
                try:
                    after = describe(b.bootstrap, group)
                except (OSError, AssertionError):
                    after = (-1, [])
                if after[1] and after == before:
                    break
                assert time.monotonic() < deadline, (before, after)
            assert committed(b.bootstrap, group, topic) == {0: 1}
        finally:
            c.close()


def test_a_consumer_protocol_member_upgrades_a_classic_group_of_java_consumers(
    broker: RunningBroker,
) -> None:
    """KIP-848's upgrade path: a classic Java consumer (eager range) forms a classic group; a
    Java consumer with group.protocol=consumer joins it, the group becomes a consumer group and
    the two share the partitions (the classic one through JoinGroup/SyncGroup/Heartbeat); when
    the new one leaves, the group is a classic group again (the downgrade) and the classic one
    gets every partition."""
    topic, group = new_topic(broker.bootstrap), f"g-{uuid.uuid4().hex[:8]}"
    classic = JavaMember(broker.bootstrap, group, topic, None, "GroupProbe.java")
    modern: JavaMember | None = None
    try:
        wait_balanced(lambda: poll_lines([classic]), [PARTITIONS], "the classic member alone")
        modern = JavaMember(broker.bootstrap, group, topic, None)
        wait_balanced(lambda: poll_lines([classic, modern]), [2, 2], "classic and consumer members")
        with Connection(broker.bootstrap) as conn:
            request = build(69, 1, group_ids=(group,), include_authorized_operations=False)
            (described,) = conn.request(request).groups
        assert sorted(m.member_type for m in described.members) == [0, 1]  # classic, consumer
        modern.stop()
        wait_balanced(lambda: poll_lines([classic]), [PARTITIONS], "after the consumer member left")
        with Connection(broker.bootstrap) as conn:  # downgraded: a classic group again
            (described,) = conn.request(request).groups
        assert described.error_code == ErrorCode.group_id_not_found
        classic.stop()
    finally:
        classic.kill()
        if modern is not None:
            modern.kill()
