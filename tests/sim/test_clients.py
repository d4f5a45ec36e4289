"""The simulator's wire-protocol clients against real cores on the in-process router.

One combined node (the controller core as node 1000 and the broker core as node 1 on one
``MemoryStorage``, as ``tests/integration/core_driver.py`` wires them) serves the clients,
which are nodes of the same router: every request is a frame kio encoded and the broker's
core parsed, every answer a frame the core wrote and kio decoded in the client.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable

import pytest
from kio.schema.errors import ErrorCode
from refka.config import BrokerConfig
from refka.core.effects import Effect, Send
from refka.core.network_client import NodeAddress
from refka.log.file_slice import FileSlice
from refka.log.storage import MemoryStorage
from refka.node import make_broker, make_controller
from refka.sim.clients import Leader, SimAdmin, SimConsumer, SimProducer
from refka.sim.history import History, Op
from refka.sim.router import Router

START_MS = 1_700_000_000_000
BROKER = 1
CONTROLLER = 1_000
TOPIC = "jepsen"
CONFIGS = {
    "offsets.topic.replication.factor": "1",
    "offsets.topic.num.partitions": "3",
    "group.initial.rebalance.delay.ms": "0",
}

PRODUCE, FETCH, LIST_OFFSETS, METADATA, OFFSET_COMMIT, OFFSET_FETCH = 0, 1, 2, 3, 8, 9
FIND_COORDINATOR, JOIN_GROUP, HEARTBEAT, SYNC_GROUP, CREATE_TOPICS, INIT_PRODUCER_ID = (
    10, 11, 12, 14, 19, 22,
)  # fmt: skip


class LossyBroker:
    """The broker core, whose answers to Produce can be lost (the request is handled, the
    answer dropped: what a connection that breaks after the write looks like to a client)."""

    def __init__(self, core: object) -> None:
        self.core = core
        self.drop_answers = False
        self.dropped = 0

    def _filter(self, effects: list[Effect]) -> list[Effect]:
        if not self.drop_answers:
            return effects
        kept = [e for e in effects if not isinstance(e, Send)]
        self.dropped += len(effects) - len(kept)
        return kept

    def __getattr__(self, name: str) -> Callable[..., list[Effect]]:
        method = getattr(self.core, name)
        if name != "on_request":
            return method  # type: ignore[no-any-return]
        return lambda connection, frame, now: (
            self._filter(method(connection, frame, now))
            if int.from_bytes(frame[:2], "big") == PRODUCE
            else method(connection, frame, now)
        )


class World:
    """A combined node and its clients on the router, with a fake clock."""

    def __init__(self, seed: int = 7) -> None:
        self.seed = seed
        self.storage = MemoryStorage()
        self.config = BrokerConfig.model_validate({"log.dirs": "data", **CONFIGS})
        self.router = Router(START_MS)
        self.history = History()
        controller = make_controller(self.config, self.storage, START_MS, seed)
        self.router.add_node(CONTROLLER, controller, self.read_slice)
        self.router.tick(CONTROLLER)
        self.broker = self._start_broker()
        self._next_client = 100

    def _start_broker(self) -> LossyBroker:
        address = NodeAddress(CONTROLLER, "controller", 0)
        core = make_broker(
            self.config, self.storage, self.now_ms, self.seed + 1, controller=address
        )
        broker = LossyBroker(core)
        self.router.add_node(BROKER, broker, self.read_slice)  # type: ignore[arg-type]
        self.router.tick(BROKER)
        self.run_until(lambda: core.ready, 10_000)
        return broker

    def restart_broker(self) -> None:
        """Stop the broker core and start a new one on the same storage (log recovery)."""
        self.router.set_down(BROKER)
        self.broker.core.shutdown(self.now_ms)  # type: ignore[attr-defined]
        del self.router.nodes[BROKER]
        self.broker = self._start_broker()

    @property
    def now_ms(self) -> int:
        return self.router.now_ms

    def read_slice(self, piece: FileSlice) -> bytes:
        return self.storage.read(piece.path, piece.position, piece.size)

    def add(self, make: Callable[[int], object]) -> int:
        node_id = self._next_client
        self._next_client += 1
        self.router.add_node(node_id, make(node_id))  # type: ignore[arg-type]
        return node_id

    def call(self, node_id: int, call: Callable[[int], Iterable[Effect]]) -> None:
        self.router.client_step(node_id, call)

    def run_until(
        self, done: Callable[[], bool], max_ms: int, every: Callable[[], None] | None = None
    ) -> None:
        """Advance the clock 10 ms at a time (calling ``every`` first) until ``done``."""
        deadline = self.now_ms + max_ms
        while not done():
            assert self.now_ms < deadline, f"not done after {max_ms} ms"
            if every is not None:
                every()
            self.router.advance(10)

    def create_topic(self, partitions: int) -> None:
        admin = SimAdmin(0, [BROKER], TOPIC, self.history)
        node = self.add(lambda _: admin)
        self.call(node, lambda now: admin.create_topic(now, partitions, replication_factor=1))
        self.run_until(lambda: TOPIC in admin.created, 5_000)
        assert admin.created[TOPIC] == ErrorCode.none
        self.call(node, lambda now: admin.list_offsets(now, partitions - 1))
        self.run_until(lambda: admin.offsets, 5_000)
        assert admin.offsets == {(TOPIC, partitions - 1, -1): 0}

    def producer(self, **options: int) -> SimProducer:
        settings = {"acks": -1, "idempotent": True, "retries": 10, **options}
        node = self.add(
            lambda i: SimProducer(i, [BROKER], TOPIC, history=self.history, seed=i, **settings)
        )
        producer = self.router.nodes[node].core
        assert isinstance(producer, SimProducer)
        return producer

    def consumer(self, group: str = "g", commit: str = "after") -> SimConsumer:
        node = self.add(
            lambda i: SimConsumer(i, [BROKER], group, TOPIC, commit, self.history, seed=i)
        )
        consumer = self.router.nodes[node].core
        assert isinstance(consumer, SimConsumer)
        return consumer

    def send(self, producer: SimProducer, values: Iterable[int], partitions: int) -> None:
        for value in values:
            self.call(
                producer.client_id, lambda now, v=value: producer.send(v % partitions, v, now)
            )
        self.run_until(lambda: producer.pending() == 0, 60_000)

    def poll_until(self, consumers: list[SimConsumer], done: Callable[[], bool]) -> None:
        def poll() -> None:
            for consumer in consumers:
                self.call(consumer.client_id, consumer.poll)

        self.run_until(done, 120_000, poll)

    def ops(self, process: int, f: str, type: str | None = None) -> list[Op]:
        return [
            op
            for op in self.history.ops
            if op.process == process and op.f == f and (type is None or op.type == type)
        ]

    def values_read(self, *consumers: SimConsumer) -> Counter[int]:
        return Counter(
            read[3]
            for c in consumers
            for op in self.ops(c.client_id, "poll", "ok")
            for read in op.reads
        )


def test_idempotent_sends_read_once_by_a_group_of_two_and_resumed_after_commit() -> None:
    world = World()
    world.create_topic(partitions=4)
    producer = world.producer()
    world.send(producer, range(20), partitions=4)
    first = world.consumer()
    world.poll_until([first], lambda: len(world.values_read(first)) == 20)
    assert first.assignment == (0, 1, 2, 3)

    second = world.consumer()  # the first member's heartbeat learns of the rebalance
    both = [first, second]
    world.poll_until(both, lambda: all(c.state == "stable" for c in both))
    world.send(producer, range(20, 40), partitions=4)
    world.poll_until(both, lambda: len(world.values_read(first, second)) == 40)
    assert world.values_read(first, second) == Counter(range(40)), "each value exactly once"
    oks = world.ops(producer.client_id, "send", "ok")
    assert sorted((op.partition, op.offset) for op in oks) == [
        (p, o) for p in range(4) for o in range(10)
    ]
    assert producer.decoded.keys() == {METADATA, INIT_PRODUCER_ID, PRODUCE}
    assert producer.failed_requests == 0

    until = world.now_ms + 3_000  # a few heartbeats, positions committed
    world.poll_until(both, lambda: world.now_ms >= until)
    generation = second.generation
    assert first.generation == generation
    [mine] = [a.partitions for a in first.assignments if a.generation == generation]
    [theirs] = [a.partitions for a in second.assignments if a.generation == generation]
    assert sorted(mine + theirs) == [0, 1, 2, 3] and len(mine) == len(theirs) == 2
    for consumer in both:
        assert consumer.positions == dict.fromkeys(consumer.assignment, 10)
        assert world.ops(consumer.client_id, "commit", "ok")
        assert not world.ops(consumer.client_id, "commit", "fail")
        assert consumer.failed_requests == 0
        assert {FIND_COORDINATOR, JOIN_GROUP, SYNC_GROUP, OFFSET_FETCH, FETCH, OFFSET_COMMIT,
                HEARTBEAT, METADATA} <= consumer.decoded.keys()  # fmt: skip
    assert LIST_OFFSETS in first.decoded  # nothing committed yet: reset to the earliest
    assert LIST_OFFSETS not in second.decoded
    assert first.assignments[0].partitions == (0, 1, 2, 3)
    second_start = world.ops(second.client_id, "assign", "ok")[0].offsets
    assert second_start == tuple((TOPIC, p, 5) for p in theirs), "from the first's commits"

    for consumer in both:
        world.call(consumer.client_id, consumer.close)
    world.send(producer, range(40, 48), partitions=4)
    third = world.consumer()
    world.poll_until([third], lambda: len(world.values_read(third)) == 8)
    [assigned] = world.ops(third.client_id, "assign", "ok")
    assert assigned.offsets == tuple((TOPIC, p, 10) for p in range(4)), "the committed offsets"
    assert world.values_read(third) == Counter(range(40, 48))


@pytest.mark.parametrize("idempotent", [True, False])
def test_a_retry_after_a_lost_answer_and_a_broker_restart(idempotent: bool) -> None:
    """The broker appends value 1 but its answer is lost; the producer retries the batch
    after the broker restarted. Idempotent: the retry is recognised (same offset, written
    once). Not idempotent: the value is written twice, as Kafka's producer does."""
    world = World()
    world.create_topic(partitions=1)
    producer = world.producer(idempotent=idempotent, request_timeout_ms=2_000)
    world.send(producer, [0], partitions=1)
    world.broker.drop_answers = True
    world.call(producer.client_id, lambda now: producer.send(0, 1, now))
    assert world.broker.dropped == 1 and producer.pending() == 1
    world.broker.drop_answers = False
    world.restart_broker()
    world.run_until(lambda: producer.pending() == 0, 60_000)
    world.send(producer, [2], partitions=1)

    sends = {op.value: op for op in world.ops(producer.client_id, "send") if op.type != "invoke"}
    assert {v: op.type for v, op in sends.items()} == {0: "ok", 1: "ok", 2: "ok"}
    assert producer.failed_requests >= 1  # the lost answer: the connection broke
    consumer = world.consumer()
    world.poll_until([consumer], lambda: 2 in world.values_read(consumer))
    reads = [r[2:] for op in world.ops(consumer.client_id, "poll", "ok") for r in op.reads]
    if idempotent:
        assert reads == [(0, 0), (1, 1), (2, 2)]
        assert sends[1].offset == 1
    else:
        assert reads == [(0, 0), (1, 1), (2, 1), (3, 2)], "the retry wrote value 1 again"
        assert sends[1].offset == 2


def test_acks_0_sends_are_unknown_and_written() -> None:
    world = World()
    world.create_topic(partitions=2)
    producer = world.producer(acks=0, idempotent=False)
    world.send(producer, range(10), partitions=2)
    completions = [op for op in world.ops(producer.client_id, "send") if op.type != "invoke"]
    assert [op.type for op in completions] == ["info"] * 10
    assert PRODUCE not in producer.decoded  # no answer came, none was expected
    consumer = world.consumer(commit="before")
    world.poll_until([consumer], lambda: len(world.values_read(consumer)) == 10)
    assert world.values_read(consumer) == Counter(range(10))
    polls = world.ops(consumer.client_id, "poll")
    commits = world.ops(consumer.client_id, "commit")
    assert commits and all(op.type in ("invoke", "ok") for op in commits)
    first_read = next(op for op in polls if op.reads)
    committed = [op for op in commits if op.type == "ok"]
    assert committed[0].index < first_read.index, "at-most-once: commit before processing"


def test_same_seed_same_history() -> None:
    def run() -> list[Op]:
        world = World(seed=3)
        world.create_topic(partitions=2)
        producer = world.producer()
        world.send(producer, range(6), partitions=2)
        consumer = world.consumer()
        world.poll_until([consumer], lambda: len(world.values_read(consumer)) == 6)
        return world.history.ops

    assert run() == run()


def test_a_group_member_survives_a_broker_restart() -> None:
    """The coordinator and the partitions' leader restart: the member finds its coordinator
    again (or rejoins) and reads the values written after, each at least once."""
    world = World()
    world.create_topic(partitions=2)
    producer = world.producer()
    world.send(producer, range(10), partitions=2)
    consumer = world.consumer()
    world.poll_until([consumer], lambda: len(world.values_read(consumer)) == 10)
    world.restart_broker()
    world.send(producer, range(10, 20), partitions=2)
    world.poll_until([consumer], lambda: len(world.values_read(consumer)) == 20)
    assert set(world.values_read(consumer)) == set(range(20))
    assert consumer.unreachable >= 1  # the restart broke its connection
    assert consumer.state == "stable"
    watermarks = [(w.partition, w.high_watermark) for w in consumer.high_watermarks]
    for partition in (0, 1):
        seen = [hw for p, hw in watermarks if p == partition]
        assert seen == sorted(seen) and seen[-1] == 10


def test_a_position_past_the_log_end_resets_to_the_earliest_offset() -> None:
    """OFFSET_OUT_OF_RANGE: auto.offset.reset=earliest, recorded as a new assign."""
    world = World()
    world.create_topic(partitions=1)
    producer = world.producer()
    world.send(producer, range(3), partitions=1)
    consumer = world.consumer()
    world.poll_until([consumer], lambda: len(world.values_read(consumer)) == 3)
    consumer.positions[0] = 1_000  # as if the log had been truncated below it
    world.poll_until([consumer], lambda: len(world.ops(consumer.client_id, "assign")) == 2)
    assert [op.offsets for op in world.ops(consumer.client_id, "assign")] == [
        ((TOPIC, 0, 0),),
        ((TOPIC, 0, 0),),
    ]
    world.poll_until([consumer], lambda: sum(world.values_read(consumer).values()) == 6)
    assert world.values_read(consumer) == Counter({0: 2, 1: 2, 2: 2})


def test_outcomes_fail_and_info() -> None:
    """fail: nothing can have been written (no such partition until delivery.timeout.ms; an
    error the broker gives before appending, retries exhausted); info: answers lost."""
    world = World()
    world.create_topic(partitions=1)
    nowhere = world.producer(delivery_timeout_ms=1_000)
    world.send(nowhere, [0], partitions=1)
    world.call(nowhere.client_id, lambda now: nowhere.send(5, 1, now))
    world.run_until(lambda: nowhere.pending() == 0, 5_000)
    [failed] = world.ops(nowhere.client_id, "send", "fail")
    assert (failed.value, failed.error) == (1, "delivery.timeout.ms expired")

    lost = world.producer(acks=1, idempotent=False, retries=2, request_timeout_ms=500)
    world.broker.drop_answers = True
    world.send(lost, [2], partitions=1)
    world.broker.drop_answers = False
    [unknown] = world.ops(lost.client_id, "send", "info")
    assert unknown.error == "request timed out (retries exhausted)"
    assert lost.failed_requests == 3  # the first attempt and two retries


def test_a_refused_batch_fails_and_the_producer_takes_a_new_id() -> None:
    """MESSAGE_TOO_LARGE is refused before the append: fail at once, no retry; the partition's
    next sequence would be out of order, so the next send runs under a fresh producer id."""
    world = World()
    admin = SimAdmin(0, [BROKER], "small", world.history)
    node = world.add(lambda _: admin)
    configs = {"max.message.bytes": "70"}  # a 61-byte header and one tiny record fit
    world.call(node, lambda now: admin.create_topic(now, 1, 1, configs))
    world.run_until(lambda: "small" in admin.created, 5_000)
    assert admin.created["small"] == ErrorCode.none
    producer = SimProducer(world._next_client, [BROKER], "small", -1, True, 3, world.history)
    world.add(lambda _: producer)
    world.call(producer.client_id, lambda now: producer.send(0, 7, now))
    world.run_until(lambda: producer.pending() == 0, 5_000)
    [failed] = world.ops(producer.client_id, "send", "fail")
    assert failed.error == "MESSAGE_TOO_LARGE"
    assert producer.decoded[PRODUCE] == 1
    world.call(producer.client_id, lambda now: producer.send(0, 8, now))
    world.run_until(lambda: producer.pending() == 0, 5_000)
    assert len(producer.producer_ids) == 2


def test_three_members_share_partitions_round_robin_and_a_leaving_one_hands_them_over() -> None:
    world = World()
    world.create_topic(partitions=4)
    members = [world.consumer(commit="before") for _ in range(3)]
    world.poll_until(
        members,
        lambda: (
            all(c.state == "stable" for c in members)
            and len({c.generation for c in members}) == 1
            and sum(len(c.assignment) for c in members) == 4
        ),
    )
    owned = sorted(c.assignment for c in members)
    assert owned == [(0, 3), (1,), (2,)]  # round-robin over the members sorted by id
    generation = members[0].generation

    leaving, staying = members[0], members[1:]
    world.call(leaving.client_id, leaving.close)
    world.poll_until(staying, lambda: all(c.generation > generation for c in staying))
    world.poll_until(staying, lambda: all(c.state == "stable" for c in staying))
    assert sorted(p for c in staying for p in c.assignment) == [0, 1, 2, 3]
    producer = world.producer()
    world.send(producer, range(12), partitions=4)
    world.poll_until(staying, lambda: len(world.values_read(*staying)) == 12)
    assert world.values_read(*staying) == Counter(range(12))


def test_a_fetch_with_an_epoch_the_broker_does_not_know_refreshes_the_leader() -> None:
    """KIP-320: the consumer's Fetch carries the leader epoch it knows; a newer one than the
    broker's is UNKNOWN_LEADER_EPOCH, and the consumer asks for metadata again."""
    world = World()
    world.create_topic(partitions=1)
    producer = world.producer()
    world.send(producer, range(3), partitions=1)
    consumer = world.consumer()
    world.poll_until([consumer], lambda: len(world.values_read(consumer)) == 3)
    assert consumer.leaders[0] == Leader(BROKER, 0)
    consumer.leaders[0] = Leader(BROKER, 5)  # as if it had heard of an election the broker missed
    world.send(producer, range(3, 6), partitions=1)
    world.poll_until([consumer], lambda: len(world.values_read(consumer)) == 6)
    assert consumer.errors["UNKNOWN_LEADER_EPOCH"] >= 1
    assert consumer.leaders[0] == Leader(BROKER, 0)
    assert world.values_read(consumer) == Counter(range(6))
