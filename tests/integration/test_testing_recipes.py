"""The recipes of docs/testing.md, exactly as a user would write them (no conftest needed once
refka is installed; here tests/conftest.py loads the plugin from the source tree)."""

from __future__ import annotations

import time

import confluent_kafka
import pytest

# --- Recipe 1: my producer survives a leader failover -----------------------------------------


@pytest.mark.refka(min_insync_replicas=2)
def test_my_producer_survives_a_leader_failover(refka_cluster):
    refka_cluster.create_topic("orders", partitions=1, replication_factor=3)
    producer = confluent_kafka.Producer(
        {"bootstrap.servers": refka_cluster.bootstrap, "acks": "all", "enable.idempotence": True}
    )
    delivered, failed = [], []

    def report(err, msg):
        (failed if err else delivered).append(msg.value())

    sent = [f"order-{n}".encode() for n in range(200)]
    for n, value in enumerate(sent):
        if n == 100:  # halfway: the leader dies
            refka_cluster.kill(refka_cluster.leader_of("orders", 0))
        producer.produce("orders", value, on_delivery=report)
        producer.poll(0)
    assert producer.flush(60) == 0
    assert failed == [] and sorted(delivered) == sorted(sent)

    consumer = confluent_kafka.Consumer(
        {"bootstrap.servers": refka_cluster.bootstrap, "group.id": "audit",
         "auto.offset.reset": "earliest"}
    )  # fmt: skip
    consumer.subscribe(["orders"])
    seen, deadline = [], time.monotonic() + 30
    while len(seen) < len(sent) and time.monotonic() < deadline:
        message = consumer.poll(0.2)
        if message is not None and not message.error():
            seen.append(message.value())
    consumer.close()
    assert seen == sent  # every order once, in order: no loss, no duplicate


# --- Recipe 2: my consumer resumes at its committed offsets after a broker restart ------------


def read(bootstrap, count):
    consumer = confluent_kafka.Consumer(
        {"bootstrap.servers": bootstrap, "group.id": "billing", "auto.offset.reset": "earliest",
         "enable.auto.commit": False}
    )  # fmt: skip
    consumer.subscribe(["invoices"])
    values, deadline = [], time.monotonic() + 30
    while len(values) < count and time.monotonic() < deadline:
        message = consumer.poll(0.2)
        if message is not None and not message.error():
            values.append(message.value())
            consumer.commit(message, asynchronous=False)
    consumer.close()
    return values


def test_my_consumer_resumes_at_its_committed_offsets_after_a_restart(refka_broker):
    refka_broker.create_topic("invoices", partitions=1)
    producer = confluent_kafka.Producer({"bootstrap.servers": refka_broker.bootstrap})
    for n in range(10):
        producer.produce("invoices", f"invoice-{n}".encode())
    assert producer.flush(10) == 0

    assert read(refka_broker.bootstrap, 4) == [f"invoice-{n}".encode() for n in range(4)]
    refka_broker.restart()  # the broker goes down and comes back on the same port and data
    assert read(refka_broker.bootstrap, 6) == [f"invoice-{n}".encode() for n in range(4, 10)]


# --- Recipe 3: my service with a slow broker --------------------------------------------------


def publish(bootstrap, value, timeout_s):
    """The service under test: publish one event, give up after ``timeout_s``."""
    producer = confluent_kafka.Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    producer.produce("events", value)
    return producer.flush(timeout_s) == 0


@pytest.mark.refka(proxy=True)  # clients reach the broker through a proxy the test controls
def test_my_service_gives_up_on_a_slow_broker(refka_broker):
    refka_broker.create_topic("events")
    assert publish(refka_broker.bootstrap, b"fast", timeout_s=10)

    refka_broker.slow(latency_ms=1500)  # every exchange now takes 1.5 s each way
    began = time.monotonic()
    assert not publish(refka_broker.bootstrap, b"slow", timeout_s=1)
    assert time.monotonic() - began < 5

    refka_broker.heal()
    assert publish(refka_broker.bootstrap, b"fast again", timeout_s=10)
