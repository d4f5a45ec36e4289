"""``replication-offset-checkpoint``: the HWs written every
``replica.high.watermark.checkpoint.interval.ms`` and on a clean stop, read back on start as
min(checkpointed HW, LEO), so a restarted replica serves consumers at once."""

from __future__ import annotations

from kio.schema.errors import ErrorCode
from refka.log.checkpoint import REPLICATION_OFFSET_CHECKPOINT, read_offsets, write_offsets
from refka.log.config import LogConfig
from refka.log.partition_log import PartitionLog
from refka.log.storage import MemoryStorage
from refka.replica import Replica
from refka.replication.replica_manager import ReplicaManager
from replication_helpers import TOPIC, Cluster, client_batch, epochs_of

TP = (TOPIC, 0)


def hws_on_disk(cluster: Cluster, node: int) -> dict[tuple[str, int], int]:
    return read_offsets(cluster.storages[node], REPLICATION_OFFSET_CHECKPOINT)


def replicated(records: int = 5, partitions: int = 1) -> Cluster:
    cluster = Cluster(partitions=partitions)
    for p in range(partitions):
        cluster.produce(records, partition=p)
    cluster.run()
    assert all(
        cluster.replica(n, p).high_watermark == records
        for n in (1, 2, 3)
        for p in range(partitions)
    )
    return cluster


def consumer_read(manager: ReplicaManager) -> tuple[int, int]:
    """A KIP-392 consumer Fetch (v11+, so a follower may answer) from offset 0:
    (high watermark, bytes read)."""
    read = manager.read_for_consumer(TOPIC, 0, -1, 0, 1 << 20, True, False, False)
    assert read.error_code == ErrorCode.none and read.read is not None
    return read.read.high_watermark, read.read.size


def test_the_file_is_written_when_the_interval_has_passed() -> None:
    cluster = replicated(partitions=2)
    cluster.tick(100)  # the first tick starts the interval (5000 ms, Kafka's default)
    cluster.tick(4_000)
    assert not cluster.storages[1].exists(REPLICATION_OFFSET_CHECKPOINT)
    assert cluster.managers[1].next_deadline_ms() == 5_100
    cluster.tick(1_000)
    assert hws_on_disk(cluster, 1) == {(TOPIC, 0): 5, (TOPIC, 1): 5}
    text = cluster.storages[2].read(REPLICATION_OFFSET_CHECKPOINT, 0, 100)
    assert text == b"0\n2\nt 0 5\nt 1 5\n"  # followers too, in Kafka's format
    cluster.produce(2)
    cluster.run()
    cluster.tick(4_000)
    assert hws_on_disk(cluster, 1)[TP] == 5  # not yet due again
    cluster.tick(1_000)
    assert hws_on_disk(cluster, 1)[TP] == 7


def test_a_clean_stop_writes_the_file() -> None:
    cluster = replicated()
    cluster.restart(2)
    assert hws_on_disk(cluster, 2) == {TP: 5}


def test_a_restarted_follower_serves_the_committed_log_before_it_fetches() -> None:
    """The effect a consumer sees: without the checkpoint the follower's HW would be 0 until
    its first fetch from the leader, and a consumer reading from it would get nothing."""
    cluster = replicated()
    cluster.restart(2)
    cluster.publish([TP], nodes=[2])  # a follower again; its first fetch is not delivered yet
    manager = cluster.managers[2]
    assert manager.replica(TOPIC, 0) is not None
    hw, size = consumer_read(manager)
    assert hw == 5 and size > 0


def test_a_restarted_leader_keeps_its_hw_and_exposes_it_at_once() -> None:
    """Re-elected before any follower fetched: the HW is the checkpointed one, not the log
    start, and KIP-207 lets ListOffsets show it (it reaches the new epoch's start)."""
    cluster = replicated()
    cluster.restart(1)
    cluster.elect(1)  # a new epoch, starting at the LEO 5
    leader = cluster.replica(1)
    assert leader.followers[2].log_end_offset == -1  # nothing learned from followers yet
    assert leader.high_watermark == 5 and leader.is_high_watermark_exposable
    cluster.run()
    assert cluster.replica(1).high_watermark == 5
    assert epochs_of(cluster.replica(2)) == epochs_of(cluster.replica(1))


def test_without_a_clean_stop_the_last_periodic_checkpoint_is_used() -> None:
    cluster = replicated()
    cluster.tick(100)
    cluster.tick(5_000)  # checkpoint at HW 5
    cluster.produce(3)
    cluster.run()
    assert cluster.replica(2).high_watermark == 8
    cluster.restart(2, clean=False)
    cluster.publish([TP], nodes=[2])
    assert cluster.replica(2).high_watermark == 5
    cluster.run()
    assert cluster.replica(2).high_watermark == 8  # relearned from the leader


def test_hws_of_logs_not_yet_opened_are_kept() -> None:
    """A checkpoint written before the metadata names a replica keeps the loaded HW."""
    cluster = replicated()
    cluster.restart(3)
    cluster.managers[3].checkpoint_high_watermarks()  # no replica open yet
    assert hws_on_disk(cluster, 3) == {TP: 5}
    cluster.publish([TP], nodes=[3])
    assert cluster.replica(3).high_watermark == 5


def test_the_hw_starts_at_min_of_checkpoint_and_leo() -> None:
    storage = MemoryStorage()
    log = PartitionLog.open(storage, f"{TOPIC}-0", TOPIC, 0, LogConfig(), 0)
    Replica(log, 1, 0).append_as_leader(client_batch(4), 0, 1, 1)  # LEO 4
    assert Replica(log, 1, 0, high_watermark=3).high_watermark == 3
    assert Replica(log, 1, 0, high_watermark=100).high_watermark == 4  # a lost tail
    assert Replica(log, 1, 0).high_watermark == 0  # no checkpoint: the log start
    log.increment_log_start_offset(2)
    assert Replica(log, 1, 0, high_watermark=1).high_watermark == 2


def test_the_file_is_read_back_by_a_new_manager() -> None:
    cluster = replicated()
    cluster.restart(2)
    write_offsets(cluster.storages[2], REPLICATION_OFFSET_CHECKPOINT, {TP: 3})
    cluster.restart(2, clean=False)
    assert cluster.managers[2].hw_checkpoint.loaded == {TP: 3}
    cluster.publish([TP], nodes=[2])
    assert cluster.replica(2).high_watermark == 3
