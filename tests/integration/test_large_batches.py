"""Produce requests of about a megabyte (librdkafka's batch.size at 1 MB): such frames take the
framing's one-copy path and must come back byte for byte, in every codec."""

from __future__ import annotations

import time

import confluent_kafka
import pytest
from confluent_kafka.admin import AdminClient, NewTopic
from refka.testing import RunningBroker

RECORDS = 3000


@pytest.mark.parametrize("codec", ["none", "lz4", "zstd"])
def test_megabyte_batches_round_trip(broker: RunningBroker, codec: str) -> None:
    topic = f"large-{codec}"
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(10)
    values = [(b"%06d" % i) * 171 for i in range(RECORDS)]  # 1026 bytes each, compressible
    producer = confluent_kafka.Producer(
        {
            "bootstrap.servers": broker.bootstrap,
            "batch.size": 1_000_000,
            "linger.ms": 200,
            "compression.type": codec,
            "enable.idempotence": True,
        }
    )
    acked: list[int] = []
    for value in values:
        producer.produce(
            topic, value, on_delivery=lambda e, m: acked.append(m.offset()) if e is None else None
        )
    assert producer.flush(30) == 0
    assert sorted(acked) == list(range(RECORDS))

    consumer = confluent_kafka.Consumer(
        {
            "bootstrap.servers": broker.bootstrap,
            "group.id": f"g-{codec}",
            "enable.auto.commit": False,
        }
    )
    consumer.assign([confluent_kafka.TopicPartition(topic, 0, 0)])
    got: list[bytes] = []
    deadline = time.monotonic() + 30
    while len(got) < RECORDS and time.monotonic() < deadline:
        for message in consumer.consume(1000, 1.0):
            assert message.error() is None, message.error()
            got.append(message.value())
    consumer.close()
    assert got == values
