"""The client side of each measurement, with librdkafka (confluent-kafka).

Produce: values generated beforehand, timed from the first `produce()` to `flush()`'s return.
Consume: a consumer assigned every partition at offset 0, timed until it has seen every
message. Latency: one message at a time at a fixed rate, timed from `produce()` to its
delivery report.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from refka.bench.workloads import LatencyWorkload, ProduceWorkload

QUIET = {"log_level": 2, "log.connection.close": False}


@dataclass(frozen=True, slots=True)
class Throughput:
    messages: int
    value_bytes: int
    elapsed_s: float

    @property
    def mb_per_s(self) -> float:
        return self.messages * self.value_bytes / self.elapsed_s / 1e6

    @property
    def msgs_per_s(self) -> float:
        return self.messages / self.elapsed_s


def create_topics(
    bootstrap: str, topics: dict[str, int], replication_factor: int = 1, timeout_s: float = 60.0
) -> None:
    """Create `topics` (name -> partitions) and wait until every partition has a leader and
    every replica in its ISR (on a cluster the measured writes then go to all replicas)."""
    admin = AdminClient({"bootstrap.servers": bootstrap, **QUIET})
    futures = admin.create_topics(
        [NewTopic(name, partitions, replication_factor) for name, partitions in topics.items()],
        operation_timeout=timeout_s,
    )
    for future in futures.values():
        future.result(timeout=timeout_s)
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        metadata = admin.list_topics(timeout=10)
        ready = [
            name in metadata.topics
            and len(metadata.topics[name].partitions) == partitions
            and all(
                p.leader >= 0 and len(p.isrs) == len(p.replicas) == replication_factor
                for p in metadata.topics[name].partitions.values()
            )
            for name, partitions in topics.items()
        ]
        if all(ready):
            return
        time.sleep(0.05)
    raise TimeoutError(f"topics without leaders or full ISR after {timeout_s} s")


def produce(
    bootstrap: str, workload: ProduceWorkload, values: list[bytes], timeout_s: float
) -> Throughput:
    """Send the workload's messages round-robin over its partitions; time to `flush()`."""
    failed: list[Any] = []
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "acks": workload.acks,
            "compression.type": workload.compression,
            "linger.ms": 5,
            "batch.size": 1_000_000,
            "queue.buffering.max.messages": 2_000_000,
            "queue.buffering.max.kbytes": 2_000_000,
            "delivery.report.only.error": True,
            "on_delivery": lambda error, _: failed.append(error),
            **QUIET,
        }
    )
    producer.list_topics(workload.topic, timeout=10)  # connect and learn the leaders first
    send, topic, partitions = producer.produce, workload.topic, workload.partitions
    pool = len(values)
    started_s = time.perf_counter()
    for i in range(workload.messages):
        while True:
            try:
                send(topic, values[i % pool], partition=i % partitions)
                break
            except BufferError:
                producer.poll(0.005)
    left = producer.flush(timeout_s)
    elapsed_s = time.perf_counter() - started_s
    if left or failed:
        raise RuntimeError(f"{workload.topic}: {left} unsent, {len(failed)} failed: {failed[:3]}")
    return Throughput(workload.messages, workload.value_bytes, elapsed_s)


def consume(bootstrap: str, workload: ProduceWorkload, timeout_s: float) -> Throughput:
    """Read the workload's topic from offset 0 until every message has been seen."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "refka-bench",
            "enable.auto.commit": False,
            "enable.partition.eof": False,
            # librdkafka pauses a partition's fetches for fetch.queue.backoff.ms (default 1 s)
            # whenever its local queue passes queued.min.messages (100k): with 100 B values
            # that pause, not the broker, decided the figure.
            "fetch.queue.backoff.ms": 5,
            **QUIET,
        }
    )
    try:
        started_s = time.perf_counter()
        consumer.assign([TopicPartition(workload.topic, p, 0) for p in range(workload.partitions)])
        seen, end = 0, started_s + timeout_s
        while seen < workload.messages:
            if time.perf_counter() > end:
                raise TimeoutError(f"{workload.topic}: {seen}/{workload.messages} in {timeout_s}s")
            # consume() waits for all it asks for: never ask beyond the last message
            for message in consumer.consume(min(10_000, workload.messages - seen), 0.5):
                error = message.error()
                if error is None:
                    seen += 1
                elif error.code() != KafkaError._PARTITION_EOF:
                    raise KafkaException(error)
        elapsed_s = time.perf_counter() - started_s
    finally:
        consumer.close()
    return Throughput(seen, workload.value_bytes, elapsed_s)


def produce_latency(
    bootstrap: str, workload: LatencyWorkload, value: bytes, timeout_s: float
) -> tuple[float, float]:
    """Send at `rate_per_s`, one message per request; return the (p50, p99) in ms."""
    samples_s: list[float] = []
    failed: list[Any] = []
    producer = Producer(
        {"bootstrap.servers": bootstrap, "acks": workload.acks, "linger.ms": 0, **QUIET}
    )
    producer.list_topics(workload.topic, timeout=10)
    total = workload.warmup_messages + workload.messages

    def delivered(sent_s: float, counted: bool) -> Any:
        def report(error: Any, _: Any) -> None:
            if error is not None:
                failed.append(error)
            elif counted:
                samples_s.append(time.perf_counter() - sent_s)

        return report

    started_s = time.perf_counter()
    for i in range(total):
        due_s = started_s + i / workload.rate_per_s
        while (now_s := time.perf_counter()) < due_s:
            producer.poll(due_s - now_s)
        sent_s = time.perf_counter()
        producer.produce(
            workload.topic,
            value,
            partition=0,
            on_delivery=delivered(sent_s, i >= workload.warmup_messages),
        )
        producer.poll(0)
    left = producer.flush(timeout_s)
    if left or failed or len(samples_s) != workload.messages:
        raise RuntimeError(f"latency: {left} unsent, {len(failed)} failed: {failed[:3]}")
    cuts = statistics.quantiles(samples_s, n=100)
    return cuts[49] * 1000.0, cuts[98] * 1000.0
