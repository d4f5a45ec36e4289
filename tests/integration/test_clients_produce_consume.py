"""Unmodified clients produce to and consume from refka (issue 2).

confluent-kafka (librdkafka), kafka-python, aiokafka and kcat each produce with every
compression codec, idempotence on, to a 3-partition topic, with keys, headers and explicit
timestamps; then a client (the same one, or another) reads every partition from the beginning
by assignment. The records read must equal the records produced, and each partition's offsets
must run 0, 1, 2, ... without gaps.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import confluent_kafka
import kafka
import kafka.codec
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition as AioTopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from refka.protocol.batch_header import BatchHeader, iter_headers
from refka.testing import running_broker

CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]
CODEC_IDS = {codec: index for index, codec in enumerate(CODECS)}  # the attributes' bits 0-2
PARTITIONS = 3
RECORDS = 30
DEADLINE_S = 30.0
KCAT = shutil.which("kcat")
KCAT_HEADERS = (("trace", b"kcat"), ("empty", b""))


@dataclass(frozen=True, order=True)
class Rec:
    """One record as a producer sent it; ``timestamp_ms`` None when the client chose it."""

    partition: int
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...]
    timestamp_ms: int | None


@dataclass(frozen=True, order=True)
class Got:
    """One record as a consumer read it."""

    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...]
    timestamp_ms: int


def make_records(count: int, base_ms: int, *, kcat: bool = False) -> list[Rec]:
    """Records over all partitions; kcat cannot set timestamps or per-record headers."""
    records = []
    for i in range(count):
        key = None if i % 7 == 6 and not kcat else f"key-{i}".encode()
        value = f"value-{i}-".encode() * (1 + i % 9)
        headers = KCAT_HEADERS if kcat else (("trace", f"t{i}".encode()), ("empty", b""))
        records.append(Rec(i % PARTITIONS, key, value, headers, None if kcat else base_ms + i))
    return records


# --- producers: each returns only once every record is acknowledged ----------------------


def produce_confluent(bootstrap: str, topic: str, codec: str, records: list[Rec]) -> None:
    producer = confluent_kafka.Producer(
        {
            "bootstrap.servers": bootstrap,
            "enable.idempotence": True,
            "acks": "all",
            "compression.type": codec,
            "linger.ms": 5,
        }
    )
    errors: list[object] = []
    acked: list[object] = []

    def on_delivery(err: object, msg: object) -> None:
        (errors if err else acked).append(err or msg)

    for r in records:
        producer.produce(
            topic,
            value=r.value,
            key=r.key,
            partition=r.partition,
            headers=list(r.headers),
            timestamp=r.timestamp_ms or 0,
            on_delivery=on_delivery,
        )
    assert producer.flush(DEADLINE_S) == 0, "records still unacknowledged"
    assert errors == [] and len(acked) == len(records)


def produce_kafka_python(bootstrap: str, topic: str, codec: str, records: list[Rec]) -> None:
    if codec == "snappy" and not kafka.codec.has_snappy():
        pytest.skip("kafka-python needs the python-snappy package for snappy")
    producer = kafka.KafkaProducer(
        bootstrap_servers=bootstrap,
        enable_idempotence=True,
        acks="all",
        compression_type=None if codec == "none" else codec,
        linger_ms=5,
    )
    try:
        futures = [
            producer.send(
                topic,
                value=r.value,
                key=r.key,
                headers=list(r.headers),
                partition=r.partition,
                timestamp_ms=r.timestamp_ms,
            )
            for r in records
        ]
        producer.flush(DEADLINE_S)
        for future in futures:
            future.get(timeout=DEADLINE_S)
    finally:
        producer.close(timeout=5)


def produce_aiokafka(bootstrap: str, topic: str, codec: str, records: list[Rec]) -> None:
    async def run() -> None:
        producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap,
            enable_idempotence=True,
            acks="all",
            compression_type=None if codec == "none" else codec,
            linger_ms=5,
        )
        await producer.start()
        try:
            futures = [
                await producer.send(
                    topic,
                    value=r.value,
                    key=r.key,
                    partition=r.partition,
                    headers=list(r.headers),
                    timestamp_ms=r.timestamp_ms,
                )
                for r in records
            ]
            await asyncio.wait_for(asyncio.gather(*futures), DEADLINE_S)
        finally:
            await producer.stop()

    asyncio.run(run())


def produce_kcat(bootstrap: str, topic: str, codec: str, records: list[Rec]) -> None:
    """``kcat -P -K:``: one run per partition, keys before the colon, the same headers for all."""
    header_args = [arg for k, v in KCAT_HEADERS for arg in ("-H", f"{k}={v.decode()}")]
    for partition in range(PARTITIONS):
        lines = [
            f"{(r.key or b'').decode()}:{r.value.decode()}\n"
            for r in records
            if r.partition == partition
        ]
        command = [KCAT or "kcat", "-b", bootstrap, "-P", "-t", topic, "-p", str(partition)]
        command += ["-z", codec, "-K:", *header_args, "-X", "enable.idempotence=true"]
        result = subprocess.run(
            command, input="".join(lines).encode(), capture_output=True, timeout=DEADLINE_S
        )
        assert result.returncode == 0, result.stderr.decode(errors="replace")


# --- consumers: assign every partition, read from the beginning, no group -----------------


def consume_confluent(bootstrap: str, topic: str, count: int) -> list[Got]:
    consumer = confluent_kafka.Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "refka-tests-assign-only",
            "enable.auto.commit": False,
            "enable.partition.eof": False,
        }
    )
    consumer.assign(
        [
            confluent_kafka.TopicPartition(topic, p, confluent_kafka.OFFSET_BEGINNING)
            for p in range(PARTITIONS)
        ]
    )
    got: list[Got] = []
    deadline = time.monotonic() + DEADLINE_S
    try:
        while len(got) < count and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            assert msg.error() is None, msg.error()
            got.append(confluent_got(msg))
    finally:
        consumer.close()
    return got


def confluent_got(msg: confluent_kafka.Message) -> Got:
    partition, offset, value = msg.partition(), msg.offset(), msg.value()
    assert partition is not None and offset is not None and value is not None
    headers = cast(list[tuple[str, bytes]], msg.headers() or [])
    return Got(partition, offset, msg.key(), value, tuple(headers), msg.timestamp()[1])


def consume_kafka_python(bootstrap: str, topic: str, count: int) -> list[Got]:
    consumer = kafka.KafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    partitions = [kafka.TopicPartition(topic, p) for p in range(PARTITIONS)]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    got: list[Got] = []
    deadline = time.monotonic() + DEADLINE_S
    try:
        while len(got) < count and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                got += [
                    Got(m.partition, m.offset, m.key, m.value, tuple(m.headers), m.timestamp)
                    for m in batch
                ]
    finally:
        consumer.close()
    return got


def consume_aiokafka(bootstrap: str, topic: str, count: int) -> list[Got]:
    async def run() -> list[Got]:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        await consumer.start()
        got: list[Got] = []
        try:
            partitions = [AioTopicPartition(topic, p) for p in range(PARTITIONS)]
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            deadline = time.monotonic() + DEADLINE_S
            while len(got) < count and time.monotonic() < deadline:
                batches = await consumer.getmany(timeout_ms=500)
                for batch in batches.values():
                    got += [
                        Got(m.partition, m.offset, m.key, m.value, tuple(m.headers), m.timestamp)
                        for m in batch
                    ]
        finally:
            await consumer.stop()
        return got

    return asyncio.run(run())


def consume_kcat(bootstrap: str, topic: str, count: int) -> list[Got]:
    """``kcat -C -e -o beginning``: every partition until its end; -Z prints null as NULL."""
    fmt = "%p\t%o\t%k\t%s\t%T\t%h\n"
    command = [KCAT or "kcat", "-b", bootstrap, "-C", "-t", topic, "-e", "-o", "beginning"]
    result = subprocess.run(
        [*command, "-Z", "-q", "-f", fmt], capture_output=True, timeout=DEADLINE_S
    )
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    got = []
    for line in result.stdout.decode().splitlines():
        partition, offset, key, value, timestamp, headers = line.split("\t")
        pairs = [h.split("=", 1) for h in headers.split(",")] if headers else []
        got.append(
            Got(
                int(partition),
                int(offset),
                None if key == "NULL" else key.encode(),
                value.encode(),
                tuple((k, v.encode()) for k, v in pairs),
                int(timestamp),
            )
        )
    return got


Producer = Callable[[str, str, str, list[Rec]], None]
Consumer = Callable[[str, str, int], list[Got]]
PRODUCERS: dict[str, Producer] = {
    "confluent": produce_confluent,
    "kafka-python": produce_kafka_python,
    "aiokafka": produce_aiokafka,
    "kcat": produce_kcat,
}
CONSUMERS: dict[str, Consumer] = {
    "confluent": consume_confluent,
    "kafka-python": consume_kafka_python,
    "aiokafka": consume_aiokafka,
    "kcat": consume_kcat,
}


@pytest.fixture(scope="module", params=["refka", pytest.param("kafka", marks=pytest.mark.slow)])
def target(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Target]:
    """One broker for the module: refka, or (with --slow) Apache Kafka, to check the harness."""
    work_dir = tmp_path_factory.mktemp(request.param)
    if request.param == "refka":
        with running_broker(work_dir / "data", num_partitions=PARTITIONS) as broker:
            yield Target(broker.bootstrap, broker.data_dir)
        return
    from refka.peers.kafka import running_kafka
    from refka.peers.process import PeerUnavailable

    try:
        with running_kafka(work_dir) as peer:
            yield Target(peer.bootstrap, work_dir / "kafka-logs")
    except PeerUnavailable as unavailable:
        pytest.skip(f"Apache Kafka peer unavailable: {unavailable}")


def create_topic(bootstrap: str, topic: str) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic(topic, PARTITIONS, 1)], operation_timeout=10)
    futures[topic].result(DEADLINE_S)


@dataclass(frozen=True)
class Target:
    bootstrap: str
    log_dir: Path


def stored_batches(log_dir: Path, topic: str) -> list[BatchHeader]:
    """The headers of every batch in the topic's segment files, straight from disk."""
    return [
        header
        for partition in range(PARTITIONS)
        for segment in sorted((log_dir / f"{topic}-{partition}").glob("*.log"))
        for header in iter_headers(segment.read_bytes())
    ]


def round_trip(target: Target, producer: str, consumer: str, codec: str) -> None:
    if "kcat" in (producer, consumer) and KCAT is None:
        pytest.skip("kcat is not installed (scripts/ensure-peers installs it)")
    topic = f"{producer}-to-{consumer}-{codec}"
    bootstrap = target.bootstrap
    create_topic(bootstrap, topic)
    before_ms = int(time.time() * 1000)
    records = make_records(RECORDS, before_ms - 60_000, kcat=producer == "kcat")
    PRODUCERS[producer](bootstrap, topic, codec, records)
    after_ms = int(time.time() * 1000)
    got = CONSUMERS[consumer](bootstrap, topic, len(records))

    assert_contiguous(got)
    if producer == "kcat":  # kcat stamps CreateTime itself
        assert all(before_ms <= g.timestamp_ms <= after_ms for g in got), got
        got = [Got(g.partition, g.offset, g.key, g.value, g.headers, 0) for g in got]
        records = [Rec(r.partition, r.key, r.value, r.headers, 0) for r in records]
    produced = sorted(
        (r.partition, nullable(r.key), r.value, r.headers, r.timestamp_ms) for r in records
    )
    consumed = sorted(
        (g.partition, nullable(g.key), g.value, g.headers, g.timestamp_ms) for g in got
    )
    assert consumed == produced

    # The batches on disk are the producer's: its codec (compression.type=producer) and,
    # idempotence on, its producer id.
    batches = stored_batches(target.log_dir, topic)
    assert sum(b.last_offset_delta + 1 for b in batches) == len(records)
    assert {b.compression for b in batches} == {CODEC_IDS[codec]}
    assert all(b.has_producer_id and b.base_sequence >= 0 for b in batches), batches[:3]


def nullable(key: bytes | None) -> tuple[bool, bytes]:
    """A sortable key that tells null from empty."""
    return (key is not None, key or b"")


def assert_contiguous(got: list[Got]) -> None:
    """Each partition's offsets are 0, 1, 2, ... in the order read."""
    for partition in range(PARTITIONS):
        offsets = [g.offset for g in got if g.partition == partition]
        assert offsets == list(range(len(offsets))), (partition, offsets)


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("client", list(PRODUCERS))
def test_client_round_trip(target: Target, client: str, codec: str) -> None:
    round_trip(target, client, client, codec)


@pytest.mark.parametrize(
    ("producer", "consumer", "codec"),
    [
        ("confluent", "kafka-python", "zstd"),
        ("confluent", "aiokafka", "snappy"),
        ("kafka-python", "confluent", "gzip"),
        ("kafka-python", "aiokafka", "lz4"),
        ("aiokafka", "confluent", "lz4"),
        ("aiokafka", "kafka-python", "none"),
        ("kcat", "confluent", "zstd"),
        ("confluent", "kcat", "snappy"),
    ],
)
def test_cross_client(target: Target, producer: str, consumer: str, codec: str) -> None:
    round_trip(target, producer, consumer, codec)
