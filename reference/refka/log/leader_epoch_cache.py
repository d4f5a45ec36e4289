"""The leader-epoch cache of one partition (KIP-101, KIP-279), as Kafka's
``LeaderEpochFileCache``: ``(epoch, start_offset)`` for each leader epoch that wrote to the
log, persisted as ``leader-epoch-checkpoint`` in the partition directory.

A follower asks the leader for ``end_offset_for(epoch)`` (OffsetsForLeaderEpoch) and truncates
its log to the answer; this is the ``Truncate`` step of the replication spec.
"""

from __future__ import annotations

from refka.log.checkpoint import read_checkpoint, write_checkpoint
from refka.log.storage import Storage

LEADER_EPOCH_CHECKPOINT = "leader-epoch-checkpoint"
UNDEFINED_EPOCH = -1
UNDEFINED_EPOCH_OFFSET = -1


class LeaderEpochCache:
    """Entries ascending in both epoch and start offset; every change is written at once."""

    def __init__(self, storage: Storage, dir_name: str) -> None:
        self.storage = storage
        self.path = f"{dir_name}/{LEADER_EPOCH_CHECKPOINT}"
        self.entries: list[tuple[int, int]] = [
            (int(e), int(o)) for e, o in read_checkpoint(storage, self.path, 2)
        ]

    @property
    def latest_epoch(self) -> int | None:
        return self.entries[-1][0] if self.entries else None

    def epoch_for_offset(self, offset: int) -> int | None:
        """The epoch that wrote ``offset`` (the last entry starting at or before it)."""
        found = None
        for epoch, start in self.entries:
            if start > offset:
                break
            found = epoch
        return found

    def assign(self, epoch: int, start_offset: int) -> None:
        """Record that ``epoch`` starts at ``start_offset``; entries that contradict it (a
        larger or equal epoch, or a start at or after it) are dropped first."""
        if epoch < 0 or start_offset < 0:
            raise ValueError(f"invalid leader epoch entry ({epoch}, {start_offset})")
        if self.entries:
            latest_epoch, latest_start = self.entries[-1]
            if epoch == latest_epoch and start_offset >= latest_start:
                return
        while self.entries and (
            self.entries[-1][0] >= epoch or self.entries[-1][1] >= start_offset
        ):
            self.entries.pop()
        self.entries.append((epoch, start_offset))
        self.flush()

    def end_offset_for(self, requested_epoch: int, log_end_offset: int) -> tuple[int, int]:
        """(epoch, end offset) for OffsetsForLeaderEpoch: the largest epoch <= the requested one
        and the start offset of the first epoch after it; the log end offset for the latest."""
        if requested_epoch == UNDEFINED_EPOCH:
            return UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET
        if self.latest_epoch == requested_epoch:
            return requested_epoch, log_end_offset
        higher = next((e for e in self.entries if e[0] > requested_epoch), None)
        if higher is None:
            return UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET
        floor = [e for e in self.entries if e[0] <= requested_epoch]
        if not floor:
            return requested_epoch, higher[1]
        return floor[-1][0], higher[1]

    def truncate_from_end(self, end_offset: int) -> None:
        """Drop entries starting at or after ``end_offset`` (the log was truncated there)."""
        if end_offset < 0 or not self.entries or self.entries[-1][1] < end_offset:
            return
        while self.entries and self.entries[-1][1] >= end_offset:
            self.entries.pop()
        self.flush()

    def truncate_from_start(self, start_offset: int) -> None:
        """The log now starts at ``start_offset``: drop entries before it, moving the last of
        them up to start there."""
        removed = [e for e in self.entries if e[1] <= start_offset]
        if start_offset < 0 or not removed:
            return
        self.entries = [(removed[-1][0], start_offset), *self.entries[len(removed) :]]
        self.flush()

    def clear(self) -> None:
        self.entries = []
        self.flush()

    def flush(self) -> None:
        write_checkpoint(self.storage, self.path, list(self.entries))
