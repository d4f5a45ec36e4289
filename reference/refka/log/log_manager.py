"""Every partition log under one log directory, as Kafka's ``LogManager``.

On start it finds the ``<topic>-<partition>`` folders (the topic may itself contain ``-``; the
partition follows the last one), reads ``recovery-point-offset-checkpoint`` and
``log-start-offset-checkpoint`` at the root and opens each log from those offsets. It writes
them back every ``log.flush.offset.checkpoint.interval.ms`` and
``log.flush.start.offset.checkpoint.interval.ms`` respectively, and both on ``close()``; runs
retention every ``log.retention.check.interval.ms``, the ``flush.ms`` timers on every tick,
and the log cleaner (``refka.log.cleaner``) when it is due.

A deleted partition's folder is renamed ``<topic>-<partition>.<id>-delete`` and removed
``log.segment.delete.delay.ms`` later (Kafka's ``LogManager.asyncDelete``; the id is a hash,
not a random UUID, to stay deterministic); a ``-delete`` folder found on start is removed.
"""

from __future__ import annotations

from collections.abc import Callable

from refka.log.checkpoint import (
    LOG_START_OFFSET_CHECKPOINT,
    RECOVERY_POINT_CHECKPOINT,
    read_offsets,
    write_offsets,
)
from refka.log.cleaner import CleanerConfig, LogCleaner, Transactions
from refka.log.config import LogConfig
from refka.log.multi_dir import MultiDirStorage
from refka.log.partition_log import PartitionLog
from refka.log.storage import Storage, Volume

TopicPartition = tuple[str, int]
DELETE_DIR_SUFFIX = "-delete"
_SKIPPED_DIR_SUFFIXES = (DELETE_DIR_SUFFIX, "-future", "-stray")
_MAX_DIR_NAME = 255


METADATA_TOPIC = "__cluster_metadata"


def parse_dir_name(name: str) -> TopicPartition | None:
    """``my-topic-3`` -> ``("my-topic", 3)``; None for anything else."""
    topic, sep, partition = name.rpartition("-")
    if not sep or not topic or not partition.isdigit():
        return None
    return topic, int(partition)


def dir_name(topic: str, partition: int) -> str:
    return f"{topic}-{partition}"


def delete_dir_name(topic: str, partition: int, unique_id: str) -> str:
    """``<topic>-<partition>.<id>-delete``, the topic cut so the name fits 255 bytes."""
    suffix = f"-{partition}.{unique_id}{DELETE_DIR_SUFFIX}"
    return topic[: _MAX_DIR_NAME - len(suffix)] + suffix


class LogManager:
    """Owns the PartitionLogs of one log dir; the driver calls ``on_tick`` with the time."""

    def __init__(
        self,
        storage: Storage,
        now_ms: int,
        config_for: Callable[[str], LogConfig] | None = None,
        retention_check_interval_ms: int = 300_000,
        checkpoint_interval_ms: int = 60_000,
        start_offset_checkpoint_interval_ms: int = 60_000,
        cleaner: CleanerConfig | None = None,
        file_delete_delay_ms: int = 60_000,
        transactions: Transactions | None = None,
    ) -> None:
        """``transactions``: each partition's last stable offset and aborted transactions, for
        the cleaner (the replicas know them)."""
        self.storage = storage
        self.file_delete_delay_ms = file_delete_delay_ms  # log.segment.delete.delay.ms
        self.now_ms = now_ms  # the latest tick
        self.pending_dir_deletes: dict[str, int] = {}  # ``-delete`` folder -> when it goes
        self._deleted_count = 0
        self.config_for = config_for or (lambda _topic: LogConfig())
        self.retention_check_interval_ms = retention_check_interval_ms
        self.checkpoint_interval_ms = checkpoint_interval_ms
        self.logs: dict[TopicPartition, PartitionLog] = {}
        self.preferred_dirs: dict[TopicPartition, int] = {}  # AlterReplicaLogDirs ahead of time
        self.cleaner = LogCleaner(storage, cleaner or CleanerConfig(), now_ms, transactions)
        self.next_retention_check_ms = now_ms + retention_check_interval_ms
        self.next_checkpoint_ms = now_ms + checkpoint_interval_ms
        self.start_offset_checkpoint_interval_ms = start_offset_checkpoint_interval_ms
        self.next_start_offset_checkpoint_ms = now_ms + start_offset_checkpoint_interval_ms
        self._load_logs(now_ms)

    def _load_logs(self, now_ms: int) -> None:
        recovery_points = read_offsets(self.storage, RECOVERY_POINT_CHECKPOINT)
        log_start_offsets = read_offsets(self.storage, LOG_START_OFFSET_CHECKPOINT)
        for name in self.storage.list_dir(""):
            if name.endswith(_SKIPPED_DIR_SUFFIXES):
                if name.endswith("-delete"):
                    self.storage.delete(name)
                continue
            tp = parse_dir_name(name)
            if tp is None or tp[0] == METADATA_TOPIC or not self._is_dir(name):
                continue  # the controller's metadata log is not a partition of the broker
            self.logs[tp] = PartitionLog.open(
                self.storage,
                name,
                tp[0],
                tp[1],
                self.config_for(tp[0]),
                now_ms,
                recovery_point=recovery_points.get(tp, 0),
                log_start_offset=log_start_offsets.get(tp, 0),
            )

    def _is_dir(self, name: str) -> bool:
        try:
            self.storage.list_dir(name)
        except (NotADirectoryError, FileNotFoundError):
            return False
        return True

    def get(self, topic: str, partition: int) -> PartitionLog | None:
        return self.logs.get((topic, partition))

    def get_or_create(
        self, topic: str, partition: int, config: LogConfig, now_ms: int = 0
    ) -> PartitionLog:
        log = self.logs.get((topic, partition))
        if log is None:
            name = dir_name(topic, partition)
            preferred = self.preferred_dirs.pop((topic, partition), None)
            if preferred is not None and isinstance(self.storage, MultiDirStorage):
                self.storage.place(name, preferred)
            log = PartitionLog.open(self.storage, name, topic, partition, config, now_ms)
            self.logs[(topic, partition)] = log
        return log

    def delete(self, topic: str, partition: int) -> None:
        """Rename the partition's folder to a ``-delete`` name now; remove it after
        ``log.segment.delete.delay.ms`` (at once with a delay of 0)."""
        log = self.logs.pop((topic, partition), None)
        self.cleaner.forget((topic, partition))
        if log is None:
            return
        if self.file_delete_delay_ms <= 0:
            log.delete()
            return
        log.close_files()
        doomed = delete_dir_name(topic, partition, self._unique_id(log.dir_name))
        self.storage.rename(log.dir_name, doomed)
        self.pending_dir_deletes[doomed] = self.now_ms + self.file_delete_delay_ms

    def _unique_id(self, name: str) -> str:
        self._deleted_count += 1
        seed = f"{name}/{self.now_ms}/{self._deleted_count}".encode()
        import hashlib  # only a deletion or a move (hashlib costs the start ~1 ms)

        return hashlib.blake2b(seed, digest_size=16).hexdigest()

    def volumes(self) -> list[Volume]:
        """Each directory of ``log.dirs`` and its volume, in order (DescribeLogDirs)."""
        if isinstance(self.storage, MultiDirStorage):
            return self.storage.volumes()
        return [self.storage.volume()]

    def dir_paths(self) -> list[str]:
        """The absolute paths of ``log.dirs``, without touching the disk."""
        if isinstance(self.storage, MultiDirStorage):
            return self.storage.paths
        root = getattr(self.storage, "root_dir", None)
        return [root] if isinstance(root, str) else [self.storage.volume().path]

    def dir_index(self, topic: str, partition: int) -> int:
        """The index in ``log.dirs`` of the directory holding the partition's folder."""
        if isinstance(self.storage, MultiDirStorage):
            return self.storage.dir_of(dir_name(topic, partition))
        return 0

    def prefer_dir(self, topic: str, partition: int, index: int) -> None:
        """Where the partition goes if it is created here later (Kafka's preferred log dir:
        AlterReplicaLogDirs for a replica this broker does not have yet)."""
        self.preferred_dirs[(topic, partition)] = index

    def move(self, topic: str, partition: int, index: int) -> None:
        """AlterReplicaLogDirs (KIP-113): copy the partition's folder to the future folder
        ``<topic>-<partition>.<id>-future`` in directory ``index``, then swap: the original
        becomes a ``-delete`` folder, removed ``log.segment.delete.delay.ms`` later. The copy
        and the swap happen in one step, so no append falls between them."""
        log = self.logs[(topic, partition)]
        if (
            not isinstance(self.storage, MultiDirStorage)
            or self.dir_index(topic, partition) == index
        ):
            return
        log.flush(self.now_ms)
        unique_id = self._unique_id(log.dir_name)
        doomed = delete_dir_name(topic, partition, unique_id)
        self.storage.move(log.dir_name, index, f"{log.dir_name}.{unique_id}-future", doomed)
        self.pending_dir_deletes[doomed] = self.now_ms + max(self.file_delete_delay_ms, 0)

    def _delete_due_dirs(self, now_ms: int) -> None:
        for name, due in list(self.pending_dir_deletes.items()):
            if due <= now_ms:
                del self.pending_dir_deletes[name]
                if self.storage.exists(name):
                    self.storage.delete(name)

    def on_tick(self, now_ms: int) -> int:
        """Flush timers every tick, retention and checkpoints when due; returns the time the
        next of them falls due (for the driver's ``Wakeup``)."""
        self.now_ms = max(self.now_ms, now_ms)
        self._delete_due_dirs(now_ms)
        for log in self.logs.values():
            log.on_tick(now_ms)
        if now_ms >= self.next_retention_check_ms:
            for log in self.logs.values():
                log.delete_expired_segments(now_ms)
            self.next_retention_check_ms = now_ms + self.retention_check_interval_ms
        if now_ms >= self.next_checkpoint_ms:
            self.checkpoint_recovery_points()
            self.next_checkpoint_ms = now_ms + self.checkpoint_interval_ms
        if now_ms >= self.next_start_offset_checkpoint_ms:
            self.checkpoint_log_start_offsets()
            interval_ms = self.start_offset_checkpoint_interval_ms
            self.next_start_offset_checkpoint_ms = now_ms + interval_ms
        cleaner_due = self.cleaner.on_tick(now_ms, self.logs)
        flush_due = (log.last_flush_ms + log.config.flush_ms for log in self.logs.values())
        file_deletes = (log.next_file_delete_ms for log in self.logs.values())
        deletes_due = [d for d in file_deletes if d is not None]
        deletes_due.extend(self.pending_dir_deletes.values())
        checkpoints_due = (self.next_checkpoint_ms, self.next_start_offset_checkpoint_ms)
        due = min(self.next_retention_check_ms, *checkpoints_due, *flush_due, *deletes_due)
        return due if cleaner_due is None else min(due, cleaner_due)

    def checkpoint(self) -> None:
        """Write both offset checkpoint files at the log dir root."""
        self.checkpoint_recovery_points()
        self.checkpoint_log_start_offsets()

    def checkpoint_recovery_points(self) -> None:
        write_offsets(
            self.storage,
            RECOVERY_POINT_CHECKPOINT,
            {tp: log.recovery_point for tp, log in self.logs.items()},
        )

    def checkpoint_log_start_offsets(self) -> None:
        """As Kafka, a log start offset is only recorded where it lies past the first segment's
        base offset (DeleteRecords, KIP-107, moved it inside that segment)."""
        write_offsets(
            self.storage,
            LOG_START_OFFSET_CHECKPOINT,
            {
                tp: log.log_start_offset
                for tp, log in self.logs.items()
                if log.log_start_offset > log.segments[0].base_offset
            },
        )

    def close(self) -> None:
        """Flush and close every log, then checkpoint (recovery points equal the LEOs)."""
        for log in self.logs.values():
            log.close()
        self.checkpoint()
