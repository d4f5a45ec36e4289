"""``replication-offset-checkpoint``: every hosted partition's high watermark, at the log dir root.

Kafka's ``ReplicaManager`` writes it every ``replica.high.watermark.checkpoint.interval.ms``
(``checkpointHighWatermarks``) and on a clean shutdown, and reads it when it opens a replica: the
replica's HW starts at the checkpointed one, bounded by the log (``UnifiedLog.updateHighWatermark``:
at least the log start offset, at most the LEO). Without it a restarted replica would serve
nothing to consumers until it relearned the HW (Replication.tla ``ConsumerReadHighWatermark``).

A checkpointed HW is one the replica held before, so starting from it keeps the HW a consumer
sees from moving backwards (``HighWatermarkMonotonic``); a leader still exposes it only under
KIP-207 (``Replica.is_high_watermark_exposable``).

Entries of logs found on start whose replica is not open yet (the metadata has not named it)
are carried into the next write, so an early periodic checkpoint does not forget them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from refka.log.checkpoint import REPLICATION_OFFSET_CHECKPOINT, read_offsets, write_offsets
from refka.log.storage import Storage
from refka.replica import Replica, ReplicaRole

TopicPartition = tuple[str, int]


class HighWatermarkCheckpoint:
    """Reads the file once on start, hands each HW out once (``take``), writes when due."""

    def __init__(self, storage: Storage, interval_ms: int) -> None:
        self.storage = storage
        self.interval_ms = interval_ms  # replica.high.watermark.checkpoint.interval.ms
        self.loaded: dict[TopicPartition, int] = read_offsets(
            storage, REPLICATION_OFFSET_CHECKPOINT
        )
        self.next_due_ms: int | None = None  # set by the first tick

    def take(self, tp: TopicPartition) -> int | None:
        """The checkpointed HW of a replica being opened (None if there is none)."""
        return self.loaded.pop(tp, None)

    def on_tick(
        self,
        now_ms: int,
        replicas: Mapping[TopicPartition, Replica],
        logs: Iterable[TopicPartition],
    ) -> None:
        """Write the file when the interval has passed since the last write (or the first tick)."""
        if self.next_due_ms is None:
            self.next_due_ms = now_ms + self.interval_ms
        elif now_ms >= self.next_due_ms:
            self.write(replicas, logs)
            self.next_due_ms = now_ms + self.interval_ms

    def write(
        self, replicas: Mapping[TopicPartition, Replica], logs: Iterable[TopicPartition]
    ) -> None:
        """Every open replica's HW, plus the loaded ones of logs not opened as replicas yet."""
        on_disk = set(logs)
        hws = {tp: hw for tp, hw in self.loaded.items() if tp in on_disk}
        for tp, replica in replicas.items():
            if replica.role is not ReplicaRole.STOPPED:
                hws[tp] = replica.high_watermark
        write_offsets(self.storage, REPLICATION_OFFSET_CHECKPOINT, hws)
