"""Consumer groups through real clients against a real refka broker process.

Every group test checks SingleOwnerPerGeneration from the clients' side: at every poll, no
partition is owned by two live consumers in one generation (a client's view of what it owns
must be the spec's: nothing while it rejoins), and after each rebalance the six partitions are
covered, each member owning some.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from kio.schema.errors import ErrorCode
from refka.testing import RunningBroker, running_broker

from conformance.wire import Connection, build

PARTITIONS = 6
SESSION_MS = 6_000
REBALANCE_DEADLINE_S = 30.0
BROKER_CONFIGS = {"group_initial_rebalance_delay_ms": 0, "group_min_session_timeout_ms": 1_000}

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def broker() -> Iterator[RunningBroker]:
    with running_broker(**BROKER_CONFIGS) as b:  # type: ignore[arg-type]
        yield b


def new_topic(bootstrap: str, partitions: int = PARTITIONS) -> str:
    name = f"t-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(name, partitions, 1)]).values():
        future.result(10)
    return name


def produce(bootstrap: str, topic: str, per_partition: int) -> None:
    producer = Producer({"bootstrap.servers": bootstrap})
    for p in range(PARTITIONS):
        for i in range(per_partition):
            producer.produce(topic, f"{p}-{i}".encode(), partition=p)
    assert producer.flush(15) == 0


Owned = tuple[int | None, set[int]]  # (generation if the client exposes it, partitions)


def check_single_owner(owned: list[Owned] | list[set[int]]) -> bool:
    """SingleOwnerPerGeneration: no partition owned twice within one generation (asserted).
    Returns whether the rebalance is over: one generation, every member owning some, every
    partition owned."""
    claims = [o if isinstance(o, tuple) else (None, o) for o in owned]
    by_generation: dict[int | None, set[int]] = {}
    for generation, partitions in claims:
        seen = by_generation.setdefault(generation, set())
        assert not (seen & partitions), f"a partition has two owners in one generation: {claims}"
        seen |= partitions
    (generation, seen), *others = by_generation.items()
    return not others and seen == set(range(PARTITIONS)) and all(p for _, p in claims)


def poll_until_balanced(poll: Callable[[], Any], what: str) -> float:
    """Poll every member until the group is balanced; returns the seconds it took."""
    start = time.monotonic()
    while time.monotonic() - start < REBALANCE_DEADLINE_S:
        if check_single_owner(poll()):
            return time.monotonic() - start
    raise AssertionError(f"{what}: group not balanced within {REBALANCE_DEADLINE_S} s")


# -- confluent-kafka (librdkafka) ---------------------------------------------------------


def confluent_consumer(bootstrap: str, group: str, topic: str, assignor: str) -> Consumer:
    c = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "partition.assignment.strategy": assignor,
            "session.timeout.ms": SESSION_MS,
            "heartbeat.interval.ms": 300,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    c.subscribe([topic])
    return c


def confluent_owned(consumers: list[Consumer]) -> list[set[int]]:
    for c in consumers:
        c.poll(0.02)
    return [{tp.partition for tp in c.assignment()} for c in consumers]


@pytest.mark.parametrize("assignor", ["range", "roundrobin", "cooperative-sticky"])
def test_confluent_two_then_three_then_two(broker: RunningBroker, assignor: str) -> None:
    topic, group = new_topic(broker.bootstrap), f"g-{uuid.uuid4().hex[:8]}"
    consumers = [confluent_consumer(broker.bootstrap, group, topic, assignor) for _ in range(2)]
    try:
        poll_until_balanced(lambda: confluent_owned(consumers), "two members")
        consumers.append(confluent_consumer(broker.bootstrap, group, topic, assignor))
        poll_until_balanced(lambda: confluent_owned(consumers), "three members")
        consumers.pop(0).close()  # LeaveGroup
        poll_until_balanced(lambda: confluent_owned(consumers), "after a member left")
    finally:
        for c in consumers:
            c.close()


def test_a_member_that_stops_heartbeating_loses_its_partitions(
    broker: RunningBroker, tmp_path: Path
) -> None:
    topic, group = new_topic(broker.bootstrap), f"g-{uuid.uuid4().hex[:8]}"
    marker = tmp_path / "assigned"
    script = (
        "import sys, pathlib, confluent_kafka as ck\n"
        "c = ck.Consumer({'bootstrap.servers': sys.argv[1], 'group.id': sys.argv[2],"
        f" 'session.timeout.ms': {SESSION_MS}, 'heartbeat.interval.ms': 300}})\n"
        "c.subscribe([sys.argv[3]])\n"
        "while True:\n"
        "    c.poll(0.1)\n"
        "    if c.assignment(): pathlib.Path(sys.argv[4]).touch()\n"
    )
    errors = (tmp_path / "stderr").open("w")
    other = subprocess.Popen(
        [sys.executable, "-c", script, broker.bootstrap, group, topic, str(marker)], stderr=errors
    )
    survivor = confluent_consumer(broker.bootstrap, group, topic, "range")
    try:
        deadline = time.monotonic() + REBALANCE_DEADLINE_S
        while True:
            owned = confluent_owned([survivor])[0]  # poll every time: revocation needs it
            if marker.exists() and 0 < len(owned) < PARTITIONS:
                break
            assert time.monotonic() < deadline, "the two members never shared the partitions"
            assert other.poll() is None, (tmp_path / "stderr").read_text()[-2000:]
        other.kill()  # no LeaveGroup, no more heartbeats
        other.wait(5)
        took_s = poll_until_balanced(lambda: confluent_owned([survivor]), "after the kill")
        assert took_s < SESSION_MS / 1000 + 5, f"partitions moved after {took_s:.1f} s"
    finally:
        other.kill()
        other.wait(5)
        survivor.close()


def test_static_member_restart_does_not_disturb_the_others(broker: RunningBroker) -> None:
    """KIP-345: a static member that comes back within its session gets its partitions back
    with no rebalance: the other member is never revoked (FENCED_INSTANCE_ID is covered by
    the state machine's unit tests)."""
    topic, group = new_topic(broker.bootstrap), f"g-{uuid.uuid4().hex[:8]}"
    revoked: list[list[int]] = []

    def static(instance: str, **callbacks: Any) -> Consumer:
        c = Consumer(
            {
                "bootstrap.servers": broker.bootstrap,
                "group.id": group,
                "group.instance.id": instance,
                "partition.assignment.strategy": "range",
                "session.timeout.ms": SESSION_MS,
                "heartbeat.interval.ms": 300,
            }
        )
        c.subscribe([topic], **callbacks)
        return c

    a = static("a")
    b = static("b", on_revoke=lambda _c, parts: revoked.append([p.partition for p in parts]))
    consumers = [a, b]
    try:
        poll_until_balanced(lambda: confluent_owned(consumers), "two static members")
        a_partitions = {tp.partition for tp in a.assignment()}
        revoked.clear()
        a.close()  # a static member sends no LeaveGroup: the group keeps its place
        consumers = [b]
        a = static("a")
        consumers = [a, b]
        poll_until_balanced(lambda: confluent_owned(consumers), "the static member back")
        assert {tp.partition for tp in a.assignment()} == a_partitions
        assert revoked == [], "the other member was rebalanced"
    finally:
        for c in consumers:
            c.close()


def test_java_client_and_librdkafka_share_a_group(broker: RunningBroker) -> None:
    """Apache Kafka's own consumer (kafka-clients 4.4) and a librdkafka consumer in one group."""
    from refka.peers.kafka import libs_dir

    libs = libs_dir()
    java = shutil.which("java")
    if java is None or not any(libs.glob("kafka-clients-*.jar")):
        pytest.skip("Java or the kafka-clients jar is missing (scripts/ensure-peers)")
    topic, group = new_topic(broker.bootstrap), f"g-{uuid.uuid4().hex[:8]}"
    probe = Path(__file__).with_name("java") / "GroupProbe.java"
    process = subprocess.Popen(
        [java, "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp",
         f"{libs}/*", str(probe), broker.bootstrap, group, topic],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    lines: list[str] = []

    def read_stdout() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)

    threading.Thread(target=read_stdout, daemon=True).start()

    def java_owned() -> set[int]:
        assigned = [line.split()[1:] for line in lines if line.startswith("ASSIGNED")]
        return {int(p) for p in assigned[-1][0].split(",")} if assigned and assigned[-1] else set()

    local = confluent_consumer(broker.bootstrap, group, topic, "range")
    try:
        poll_until_balanced(
            lambda: [java_owned(), *confluent_owned([local])], "Java and librdkafka members"
        )
        assert process.stdin is not None
        process.stdin.write("stop\n")
        process.stdin.flush()
        poll_until_balanced(lambda: confluent_owned([local]), "after the Java member left")
        assert process.wait(30) == 0
        assert "CLOSED\n" in lines
    finally:
        process.kill()
        process.wait(10)
        local.close()


# -- kafka-python --------------------------------------------------------------------------


def kafka_python_assignor(name: str) -> Any:
    from kafka.coordinator.assignors.cooperative_sticky import CooperativeStickyAssignor
    from kafka.coordinator.assignors.range import RangePartitionAssignor
    from kafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
    from kafka.coordinator.assignors.sticky.sticky_assignor import StickyPartitionAssignor

    return {
        "range": RangePartitionAssignor,
        "roundrobin": RoundRobinPartitionAssignor,
        "sticky": StickyPartitionAssignor,
        "cooperative-sticky": CooperativeStickyAssignor,
    }[name]


def kafka_python_consumer(bootstrap: str, group: str, topic: str, assignor: str) -> Any:
    """A kafka-python consumer subscribed to ``topic`` that knows the topic's partitions before
    its first ``poll``.

    kafka-python 3.0.12 can lose a rejoin that only a metadata change asked for. A leader that
    joins before it knows the topic assigns nothing, and rejoins once the metadata arrives; if
    the ``poll`` that sent that JoinGroup returns before the answer, the leader's own assignment
    step makes ``need_rejoin()`` false, so no later ``poll`` completes the join: no partitions,
    no heartbeats, the session expires, and the test waits out its deadline. (Kafka's Java
    client waits on a join in flight: ``AbstractCoordinator.rejoinNeededOrPending()``.) The
    group work runs on the client's I/O thread after the metadata listener, so a consumer that
    knows the partitions first assigns them all in its first generation and never needs that
    rejoin.
    """
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        partition_assignment_strategy=[kafka_python_assignor(assignor)],
        session_timeout_ms=SESSION_MS,
        heartbeat_interval_ms=300,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    deadline = time.monotonic() + REBALANCE_DEADLINE_S
    while consumer.partitions_for_topic(topic) != set(range(PARTITIONS)):
        assert time.monotonic() < deadline, f"kafka-python never learned the partitions of {topic}"
        consumer.topics()  # a fresh Metadata round trip
    return consumer


class KafkaPythonMember:
    """One kafka-python consumer polled by its own thread, as an application would.

    kafka-python (3.0.12) drops a join that completes while no ``poll`` is waiting on it and
    joins again, so round-robin polling of several consumers from one thread with short
    timeouts makes the client itself churn; a thread per consumer with long polls does not.
    """

    def __init__(self, bootstrap: str, group: str, topic: str, assignor: str) -> None:
        self.owned: Owned = (-1, set())
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, args=(bootstrap, group, topic, assignor), daemon=True
        )
        self._thread.start()

    def _run(self, bootstrap: str, group: str, topic: str, assignor: str) -> None:
        try:
            consumer = kafka_python_consumer(bootstrap, group, topic, assignor)
            try:
                while not self._stop.is_set():
                    consumer.poll(timeout_ms=1000)
                    # Owned only while the generation is stable: during a rebalance
                    # assignment() still lists the partitions it already revoked (eager).
                    generation = consumer._coordinator.generation_if_stable()
                    partitions = {tp.partition for tp in consumer.assignment()}
                    self.owned = (
                        (-1, set())
                        if generation is None
                        else (generation.generation_id, partitions)
                    )
            finally:
                consumer.close()
                self.owned = (-1, set())
        except BaseException as error:  # surfaced by the test thread
            self._error = error

    def close(self) -> None:
        self._stop.set()
        self._thread.join(30)
        if self._error is not None:
            raise self._error


def kafka_python_owned(members: list[KafkaPythonMember]) -> list[Owned]:
    time.sleep(0.02)  # the members poll in their own threads; sample their state
    return [m.owned for m in members]


def test_kafka_python_consumer_gets_its_partitions_with_polls_that_never_wait(
    broker: RunningBroker,
) -> None:
    """``poll(timeout_ms=0)`` leaves every JoinGroup in flight between polls, the window in which
    kafka-python 3.0.12 loses a rejoin (see ``kafka_python_consumer``): without the helper's
    wait for the topic's partitions, 3 of 4 such consumers never got their partitions."""
    topic = new_topic(broker.bootstrap)
    for _ in range(3):
        group = f"g-{uuid.uuid4().hex[:8]}"
        consumer = kafka_python_consumer(broker.bootstrap, group, topic, "range")
        try:
            owned: set[int] = set()
            deadline = time.monotonic() + REBALANCE_DEADLINE_S
            while owned != set(range(PARTITIONS)):
                assert time.monotonic() < deadline, f"{group} owns only {owned}"
                consumer.poll(timeout_ms=0)
                owned = {tp.partition for tp in consumer.assignment()}
        finally:
            consumer.close()


@pytest.mark.parametrize("assignor", ["range", "roundrobin", "sticky"])
def test_kafka_python_two_then_three_then_two(broker: RunningBroker, assignor: str) -> None:
    topic, group = new_topic(broker.bootstrap), f"g-{uuid.uuid4().hex[:8]}"
    members = [KafkaPythonMember(broker.bootstrap, group, topic, assignor) for _ in range(2)]
    try:
        poll_until_balanced(lambda: kafka_python_owned(members), "two members")
        members.append(KafkaPythonMember(broker.bootstrap, group, topic, assignor))
        poll_until_balanced(lambda: kafka_python_owned(members), "three members")
        members.pop(0).close()
        poll_until_balanced(lambda: kafka_python_owned(members), "after a member left")
    finally:
        for m in members:
            m.close()


# -- aiokafka ------------------------------------------------------------------------------


def aiokafka_assignor(name: str) -> Any:
    from aiokafka.coordinator.assignors.range import RangePartitionAssignor
    from aiokafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
    from aiokafka.coordinator.assignors.sticky.sticky_assignor import StickyPartitionAssignor

    return {
        "range": RangePartitionAssignor,
        "roundrobin": RoundRobinPartitionAssignor,
        "sticky": StickyPartitionAssignor,
    }[name]


def aiokafka_ownership(consumer: Any) -> Any:
    """A rebalance listener recording what ``consumer`` owns, as the spec's ``owned``: nothing
    from the moment it revokes its partitions to rejoin (eager protocol), then the partitions
    its SyncGroup answer gave it, with the generation they belong to.

    ``AIOKafkaConsumer.assignment()`` is not that: it keeps listing the revoked partitions until
    the member has processed its own SyncGroup response. The coordinator answers every member's
    SyncGroup at once, but each client handles its answer in its own task, so for a moment one
    member lists its new assignment while another still lists the previous generation's, and a
    partition the two generations place differently appears twice.
    """
    from aiokafka import ConsumerRebalanceListener

    class Ownership(ConsumerRebalanceListener):
        def __init__(self) -> None:
            self.owned: Owned = (-1, set())

        def on_partitions_revoked(self, revoked: Any) -> None:
            self.owned = (-1, set())

        def on_partitions_assigned(self, assigned: Any) -> None:
            generation = consumer._coordinator.generation  # the one whose SyncGroup answered
            self.owned = (generation, {tp.partition for tp in assigned})

    return Ownership()


@pytest.mark.parametrize("assignor", ["range", "roundrobin", "sticky"])
def test_aiokafka_two_then_three_then_two(broker: RunningBroker, assignor: str) -> None:
    from aiokafka import AIOKafkaConsumer

    topic, group = new_topic(broker.bootstrap), f"g-{uuid.uuid4().hex[:8]}"

    async def scenario() -> None:
        ownership: dict[AIOKafkaConsumer, Any] = {}

        async def member() -> AIOKafkaConsumer:
            c = AIOKafkaConsumer(
                bootstrap_servers=broker.bootstrap,
                group_id=group,
                partition_assignment_strategy=[aiokafka_assignor(assignor)],
                session_timeout_ms=SESSION_MS,
                heartbeat_interval_ms=300,
                auto_offset_reset="earliest",
                enable_auto_commit=False,
            )
            ownership[c] = aiokafka_ownership(c)
            c.subscribe([topic], listener=ownership[c])
            await c.start()
            return c

        async def balanced(consumers: list[AIOKafkaConsumer], what: str) -> None:
            start = time.monotonic()
            while time.monotonic() - start < REBALANCE_DEADLINE_S:
                for c in consumers:
                    await c.getmany(timeout_ms=20)
                if check_single_owner([ownership[c].owned for c in consumers]):
                    return
            raise AssertionError(f"{what}: group not balanced within {REBALANCE_DEADLINE_S} s")

        consumers = [await member(), await member()]
        try:
            await balanced(consumers, "two members")
            consumers.append(await member())
            await balanced(consumers, "three members")
            await consumers.pop(0).stop()
            await balanced(consumers, "after a member left")
        finally:
            for c in consumers:
                await c.stop()

    asyncio.run(scenario())


# -- kcat ------------------------------------------------------------------------------------


def test_kcat_consumes_as_a_group_member_and_commits(broker: RunningBroker) -> None:
    topic, group = new_topic(broker.bootstrap), f"g-{uuid.uuid4().hex[:8]}"
    produce(broker.bootstrap, topic, 2)
    out = subprocess.run(
        ["kcat", "-b", broker.bootstrap, "-G", group, "-X", "auto.offset.reset=earliest",
         "-c", str(2 * PARTITIONS), "-q", topic],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert sorted(out.stdout.split()) == sorted(
        f"{p}-{i}" for p in range(PARTITIONS) for i in (0, 1)
    )
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    committed = admin.list_consumer_group_offsets(
        [__import__("confluent_kafka").ConsumerGroupTopicPartitions(group)]
    )[group].result(10)
    # kcat commits what it consumed (auto commit) before it exits.
    assert {tp.partition: tp.offset for tp in committed.topic_partitions if tp.topic == topic} == {
        p: 2 for p in range(PARTITIONS)
    }


# -- admin clients ---------------------------------------------------------------------------


def test_admin_clients_list_and_describe_groups(broker: RunningBroker) -> None:
    from confluent_kafka import ConsumerGroupState
    from kafka.admin import KafkaAdminClient

    topic, group = new_topic(broker.bootstrap), f"g-{uuid.uuid4().hex[:8]}"
    consumers = [confluent_consumer(broker.bootstrap, group, topic, "range") for _ in range(2)]
    try:
        poll_until_balanced(lambda: confluent_owned(consumers), "two members")
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        listed = admin.list_consumer_groups(states={ConsumerGroupState.STABLE}).result(10)
        assert group in {g.group_id for g in listed.valid}
        described = admin.describe_consumer_groups([group])[group].result(10)
        assert described.state == ConsumerGroupState.STABLE
        assert described.partition_assignor == "range"
        owned = [{tp.partition for tp in m.assignment.topic_partitions} for m in described.members]
        assert sorted(len(o) for o in owned) == [3, 3]
        assert check_single_owner(owned)

        kp = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
        try:
            stable = kp.list_groups(states_filter=["Stable"])
            assert {"group_id": group, "protocol_type": "consumer"}.items() <= next(
                g for g in stable if g["group_id"] == group
            ).items()
            info = kp.describe_groups([group])[group]
            assert info["group_state"] == "Stable"
            assert len(info["members"]) == 2
        finally:
            kp.close()
    finally:
        for c in consumers:
            c.close()
    listed = admin.list_consumer_groups(states={ConsumerGroupState.EMPTY}).result(10)
    assert group in {g.group_id for g in listed.valid}
    result = admin.delete_consumer_groups([group])[group].result(10)
    assert result is None
    assert group not in {g.group_id for g in admin.list_consumer_groups().result(10).valid}


# -- offsets across a restart ---------------------------------------------------------------


def test_restart_keeps_committed_offsets_and_metadata(tmp_path: Path) -> None:
    with running_broker(tmp_path / "data", **BROKER_CONFIGS) as b:  # type: ignore[arg-type]
        topic, group = new_topic(b.bootstrap), "resume-group"
        produce(b.bootstrap, topic, 5)
        first = confluent_consumer(b.bootstrap, group, topic, "range")
        seen: dict[int, int] = {}
        deadline = time.monotonic() + REBALANCE_DEADLINE_S
        while sum(seen.values()) < 3 * PARTITIONS:
            assert time.monotonic() < deadline, f"consumed only {seen}"
            m = first.poll(0.1)
            if m is None or m.error() is not None:
                continue
            partition = int(m.partition() or 0)
            if seen.get(partition, 0) < 3:
                seen[partition] = seen.get(partition, 0) + 1
        commits = [TopicPartition(topic, p, 3, metadata=f"meta-{p}") for p in range(PARTITIONS)]
        first.commit(offsets=commits, asynchronous=False)
        first.close()
        b.restart()

        # A kafka-python consumer resumes exactly at the committed offsets.
        resumed = kafka_python_consumer(b.bootstrap, group, topic, "range")
        try:
            firsts: dict[int, int] = {}
            deadline = time.monotonic() + REBALANCE_DEADLINE_S
            while len(firsts) < PARTITIONS:
                assert time.monotonic() < deadline, f"resumed only {firsts}"
                for tp, records in resumed.poll(timeout_ms=100).items():
                    firsts.setdefault(tp.partition, records[0].offset)
            assert firsts == {p: 3 for p in range(PARTITIONS)}
        finally:
            resumed.close()
        # OffsetFetch v8 (KIP-709): two groups in one request, one of them unknown.
        from kafka.admin import KafkaAdminClient

        kp = KafkaAdminClient(bootstrap_servers=b.bootstrap)
        try:
            both = kp.list_group_offsets({group: None, "no-such-group": None})
        finally:
            kp.close()
        assert {tp.partition: o.offset for tp, o in both[group].items()} == {
            p: 3 for p in range(PARTITIONS)
        }
        assert both["no-such-group"] == {}
        check = Consumer({"bootstrap.servers": b.bootstrap, "group.id": group})
        try:
            stored = check.committed([TopicPartition(topic, p) for p in range(PARTITIONS)], 10)
            assert [(tp.offset, tp.metadata) for tp in stored] == [
                (3, f"meta-{p}") for p in range(PARTITIONS)
            ]
        finally:
            check.close()


# -- a zombie's commit --------------------------------------------------------------------


def test_zombie_commit_gets_illegal_generation_and_is_not_stored(broker: RunningBroker) -> None:
    topic, group = new_topic(broker.bootstrap), f"g-{uuid.uuid4().hex[:8]}"
    with Connection(broker.bootstrap, 30) as a, Connection(broker.bootstrap, 30) as b:
        a_id, generation = wire_join(a, group, "")
        sync = a.request(build(14, 3, group_id=group, generation_id=generation, member_id=a_id,
                               group_instance_id=None, assignments=()))  # fmt: skip
        assert sync.error_code == ErrorCode.none
        assert wire_commit(a, group, a_id, generation, topic, 7) == ErrorCode.none
        # B joins; A rejoins: generation + 1. A's old generation is now a zombie's.
        b_required = b.request(join_request(group, ""))
        assert b_required.error_code == ErrorCode.member_id_required
        b.send(join_request(group, b_required.member_id))
        _, new_generation = wire_join(a, group, a_id)
        assert new_generation == generation + 1
        assert wire_commit(a, group, a_id, generation, topic, 99) == ErrorCode.illegal_generation
        assert wire_commit(a, group, "gone", new_generation, topic, 99) == (
            ErrorCode.unknown_member_id
        )
        wanted = {"name": topic, "partition_indexes": (0,)}
        fetched = a.request(build(9, 5, group_id=group, topics=(wanted,)))
        assert fetched.topics[0].partitions[0].committed_offset == 7


def join_request(group: str, member_id: str) -> Any:
    return build(
        11,
        5,
        group_id=group,
        session_timeout=SESSION_MS,
        rebalance_timeout=SESSION_MS,
        member_id=member_id,
        group_instance_id=None,
        protocol_type="consumer",
        protocols=({"name": "range", "metadata": b""},),
    )


def wire_join(client: Connection, group: str, member_id: str) -> tuple[str, int]:
    response = client.request(join_request(group, member_id))
    if response.error_code == ErrorCode.member_id_required:
        response = client.request(join_request(group, response.member_id))
    assert response.error_code == ErrorCode.none
    return response.member_id, response.generation_id


def wire_commit(
    client: Connection, group: str, member_id: str, generation: int, topic: str, offset: int
) -> ErrorCode:
    partition = {"partition_index": 0, "committed_offset": offset, "committed_metadata": ""}
    response = client.request(
        build(
            8,
            5,
            group_id=group,
            generation_id_or_member_epoch=generation,
            member_id=member_id,
            topics=({"name": topic, "partitions": (partition,)},),
        )
    )
    return response.topics[0].partitions[0].error_code  # type: ignore[no-any-return]
