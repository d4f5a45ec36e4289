"""Loading a ``__consumer_offsets`` partition this broker has just become leader of, in bounded
steps (Kafka's ``CoordinatorLoaderImpl`` and the runtime's LOADING state).

A newly led partition is *loading* until its log, from the log start offset up to the log end
offset at the election, has been replayed; meanwhile the coordinator answers
COORDINATOR_LOAD_IN_PROGRESS for its groups (and a broker that does not lead it answers
NOT_COORDINATOR). Kafka reads the log on a loader thread, ``offsets.load.buffer.size`` bytes a
read; sans-I/O, each ``step`` (one per tick of the core) reads one such chunk of every loading
partition, and ``next_deadline_ms`` asks for the next tick at once while any load is unfinished,
so requests are served between the chunks. Nothing is appended to a loading partition: the
coordinator refuses every write for it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from refka.log.file_slice import FileSlice
from refka.log.partition_log import OffsetOutOfRange
from refka.protocol.records import Record, iter_batch_records
from refka.replica import Replica

KeyValue = tuple[bytes | None, bytes | None]


@dataclass(slots=True)
class PartitionLoad:
    """One partition being replayed: the next offset to read and the end fixed at election."""

    partition: int
    next_offset: int
    end_offset: int
    records: list[KeyValue] = field(default_factory=list)
    open_txns: dict[int, list[KeyValue]] = field(default_factory=dict)  # by producer id


class CoordinatorLoader:
    """The loads in progress; ``step`` advances each by at most ``buffer_size`` bytes."""

    def __init__(
        self,
        replica: Callable[[int], Replica | None],
        read_bytes: Callable[[list[FileSlice]], bytes],
        buffer_size: int,
    ) -> None:
        self._replica = replica
        self._read_bytes = read_bytes
        self._buffer_size = max(1, buffer_size)
        self._loads: dict[int, PartitionLoad] = {}
        self._due_ms: int | None = None

    @property
    def loading(self) -> frozenset[int]:
        return frozenset(self._loads)

    def start(self, partition: int, now_ms: int) -> None:
        """Begin replaying ``partition``: up to its log end offset now (the election)."""
        replica = self._replica(partition)
        start, end = (
            (0, 0) if replica is None else (replica.log_start_offset, replica.log_end_offset)
        )
        self._loads[partition] = PartitionLoad(partition, start, end)
        self._due_ms = now_ms

    def cancel(self, partition: int) -> None:
        """Leadership moved away before the load finished: drop what was read."""
        self._loads.pop(partition, None)
        if not self._loads:
            self._due_ms = None

    def step(self, now_ms: int, chunks: int = 1) -> list[PartitionLoad]:
        """Read ``chunks`` chunks of every loading partition; return the loads now complete
        (their ``records`` in log order), which leave the loading set."""
        done = []
        for load in list(self._loads.values()):
            complete = load.next_offset >= load.end_offset
            for _ in range(chunks):
                if complete:
                    break
                complete = self._read_chunk(load)
            if complete:
                done.append(load)
                del self._loads[load.partition]
        self._due_ms = now_ms if self._loads else None
        return done

    def next_deadline_ms(self) -> int | None:
        """At once while a load is unfinished (one chunk per tick), else None."""
        return self._due_ms

    def _read_chunk(self, load: PartitionLoad) -> bool:
        """One read of up to ``buffer_size`` bytes (at least one batch); True when complete."""
        replica = self._replica(load.partition)
        if replica is None or load.next_offset >= load.end_offset:
            return True
        load.next_offset = max(load.next_offset, replica.log_start_offset)
        try:
            slices = replica.log.read(load.next_offset, self._buffer_size, load.end_offset, True)
        except OffsetOutOfRange:
            return True
        data = self._read_bytes(slices)
        if not data:
            return True
        start = load.next_offset
        for header, records in iter_batch_records(data):
            load.next_offset = header.next_offset
            if header.is_control:
                _end_txn(load, header.producer_id, records)
            elif header.is_transactional:
                held = load.open_txns.setdefault(header.producer_id, [])
                held.extend((r.key, r.value) for r in records if r.offset >= start)
            else:
                load.records.extend((r.key, r.value) for r in records if r.offset >= start)
        return load.next_offset >= load.end_offset


def _end_txn(load: PartitionLoad, producer_id: int, records: list[Record]) -> None:
    """A transaction marker: its records count from here (COMMIT) or never (ABORT); records
    of a transaction still open at the end stay in ``open_txns`` (KIP-98). The marker's
    module (with kio's marker schemas) loads with the first marker read (issue 15)."""
    from refka.protocol.txn_markers import COMMIT

    held = load.open_txns.pop(producer_id, [])
    key = records[0].key if records else None
    if key is not None and len(key) >= 4 and int.from_bytes(key[2:4], "big") == COMMIT:
        load.records.extend(held)
