"""Topic configs through real clients: creation, description, recompression, compaction, and
KIP-467 per-record errors (confluent-kafka against a refka broker process).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import confluent_kafka
import pytest
from confluent_kafka.admin import AdminClient, ConfigResource, ConfigSource, NewTopic
from refka.testing import running_broker

from conformance.probes import fetch
from conformance.records import GZIP, parse_batches
from conformance.target import Target

DEADLINE_S = 30.0


@pytest.fixture(scope="module")
def bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("topic-configs") / "data"
    with running_broker(data, log_cleaner_backoff_ms=50, log_min_insync_replicas=1) as broker:
        yield broker.bootstrap


def create(bootstrap: str, configs: dict[str, str]) -> str:
    name = f"cfg-{uuid.uuid4().hex[:10]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(name, 1, 1, config=configs)])[name].result(timeout=15)
    return name


def test_admin_creates_and_describes_topic_configs(bootstrap: str) -> None:
    configs = {
        "compression.type": "gzip",
        "cleanup.policy": "compact",
        "min.cleanable.dirty.ratio": "0.01",
        "delete.retention.ms": "100",
        "unclean.leader.election.enable": "true",
        "local.retention.ms": "1000",
    }
    name = create(bootstrap, configs)
    admin = AdminClient({"bootstrap.servers": bootstrap})
    resource = ConfigResource("topic", name)
    described = admin.describe_configs([resource])[resource].result(timeout=15)
    for key, value in configs.items():
        assert described[key].value == value
        assert described[key].source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value
    assert described["max.compaction.lag.ms"].value == str((1 << 63) - 1)
    assert described["max.compaction.lag.ms"].source == ConfigSource.DEFAULT_CONFIG.value
    alter = ConfigResource("topic", name, set_config={"compression.type": "lz4"})
    with pytest.warns(DeprecationWarning):  # AlterConfigs: replaces every override
        admin.alter_configs([alter])[alter].result(timeout=15)
    described = admin.describe_configs([resource])[resource].result(timeout=15)
    assert described["compression.type"].value == "lz4"
    assert described["cleanup.policy"].source == ConfigSource.DEFAULT_CONFIG.value  # replaced


def test_producer_writes_uncompressed_and_the_log_holds_gzip(bootstrap: str) -> None:
    name = create(bootstrap, {"compression.type": "gzip"})
    producer = confluent_kafka.Producer(
        {"bootstrap.servers": bootstrap, "compression.type": "none", "linger.ms": 5}
    )
    for i in range(20):
        producer.produce(name, key=b"k%d" % i, value=b"value-%d" % i * 10)
    assert producer.flush(DEADLINE_S) == 0
    target = Target.discover(bootstrap)
    try:
        batches = parse_batches(fetch(target, name, 0).records)
    finally:
        target.close()
    assert batches and all(b.attributes & 0x07 == GZIP for b in batches)
    values = [r.value for b in batches for r in b.records]
    assert values == [b"value-%d" % i * 10 for i in range(20)]


def consume_all(bootstrap: str, topic: str) -> list[tuple[int, bytes | None, bytes | None]]:
    """Everything from offset 0 up to the current end, by assignment."""
    consumer = confluent_kafka.Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "g-" + uuid.uuid4().hex,
            "enable.auto.commit": False,
        }
    )
    try:
        _, high = consumer.get_watermark_offsets(confluent_kafka.TopicPartition(topic, 0), 10)
        consumer.assign([confluent_kafka.TopicPartition(topic, 0, 0)])
        out: list[tuple[int, bytes | None, bytes | None]] = []
        deadline = time.monotonic() + DEADLINE_S
        while time.monotonic() < deadline:
            message = consumer.poll(0.2)
            if message is not None and message.error() is None:
                out.append((message.offset(), message.key(), message.value()))
            if out and out[-1][0] >= high - 1:
                break
        return out
    finally:
        consumer.close()


def test_compaction_visible_to_a_consumer_from_offset_0(bootstrap: str) -> None:
    name = create(
        bootstrap,
        {
            "cleanup.policy": "compact",
            "internal.segment.bytes": "1024",  # Kafka's own hook below the 1 MiB floor
            "min.cleanable.dirty.ratio": "0.01",
        },
    )
    producer = confluent_kafka.Producer({"bootstrap.servers": bootstrap, "linger.ms": 0})
    keys = [b"k%d" % k for k in range(5)]
    for round_ in range(10):
        for key in keys:
            producer.produce(name, key=key, value=b"%s-%d" % (key, round_) + b"." * 100)
        producer.flush(DEADLINE_S)
    # The active segment is never cleaned: two large last records (each flushed alone) roll the
    # last round out of it, however the client batched that round (one record of 600 bytes
    # rolls only a segment already past ~340; a batch over segment.bytes Kafka refuses).
    for _ in range(2):
        producer.produce(name, key=b"last", value=b"x" * 600)
        assert producer.flush(DEADLINE_S) == 0
    deadline = time.monotonic() + DEADLINE_S
    while True:
        seen = consume_all(bootstrap, name)
        per_key: dict[bytes | None, int] = {}
        for _, key, _ in seen:
            per_key[key] = per_key.get(key, 0) + 1
        if all(per_key.get(k) == 1 for k in keys):
            break
        assert time.monotonic() < deadline, f"not compacted in time: {per_key}"
        time.sleep(0.1)
    offsets = [o for o, _, _ in seen]
    assert offsets == sorted(offsets) and offsets[-1] == 51
    latest = {k: v for _, k, v in seen}
    for key in keys:
        assert latest[key] == b"%s-9" % key + b"." * 100


def test_keyless_records_on_a_compacted_topic_fail_as_kafka_fails_them(bootstrap: str) -> None:
    name = create(bootstrap, {"cleanup.policy": "compact"})
    producer = confluent_kafka.Producer(
        {
            "bootstrap.servers": bootstrap,
            "linger.ms": 200,
            "enable.idempotence": False,
            "retries": 0,
        }
    )
    reports: list[tuple[bytes | None, int | None]] = []
    for i in range(4):
        producer.produce(
            name,
            key=b"k%d" % i if i % 2 == 0 else None,
            value=b"v%d" % i,
            on_delivery=lambda e, m: reports.append((m.key(), e.code() if e else None)),
        )
    producer.flush(DEADLINE_S)
    invalid = confluent_kafka.KafkaError.INVALID_RECORD
    other = confluent_kafka.KafkaError._INVALID_DIFFERENT_RECORD
    assert reports == [(b"k0", other), (None, invalid), (b"k2", other), (None, invalid)]


def _names(folder: Path, suffix: str) -> set[str]:
    return (
        {p.name for p in folder.iterdir() if p.name.endswith(suffix)} if folder.exists() else set()
    )


def _poll(condition: Callable[[], object], what: str) -> object:
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def test_removed_segments_and_folders_wait_file_delete_delay(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with running_broker(
        data, log_retention_check_interval_ms=100, log_segment_delete_delay_ms=1500
    ) as broker:
        configs = {
            "internal.segment.bytes": "1024",
            "retention.ms": "200",
            "file.delete.delay.ms": "1500",
        }
        name = create(broker.bootstrap, configs)
        producer = confluent_kafka.Producer({"bootstrap.servers": broker.bootstrap})
        for i in range(40):
            producer.produce(name, value=b"v%03d" % i * 20)
        assert producer.flush(DEADLINE_S) == 0
        folder = data / f"{name}-0"
        seen = _poll(lambda: _names(folder, ".log.deleted"), "a .deleted segment")
        first = sorted(seen)[0]  # type: ignore[call-overload]
        assert not (folder / first.removesuffix(".deleted")).exists()
        _poll(lambda: first not in _names(folder, ".log.deleted"), f"{first} to go")
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        admin.delete_topics([name])[name].result(timeout=15)
        doomed = _poll(lambda: _names(data, "-delete"), "the -delete folder")
        assert all(n.startswith(f"{name}-0.") for n in doomed)  # type: ignore[union-attr]
        assert not folder.exists()
        _poll(lambda: not _names(data, "-delete"), "the -delete folder to go")
