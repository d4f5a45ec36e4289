"""Client byte-rate quotas enforced as Kafka does (KIP-13, KIP-219), seen by real clients: a
confluent-kafka producer or consumer whose client id has a quota is slowed to about that rate,
and librdkafka reports the broker's ``throttle_time_ms`` in its statistics.

The broker keeps two 1 s quota windows (``quota.window.num=2``) so that the first burst a quota
allows (a whole measuring window's worth) is small against the test's few seconds. The bounds
are generous: they check the quota, not refka's speed.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from kio.schema.errors import ErrorCode
from refka.testing import running_broker

from conformance.wire import Connection, build

RATE = 50_000  # bytes per second
RUN_S = 3.0
VALUE = b"x" * 1000


@pytest.fixture(scope="module")
def bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("quotas") / "data"
    with running_broker(data, quota_window_num=2) as broker:
        yield broker.bootstrap


def set_quota(bootstrap: str, client_id: str, key: str, value: float) -> None:
    entry = {
        "entity": [{"entity_type": "client-id", "entity_name": client_id}],
        "ops": [{"key": key, "value": value, "remove": False}],
    }
    with Connection(bootstrap) as conn:
        answer = conn.request(build(49, 1, entries=[entry], validate_only=False))
    assert answer.entries[0].error_code == ErrorCode.none
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # the broker learns it from the metadata log
        component = {"entity_type": "client-id", "match_type": 0, "match": client_id}
        with Connection(bootstrap) as conn:
            found = conn.request(build(48, 1, components=[component], strict=False))
        if found.entries:
            return
        time.sleep(0.05)
    raise AssertionError(f"the broker never listed the quota of {client_id}")


class Throttles:
    """The largest broker throttle time librdkafka's statistics reported."""

    def __init__(self) -> None:
        self.max_ms = 0

    def __call__(self, stats_json: str) -> None:
        for broker in json.loads(stats_json)["brokers"].values():
            self.max_ms = max(self.max_ms, broker.get("throttle", {}).get("max", 0))


def test_a_producer_over_its_quota_is_slowed_to_it(bootstrap: str) -> None:
    client_id = f"slow-producer-{uuid.uuid4().hex[:8]}"
    set_quota(bootstrap, client_id, "producer_byte_rate", RATE)
    throttles = Throttles()
    producer = Producer({
        "bootstrap.servers": bootstrap, "client.id": client_id, "acks": 1, "linger.ms": 5,
        "batch.size": 10_000,
        "statistics.interval.ms": 100, "stats_cb": throttles,
    })  # fmt: skip
    topic = f"quota-{uuid.uuid4().hex[:8]}"
    acked: list[float] = []

    def delivered(error: Any, message: Any) -> None:
        if error is None:
            acked.append(time.monotonic())

    start = time.monotonic()
    while time.monotonic() - start < RUN_S:
        try:
            producer.produce(topic, VALUE, on_delivery=delivered)
        except BufferError:
            producer.poll(0.01)
        producer.poll(0)
    elapsed = time.monotonic() - start
    producer.purge()  # what is still queued locally does not count, nor what is acked later
    producer.flush(30)
    rate = sum(1 for t in acked if t <= start + elapsed) * len(VALUE) / elapsed
    print(
        f"\nproducer over a {RATE} B/s quota: {rate:.0f} B/s, throttle up to {throttles.max_ms} ms"
    )
    assert RATE / 4 < rate < 2.5 * RATE
    assert throttles.max_ms > 0


def test_a_consumer_over_its_quota_is_slowed_to_it(bootstrap: str) -> None:
    topic = f"quota-{uuid.uuid4().hex[:8]}"
    # small batches: a Fetch returns at least one whole batch, whatever its max_bytes (KIP-74)
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, "batch.size": 10_000})
    for _ in range(int(4 * RATE * RUN_S / len(VALUE))):  # more than the quota lets through
        producer.produce(topic, VALUE)
        producer.poll(0)
    assert producer.flush(30) == 0
    client_id = f"slow-consumer-{uuid.uuid4().hex[:8]}"
    set_quota(bootstrap, client_id, "consumer_byte_rate", RATE)
    throttles = Throttles()
    consumer = Consumer({
        "bootstrap.servers": bootstrap, "client.id": client_id, "group.id": client_id,
        "enable.auto.commit": False, "statistics.interval.ms": 100, "stats_cb": throttles,
    })  # fmt: skip
    consumer.assign([TopicPartition(topic, 0, 0)])
    received = 0
    start = time.monotonic()
    try:
        while time.monotonic() - start < RUN_S:
            message = consumer.poll(0.05)
            if message is not None and message.error() is None:
                received += len(message.value())
        elapsed = time.monotonic() - start
    finally:
        consumer.close()
    rate = received / elapsed
    print(
        f"\nconsumer over a {RATE} B/s quota: {rate:.0f} B/s, throttle up to {throttles.max_ms} ms"
    )
    assert RATE / 4 < rate < 2.5 * RATE
    assert throttles.max_ms > 0
