"""A partition replica, as Replication.tla models it: log, log end offset, high watermark,
leader epoch, leader-epoch cache and producer state.

On one node the replica is the leader and its ISR is itself, so the high watermark follows the
log end offset; replication extends this state machine (follower log end offsets, ISR changes,
truncation on BecomeFollower) rather than replacing it.

Actions (Replication.tla): ``append_as_leader`` (LeaderAppend), ``maybe_increment_high_watermark``
(AdvanceHighWatermark), ``become_leader`` (BecomeLeader), ``truncate_to`` (Truncate).
"""

from __future__ import annotations

from dataclasses import dataclass

from kio.schema.errors import ErrorCode

from refka.core.effects import FileSlice
from refka.log.leader_epoch_cache import LeaderEpochCache
from refka.log.partition_log import PartitionLog
from refka.producer_state import ProducerStateManager, SequenceDuplicate, SequenceError
from refka.protocol import compression
from refka.protocol import records as batches
from refka.protocol.batch_header import BatchHeader, iter_headers, read_header

TARGET_CODECS = {
    "uncompressed": compression.NONE,
    "gzip": compression.GZIP,
    "snappy": compression.SNAPPY,
    "lz4": compression.LZ4,
    "zstd": compression.ZSTD,
}


@dataclass(frozen=True, slots=True)
class AppendResult:
    """The answer for one partition of a Produce request."""

    error_code: ErrorCode = ErrorCode.none
    base_offset: int = -1
    log_append_time_ms: int = -1
    log_start_offset: int = -1
    error_message: str | None = None
    record_errors: tuple[tuple[int, str], ...] = ()  # KIP-467: (batch index, message)


@dataclass(frozen=True, slots=True)
class ReadResult:
    """What a Fetch gets from one replica."""

    slices: list[FileSlice]
    high_watermark: int
    last_stable_offset: int
    log_start_offset: int
    size: int


class Replica:
    """One replica of one partition; on a single node it is always the leader."""

    def __init__(
        self,
        log: PartitionLog,
        replica_id: int,
        leader_epoch: int,
    ) -> None:
        self.log = log
        self.epoch_cache: LeaderEpochCache = log.leader_epoch_cache
        self.replica_id = replica_id
        self.leader_epoch = leader_epoch
        self.isr: frozenset[int] = frozenset({replica_id})
        self.replica_log_end_offsets: dict[int, int] = {}
        self.producer_state = ProducerStateManager()
        self.high_watermark = log.log_start_offset
        self._rebuild_producer_state()
        self.maybe_increment_high_watermark()

    @property
    def topic(self) -> str:
        return self.log.topic

    @property
    def partition(self) -> int:
        return self.log.partition

    @property
    def log_end_offset(self) -> int:
        return self.log.log_end_offset

    @property
    def log_start_offset(self) -> int:
        return self.log.log_start_offset

    @property
    def last_stable_offset(self) -> int:
        """No transactions yet: everything below the high watermark is stable."""
        return self.high_watermark

    def become_leader(self, leader_epoch: int) -> None:
        """BecomeLeader: start a new epoch at the current log end offset (KIP-101)."""
        self.leader_epoch = leader_epoch
        self.epoch_cache.assign(leader_epoch, self.log_end_offset)
        self.maybe_increment_high_watermark()

    def append_as_leader(
        self,
        records: bytes,
        now_ms: int,
        min_insync_replicas: int,
        required_acks: int,
        produce_version: int | None = None,
        from_client: bool = True,
    ) -> AppendResult:
        """LeaderAppend: validate one producer batch, assign offsets, append to the log."""
        config = self.log.config
        log_append_time = config.message_timestamp_type == "LogAppendTime"
        window = None
        if from_client and not log_append_time:
            window = (
                now_ms - config.message_timestamp_before_max_ms,
                now_ms + config.message_timestamp_after_max_ms,
            )
        try:
            headers = batches.validate_batches(
                records,
                config.max_message_bytes,
                from_client=from_client,
                produce_version=produce_version,
                log_append_time=log_append_time,
                timestamp_window_ms=window,
                compacted_partition=f"{self.topic}-{self.partition}" if config.compacts else None,
                max_decompressed_bytes=config.max_decompressed_message_bytes,
            )
        except batches.InvalidRecordError as error:
            return AppendResult(
                error.error_code,
                error_message=error.client_message,
                record_errors=error.record_errors,
            )
        header = headers[0]
        if required_acks == -1 and len(self.isr) < min_insync_replicas:
            return AppendResult(ErrorCode.not_enough_replicas)
        if header.has_producer_id:
            check = self.producer_state.check_sequence(header)
            if isinstance(check, SequenceError):
                return AppendResult(check.error_code, error_message=check.message)
            if isinstance(check, SequenceDuplicate):
                return AppendResult(
                    base_offset=check.batch.first_offset, log_start_offset=self.log_start_offset
                )
        if from_client:
            records, headers = self._recompress(records, headers)
        return self._append(records, headers, now_ms)

    def _recompress(
        self, records: bytes, headers: list[BatchHeader]
    ) -> tuple[bytes, list[BatchHeader]]:
        """``compression.type`` other than ``producer``: the broker rewrites the batch with the
        topic's codec and level when the producer used another (Kafka's ``LogValidator``)."""
        config = self.log.config
        codec = TARGET_CODECS.get(config.compression_type)
        header = headers[0]
        if codec is None or codec == header.compression:
            return records, headers
        level = {
            compression.GZIP: config.compression_gzip_level,
            compression.LZ4: config.compression_lz4_level,
            compression.ZSTD: config.compression_zstd_level,
        }.get(codec)
        rebuilt = batches.recompress(memoryview(records)[: header.size], header, codec, level)
        return rebuilt, [read_header(rebuilt)]

    def _append(self, records: bytes, headers: list[BatchHeader], now_ms: int) -> AppendResult:
        base_offset = self.log_end_offset
        log_append = self.log.config.message_timestamp_type == "LogAppendTime"
        append_time_ms = now_ms if log_append else None
        data = batches.assign_offsets(
            records, headers, base_offset, self.leader_epoch, append_time_ms
        )
        if self.epoch_cache.latest_epoch != self.leader_epoch:
            self.epoch_cache.assign(self.leader_epoch, base_offset)
        self.log.append(data, now_ms)
        header = headers[-1]
        if header.has_producer_id:
            timestamp_ms = now_ms if log_append else header.max_timestamp
            self.producer_state.update(header, base_offset, timestamp_ms)
        self.replica_log_end_offsets[self.replica_id] = self.log_end_offset
        self.maybe_increment_high_watermark()
        return AppendResult(
            base_offset=base_offset,
            log_append_time_ms=now_ms if log_append else -1,
            log_start_offset=self.log_start_offset,
        )

    def maybe_increment_high_watermark(self) -> bool:
        """AdvanceHighWatermark: the smallest log end offset in the ISR, never going back."""
        self.replica_log_end_offsets[self.replica_id] = self.log_end_offset
        candidate = min(self.replica_log_end_offsets.get(r, 0) for r in self.isr)
        if candidate > self.high_watermark:
            self.high_watermark = candidate
            return True
        return False

    def read(
        self, fetch_offset: int, max_bytes: int, min_one_batch: bool, committed_only: bool
    ) -> ReadResult:
        """Batches from ``fetch_offset``; consumers see only what is below the high watermark."""
        max_offset = self.high_watermark if committed_only else self.log_end_offset
        slices = self.log.read(fetch_offset, max_bytes, max_offset, min_one_batch)
        return ReadResult(
            slices=slices,
            high_watermark=self.high_watermark,
            last_stable_offset=self.last_stable_offset,
            log_start_offset=self.log_start_offset,
            size=sum(s.size for s in slices),
        )

    def truncate_to(self, offset: int) -> None:
        """Truncate: drop the log suffix from ``offset`` (follower truncation, KIP-101/279)."""
        self.log.truncate_to(offset)
        self.epoch_cache.truncate_from_end(offset)
        self.high_watermark = min(self.high_watermark, offset)
        self._rebuild_producer_state()

    def _rebuild_producer_state(self) -> None:
        """Replay producer batches from the log's batch headers, a bounded chunk at a time
        (Kafka loads ``.snapshot`` files first and replays only the tail)."""
        self.producer_state.truncate()
        offset = self.log_start_offset
        while offset < self.log_end_offset:
            slices = self.log.read(offset, _REBUILD_CHUNK_BYTES, self.log_end_offset, True)
            if not slices:
                break
            for header in iter_headers(self.log.read_bytes(slices)):
                if header.has_producer_id and not header.is_control:
                    self.producer_state.update(header, header.base_offset, header.max_timestamp)
                offset = header.next_offset


_REBUILD_CHUNK_BYTES = 16 * 1024 * 1024
