"""Hypothesis stateful test: the partition log against a list of batches, through crashes.

Invariants: the log reads back exactly the model's batches from the log start offset on;
after a crash, recovery keeps everything below the recovery point, and what it keeps beyond
it is a prefix of the batches appended since (a crash loses unflushed bytes and may tear the
last write, never reorders or invents).
"""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from log_batches import build_batch, iter_records
from refka.log.config import LogConfig
from refka.log.partition_log import PartitionLog
from refka.log.storage import MemoryStorage
from refka.protocol.batch_header import peek_size

CONFIG = LogConfig(segment_bytes=400, index_interval_bytes=150, retention_bytes=900)


class PartitionLogMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.storage = MemoryStorage()
        self.log = PartitionLog.open(self.storage, "t-0", "t", 0, CONFIG, 0)
        self.batches: list[tuple[int, int, bytes]] = []  # base offset, next offset, bytes
        self.clock = 0

    @rule(sizes=st.lists(st.integers(1, 5), min_size=1, max_size=3))
    def append(self, sizes: list[int]) -> None:
        data = bytearray()
        offset = self.log.log_end_offset
        for n in sizes:
            self.clock += 1
            batch = build_batch(offset, [self.clock * 10 + i for i in range(n)])
            self.batches.append((offset, offset + n, batch))
            data += batch
            offset += n
        self.log.append(bytes(data), self.clock)

    @rule()
    def flush(self) -> None:
        self.log.flush()

    @rule(data=st.data())
    def truncate_to(self, data: st.DataObject) -> None:
        offset = data.draw(st.integers(self.log.log_start_offset, self.log.log_end_offset))
        removed = [b for b in self.batches if b[1] > offset]
        self.batches = [b for b in self.batches if b[1] <= offset]
        end = removed[0][0] if removed else self.log.log_end_offset
        self.log.truncate_to(offset)
        assert self.log.log_end_offset == end  # the whole batch holding the offset goes
        assert self.log.log_start_offset <= end

    def log_start_offset_model(self, offset: int) -> None:
        self.batches = [b for b in self.batches if b[1] > offset]

    @rule(data=st.data())
    def delete_records_and_retention(self, data: st.DataObject) -> None:
        offset = data.draw(st.integers(self.log.log_start_offset, self.log.log_end_offset))
        self.log.increment_log_start_offset(offset)
        self.log.delete_expired_segments(self.clock)
        self.log_start_offset_model(self.log.log_start_offset)

    @rule(torn_bytes=st.integers(0, 200))
    def crash_and_recover(self, torn_bytes: int) -> None:
        recovery_point, log_start_offset = self.log.recovery_point, self.log.log_start_offset
        kept = [b for b in self.batches if b[1] <= recovery_point]
        self.storage.crash(torn_bytes)
        self.log = PartitionLog.open(
            self.storage, "t-0", "t", 0, CONFIG, self.clock, recovery_point, log_start_offset
        )
        assert self.log.log_end_offset >= recovery_point
        recovered = self._read_all()
        model = [(b, d) for b, _, d in self.batches]
        assert len(kept) <= len(recovered) <= len(model)
        assert recovered == model[: len(recovered)]
        self.batches = self.batches[: len(recovered)]

    @rule(data=st.data())
    def offset_for_timestamp(self, data: st.DataObject) -> None:
        target = data.draw(st.integers(0, self.clock * 10 + 10))
        start = self.log.log_start_offset
        records = [r for _, _, d in self.batches for r in iter_records(d) if r.offset >= start]
        expected = next(((r.offset, r.timestamp) for r in records if r.timestamp >= target), None)
        assert self.log.offset_for_timestamp(target, iter_records) == expected

    @rule()
    def close_and_reopen(self) -> None:
        self.log.close()
        self.log = PartitionLog.open(
            self.storage,
            "t-0",
            "t",
            0,
            CONFIG,
            self.clock,
            self.log.recovery_point,
            self.log.log_start_offset,
        )

    def _read_all(self) -> list[tuple[int, bytes]]:
        out, offset = [], self.log.log_start_offset
        while offset < self.log.log_end_offset:
            slices = self.log.read(offset, 250, self.log.log_end_offset, True)
            assert slices, offset
            data = self.log.read_bytes(slices)
            position = 0
            while position < len(data):
                size = peek_size(data, position)
                batch = data[position : position + size]
                out.append((int.from_bytes(batch[:8], "big"), batch))
                position += size
            offset = peek_next(out[-1][1])
        return out

    @invariant()
    def reads_back_the_model(self) -> None:
        assert self._read_all() == [(b, d) for b, _, d in self.batches]
        end = self.batches[-1][1] if self.batches else self.log.log_end_offset
        assert self.log.log_end_offset == end
        assert self.log.log_start_offset <= self.log.log_end_offset
        assert self.log.recovery_point <= self.log.log_end_offset


def peek_next(batch: bytes) -> int:
    return int.from_bytes(batch[:8], "big") + int.from_bytes(batch[23:27], "big") + 1


PartitionLogMachine.TestCase.settings = settings(
    max_examples=150, stateful_step_count=30, deadline=None
)
TestPartitionLog = PartitionLogMachine.TestCase
