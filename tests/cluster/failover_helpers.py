"""Helpers for the process-level failover tests: fast cluster timings, waiting on the
cluster's own Metadata answers, a producer that runs while brokers fail, and the checker that
every acknowledged record is in the log exactly once, in order, at the offset acknowledged.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TypeVar

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    Message,
    Producer,
    TopicPartition,
)
from kio.schema.errors import ErrorCode
from refka.peers.cluster_metadata import PartitionState, create_topic, describe
from refka.testing import RunningCluster

from conformance.probes import produce_request
from conformance.records import Record, build_batch
from conformance.wire import Connection, build

# Small timings so that a fence, an ISR shrink or a failover takes about a second.
FAST = {
    "broker.heartbeat.interval.ms": 200,
    "broker.session.timeout.ms": 1500,
    "replica.lag.time.max.ms": 1500,
    "replica.fetch.wait.max.ms": 100,
    "replica.fetch.backoff.ms": 100,
    "auto.leader.rebalance.enable": False,
}
DEADLINE_S = 20.0

T = TypeVar("T")


def wait_for(condition: Callable[[], T | None], what: str, timeout_s: float = DEADLINE_S) -> T:
    """Poll ``condition`` until it returns something truthy; fail naming ``what``."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout_s} s: {what}")
        time.sleep(0.05)


# ----------------------------------------------------------------------------- Metadata


def live_addresses(cluster: RunningCluster, among: Iterable[int] | None = None) -> list[str]:
    """The running brokers (of ``among``, default all): a paused one is running but silent."""
    ids = set(cluster.brokers) if among is None else set(among)
    return [b.bootstrap for i, b in cluster.brokers.items() if b.running and i in ids]


def partition(cluster: RunningCluster, topic: str, index: int = 0) -> PartitionState | None:
    """The partition as the first live broker that answers sees it (None: nobody knows it)."""
    for address in live_addresses(cluster):
        try:
            view = describe(address, (topic,))
        except OSError:
            continue
        return view.partitions.get((topic, index))
    return None


def partition_where(
    cluster: RunningCluster, topic: str, test: Callable[[PartitionState], bool], what: str,
    index: int = 0, among: Iterable[int] | None = None, timeout_s: float = DEADLINE_S,
) -> PartitionState:  # fmt: skip
    """Wait until every live broker's (of ``among``) Metadata shows the partition passing
    ``test``."""

    def check() -> PartitionState | None:
        states = []
        for address in live_addresses(cluster, among):
            try:
                state = describe(address, (topic,)).partitions.get((topic, index))
            except OSError:
                return None
            if state is None or not test(state):
                return None
            states.append(state)
        return states[0] if states else None

    return wait_for(check, f"{topic}-{index} {what}", timeout_s)


def replicated_topic(
    cluster: RunningCluster, name: str, partitions: int = 1, configs: dict[str, str] | None = None
) -> dict[int, PartitionState]:
    """Create an RF=3 topic and wait until every partition is fully in sync everywhere."""
    address = live_addresses(cluster)[0]
    assert create_topic(address, name, partitions, 3, configs) == ErrorCode.none
    return {
        p: partition_where(cluster, name, lambda s: s.fully_replicated, "in sync", p)
        for p in range(partitions)
    }


def produce_raw(
    address: str, topic: str, acks: int, index: int = 0, timeout_ms: int = 3000
) -> ErrorCode:
    """One record by a Produce v9 request straight to ``address``: the partition's error."""
    request = build(
        0, 9, **produce_request(topic, build_batch([Record(b"x")]), index, acks, timeout_ms)
    )
    with Connection(address) as conn:
        answer = conn.request(request, timeout_s=timeout_ms / 1000 + 5)
    return ErrorCode(answer.responses[0].partition_responses[0].error_code)


# ------------------------------------------------------------------------- the producer


@dataclass
class Acked:
    """What a producer was told: value -> (partition, offset) for each success, and failures."""

    acked: dict[int, tuple[int, int]] = field(default_factory=dict)
    failed: dict[int, str] = field(default_factory=dict)
    sent: int = 0  # records handed to the client
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def unanswered(self) -> int:
        with self.lock:
            return self.sent - len(self.acked) - len(self.failed)

    def ack(self, value: int, partition: int, offset: int) -> None:
        with self.lock:
            self.acked[value] = (partition, offset)

    def fail(self, value: int, error: str) -> None:
        with self.lock:
            self.failed[value] = error

    def count(self, partition: int | None = None) -> int:
        with self.lock:
            return sum(1 for p, _ in self.acked.values() if partition is None or p == partition)


def producer_config(bootstrap: str, **extra: object) -> dict[str, object]:
    return {
        "bootstrap.servers": bootstrap,
        "acks": "all",
        "enable.idempotence": True,
        "linger.ms": 2,
        "message.timeout.ms": 30000,
        "retry.backoff.ms": 50,
        "retry.backoff.max.ms": 200,
        "reconnect.backoff.ms": 50,
        "reconnect.backoff.max.ms": 200,
        "topic.metadata.refresh.interval.ms": 1000,
        **extra,
    }


class ProducerRun:
    """A confluent-kafka producer sending values 0, 1, 2 ... (value ``i`` to partition
    ``i % partitions``) in a thread until stopped, at most ``in_flight`` unanswered at once."""

    def __init__(
        self, bootstrap: str, topic: str, partitions: int, in_flight: int = 50, **config: object
    ) -> None:
        self.topic = topic
        self.partitions = partitions
        self.in_flight = in_flight
        self.result = Acked()
        self.producer = Producer(producer_config(bootstrap, **config))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> ProducerRun:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _report(self, value: int) -> Callable[[KafkaError | None, Message], None]:
        def report(error: KafkaError | None, message: Message) -> None:
            if error is None:
                self.result.ack(value, message.partition(), message.offset())
            else:
                self.result.fail(value, error.name())

        return report

    def _run(self) -> None:
        while not self._stop.is_set():
            if self.result.unanswered >= self.in_flight:
                self.producer.poll(0.005)
                continue
            value = self.result.sent
            self.producer.produce(
                self.topic, str(value).encode(), partition=value % self.partitions,
                on_delivery=self._report(value),
            )  # fmt: skip
            with self.result.lock:
                self.result.sent += 1
            self.producer.poll(0)
        self.producer.flush(60)

    def wait_acked(
        self, count: int, partition: int | None = None, timeout_s: float = DEADLINE_S
    ) -> None:
        wait_for(lambda: self.result.count(partition) >= count, f"{count} acknowledged", timeout_s)

    def stop(self) -> Acked:
        """Stop sending, wait for every answer (success or failure)."""
        self._stop.set()
        self._thread.join(90)
        assert not self._thread.is_alive(), "producer did not finish"
        return self.result


# ---------------------------------------------------------------- failing the leader


def stall_then_kill_leader(
    cluster: RunningCluster, topic: str, state: PartitionState, result: Acked, window: int
) -> tuple[PartitionState, float]:
    """Kill -9 the leader while records it appended are on the next leader but unacknowledged.

    The last follower (in replica order) is paused, so the high watermark stops while the first
    follower keeps fetching; once the producer has ``window`` records unanswered the leader is
    killed and the paused follower resumed (before its session runs out). The controller then
    elects the first follower, which holds records whose answers were lost: the producer's
    retries of them must be recognised as duplicates (idempotence across failover).
    Returns the partition once re-led everywhere, and the seconds from the kill to that."""
    followers = [r for r in state.replicas if r != state.leader]
    stalled = cluster.brokers[followers[-1]]
    stalled.pause()
    try:
        wait_for(lambda: result.unanswered >= window, "acks held back by a stalled follower", 10)
        cluster.brokers[state.leader].kill()
    finally:
        stalled.resume()
    killed = time.monotonic()
    after = partition_where(cluster, topic, lambda s: s.leader not in (-1, state.leader), "re-led")
    assert after.leader == followers[0], after
    return after, time.monotonic() - killed


# ---------------------------------------------------------------------- reading it back


def read_all(
    bootstrap: str, topic: str, partitions: int, timeout_s: float = DEADLINE_S
) -> dict[int, list[tuple[int, int]]]:
    """Every record of the topic up to each partition's high watermark:
    partition -> [(offset, value)] in offset order."""
    consumer = Consumer({
        "bootstrap.servers": bootstrap, "group.id": "failover-reader", "enable.auto.commit": False,
        "topic.metadata.refresh.interval.ms": 1000,
    })  # fmt: skip
    try:
        ends = {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in range(partitions)
        }
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
        got: dict[int, list[tuple[int, int]]] = {p: [] for p in range(partitions)}
        deadline = time.monotonic() + timeout_s
        while any(got[p][-1][0] + 1 < ends[p] if got[p] else ends[p] > 0 for p in got):
            assert time.monotonic() < deadline, (
                f"read { ({p: len(v) for p, v in got.items()}) } of {ends}"
            )
            message = consumer.poll(0.2)
            if message is None or message.error() is not None:
                continue
            got[message.partition()].append((message.offset(), int(message.value())))
        return got
    finally:
        consumer.close()


@dataclass(frozen=True, slots=True)
class Figures:
    """The failover figures: records acknowledged, read back, lost, duplicated, out of order,
    and acknowledged at an offset that holds another record."""

    acknowledged: int
    read: int
    lost: int
    duplicated: int
    out_of_order: int
    misplaced: int

    @property
    def exactly_once_in_order(self) -> bool:
        return not (self.lost or self.duplicated or self.out_of_order or self.misplaced)


def check_log(
    acked: dict[int, tuple[int, int]], log: dict[int, Iterable[tuple[int, int]]]
) -> Figures:
    """Compare what the producer was told with what the partitions hold.

    Values sent to one partition increase in send order, so the log of each partition must hold
    them increasing (idempotence keeps order across retries); values never acknowledged may be
    there (their answer was lost) but at most once too."""
    at: dict[tuple[int, int], int] = {}
    counts: Counter[int] = Counter()
    out_of_order = read = 0
    for p, records in log.items():
        last = -1
        for offset, value in records:
            read += 1
            at[(p, offset)] = value
            counts[value] += 1
            if value <= last:
                out_of_order += 1
            last = max(last, value)
    lost = sum(1 for v in acked if counts[v] == 0)
    duplicated = sum(n - 1 for n in counts.values() if n > 1)
    misplaced = sum(1 for v, place in acked.items() if counts[v] and at.get(place) != v)
    return Figures(len(acked), read, lost, duplicated, out_of_order, misplaced)
