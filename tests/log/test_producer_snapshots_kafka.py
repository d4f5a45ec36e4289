"""A ``.snapshot`` Apache Kafka 4.4 wrote decodes with refka's reader, with the producers it
saw: an idempotent producer's last sequence, and a transactional producer's open transaction.
Kafka writes the snapshot at clean shutdown (SIGTERM), named after the log end offset."""

from __future__ import annotations

import subprocess
from pathlib import Path

import confluent_kafka
import pytest
from confluent_kafka.admin import AdminClient, NewTopic
from refka.log.producer_snapshot import decode, encode, snapshot_offset

DEADLINE_S = 30.0


def produce(bootstrap: str) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic("snap", 1, 1)])["snap"].result(DEADLINE_S)
    idempotent = confluent_kafka.Producer(
        {"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 0}
    )
    for i in range(5):
        idempotent.produce("snap", f"v{i}".encode(), partition=0)
        idempotent.flush(DEADLINE_S)  # five batches: sequences 0 to 4
    txn = confluent_kafka.Producer({"bootstrap.servers": bootstrap, "transactional.id": "snap-t"})
    txn.init_transactions(DEADLINE_S)
    txn.begin_transaction()
    txn.produce("snap", b"t0", partition=0)
    txn.produce("snap", b"t1", partition=0)
    txn.flush(DEADLINE_S)  # left open: the snapshot holds its first offset


def test_a_kafka_written_snapshot_decodes(tmp_path: Path) -> None:
    from refka.peers.kafka import start_kafka
    from refka.peers.process import PeerUnavailable

    try:
        peer = start_kafka(tmp_path)
    except PeerUnavailable as unavailable:
        pytest.skip(f"Apache Kafka peer unavailable: {unavailable}")
    try:
        produce(peer.bootstrap)
        peer.process.terminate()  # a clean shutdown writes the snapshot
        peer.process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail(f"Kafka did not shut down cleanly:\n{peer.log_tail()}")
    finally:
        peer.stop()
    partition_dir = tmp_path / "kafka-logs" / "snap-0"
    offsets = sorted(
        o for p in partition_dir.iterdir() if (o := snapshot_offset(p.name)) is not None
    )
    assert offsets, sorted(p.name for p in partition_dir.iterdir())
    newest = offsets[-1]
    assert (partition_dir / f"{newest:020d}.snapshot").is_file()
    data = (partition_dir / f"{newest:020d}.snapshot").read_bytes()
    entries = decode(data)
    assert encode(entries) == data  # refka writes the same bytes for the same entries
    assert len(entries) == 2, entries
    plain = next(e for e in entries if e.current_txn_first_offset == -1)
    txn = next(e for e in entries if e.current_txn_first_offset != -1)
    assert (plain.last_sequence, plain.last_offset, plain.offset_delta) == (4, 4, 0)
    assert plain.producer_epoch == 0 and plain.timestamp_ms > 0
    assert txn.current_txn_first_offset == 5
    assert (txn.last_offset, newest) == (6, 7), entries
    assert txn.producer_id != plain.producer_id and txn.producer_id >= 0
