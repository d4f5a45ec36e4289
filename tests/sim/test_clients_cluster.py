"""The simulator's wire-protocol clients on a SimCluster: three brokers, replication factor 3,
and the leader of a partition crashes while the producer and a consumer group work."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import TypeVar

import pytest
from kio.schema.errors import ErrorCode
from refka.core.effects import Effect
from refka.sim.clients import Leader, SimAdmin, SimConsumer, SimProducer
from refka.sim.history import History

world = pytest.importorskip("refka.sim.world")

TOPIC = "jepsen"
FIRST_CLIENT = 100
CONFIGS = {
    "default.replication.factor": "3",
    "min.insync.replicas": "2",
    "offsets.topic.replication.factor": "3",
    "offsets.topic.num.partitions": "3",
    "group.initial.rebalance.delay.ms": "0",
}
C = TypeVar("C", SimAdmin, SimProducer, SimConsumer)


class Run:
    def __init__(self, seed: int) -> None:
        self.cluster = world.SimCluster(seed, brokers=3, configs=CONFIGS)
        self.cluster.start()
        self.history = History()
        self.clients = 0

    def add(self, make: Callable[[int], C]) -> C:
        client = make(FIRST_CLIENT + self.clients)
        self.clients += 1
        assert self.cluster.add_client(client) == client.client_id
        return client

    def call(self, client: C, call: Callable[[int], list[Effect]]) -> None:
        self.cluster.client_step(client.client_id, call, f"{client.kind} call")

    def until(
        self,
        done: Callable[[], bool],
        max_ms: int = 60_000,
        every: Callable[[], None] | None = None,
    ) -> None:
        """Run 10 ms at a time (calling ``every`` first) until ``done``."""
        deadline = self.cluster.now_ms + max_ms
        while not done():
            assert self.cluster.now_ms < deadline, f"not done after {max_ms} ms"
            if every is not None:
                every()
            self.cluster.run_for(10)

    def reads(self, consumer: SimConsumer) -> Counter[int]:
        return Counter(
            read[3]
            for op in self.history.ops
            if op.process == consumer.client_id and op.f == "poll" and op.type == "ok"
            for read in op.reads
        )


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_producer_and_group_across_a_leader_crash(seed: int) -> None:
    run = Run(seed)
    brokers = list(run.cluster.broker_ids)
    admin = run.add(lambda i: SimAdmin(i, brokers, TOPIC, run.history, seed=i))
    run.call(admin, lambda now: admin.create_topic(now, 2, 3, {"min.insync.replicas": "2"}))
    run.until(lambda: TOPIC in admin.created)
    assert admin.created[TOPIC] == ErrorCode.none

    producer = run.add(lambda i: SimProducer(i, brokers, TOPIC, -1, True, 20, run.history, seed=i))
    for value in range(20):
        run.call(producer, lambda now, v=value: producer.send(v % 2, v, now))
    run.until(lambda: producer.pending() == 0)
    consumer = run.add(lambda i: SimConsumer(i, brokers, "g", TOPIC, "after", run.history, seed=i))

    def poll() -> None:
        run.call(consumer, consumer.poll)

    run.until(lambda: len(run.reads(consumer)) == 20, every=poll)
    before = producer.leaders[0]
    run.cluster.crash(before.node)
    for value in range(20, 40):
        run.call(producer, lambda now, v=value: producer.send(v % 2, v, now))
    run.until(lambda: producer.pending() == 0, every=poll)
    after = producer.leaders[0]
    assert after.node != before.node and after.epoch > before.epoch

    sends = [op for op in run.history.ops if op.process == producer.client_id and op.f == "send"]
    acknowledged = {op.value for op in sends if op.type == "ok"}
    assert acknowledged >= set(range(20))
    run.until(lambda: acknowledged <= set(run.reads(consumer)), every=poll)
    assert consumer.leaders[0] == after  # it fetches with the new leader epoch (KIP-320)
    consumer.leaders[0] = Leader(after.node, before.epoch)  # as if it had missed the election
    run.call(producer, lambda now: producer.send(0, 40, now))
    run.until(lambda: 40 in run.reads(consumer), every=poll)
    assert consumer.errors["FENCED_LEADER_EPOCH"] >= 1
    assert consumer.leaders[0] == after
    run.cluster.restart(before.node)
    restarted_ms = run.cluster.now_ms
    run.until(lambda: (broker := run.cluster.broker(before.node)) is not None and broker.ready)
    run.until(lambda: run.cluster.now_ms >= restarted_ms + 3_000, every=poll)
    places: dict[int, set[tuple[int, int]]] = {}
    for op in run.history.ops:
        for _, partition, offset, value in op.reads:
            places.setdefault(value, set()).add((partition, offset))
    assert all(len(p) == 1 for p in places.values()), "idempotent: each value at one offset"
    assert acknowledged <= set(places), "every acknowledged value is read"
    # a value may be read twice: an unknown commit, then a rejoin from the committed offset
    assert producer.failed_requests + producer.unreachable >= 1
    assert consumer.state == "stable"
