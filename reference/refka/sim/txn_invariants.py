"""The transaction invariants, read off the history of transactional producers and readers
(``txn`` and ``read`` ops, ``refka.sim.history``), after every step.

- ``ReadCommittedSeesNoAborted`` (spec/Transactions.tla; Adya's G1a, aborted read): no record
  of an aborted transaction (``txn fail``) is ever returned to a read_committed reader, before
  or after the abort.
- ``NoTornTransaction`` (not in the spec, whose transactions write one record): a
  read_committed reader that returned one record of a transaction on a partition and read
  past the acknowledged offset of another of its records there returned that one too.
- ``NoCommittedTransactionLost`` (at the end, on the healed cluster; the spec's log never
  loses a record): every record of a committed transaction (EndTxn commit answered) is
  returned to every read_committed reader that caught up, on every partition that has a
  leader; so a transaction is seen whole across partitions, eventually.

A transaction whose outcome is unknown (``txn info``) is held to none of them.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence

from refka.sim.history import Op
from refka.sim.invariants import Violation

Txn = int  # the index of its invoke op


class TransactionChecker:
    """Reads the history incrementally; ``committed_readers`` are the read_committed
    readers' processes."""

    def __init__(self, committed_readers: Iterable[int]) -> None:
        self.committed_readers = frozenset(committed_readers)
        self.txn_of: dict[int, Txn] = {}  # value -> its transaction
        self.records: dict[Txn, dict[int, tuple[int, int]]] = {}  # value -> (partition, offset)
        self.outcome: dict[Txn, str] = {}  # ok (committed), fail (aborted), info
        self.open: dict[int, deque[Txn]] = {}  # process -> its invoked transactions, in order
        self.returned: dict[
            tuple[int, int], dict[int, int]
        ] = {}  # (reader, partition) -> {value: offset}
        self.furthest: dict[tuple[int, int], int] = {}  # (reader, partition) -> last offset read
        self.reported: set[tuple[str, int, int]] = set()
        self._seen = 0

    def check(self, ops: Sequence[Op]) -> list[Violation]:
        """Take in the ops added since the last call; the violations they reveal."""
        for op in ops[self._seen :]:
            self._absorb(op)
        self._seen = len(ops)
        return [*self._aborted_reads(), *self._torn()]

    def _absorb(self, op: Op) -> None:
        if op.f == "txn" and op.type == "invoke":
            self.open.setdefault(op.process, deque()).append(op.index)
            self.records[op.index] = {v: (p, -1) for p, _, v in op.records}
            for _, _, value in op.records:
                self.txn_of[value] = op.index
        elif op.f == "txn" and self.open.get(op.process):
            txn = self.open[op.process].popleft()  # a producer ends its transactions in order
            self.outcome[txn] = op.type
            self.records[txn] = {v: (p, o) for p, o, v in op.records}
        elif op.f == "read" and op.type == "ok" and op.process in self.committed_readers:
            for _, partition, offset, value in op.reads:
                key = (op.process, partition)
                self.returned.setdefault(key, {})[value] = offset
                self.furthest[key] = max(self.furthest.get(key, -1), offset)

    def _report(self, kind: str, reader: int, value: int, detail: str) -> list[Violation]:
        if (kind, reader, value) in self.reported:
            return []
        self.reported.add((kind, reader, value))
        return [Violation(kind, detail)]

    def _aborted_reads(self) -> list[Violation]:
        found = []
        for (reader, partition), values in sorted(self.returned.items()):
            for value, offset in sorted(values.items()):
                txn = self.txn_of.get(value)
                if txn is not None and self.outcome.get(txn) == "fail":
                    found += self._report(
                        "ReadCommittedSeesNoAborted",
                        reader,
                        value,
                        f"reader {reader} (read_committed) returned value {value} at "
                        f"sim-{partition}@{offset}, of transaction op {txn}, which aborted",
                    )
        return found

    def _torn(self) -> list[Violation]:
        found = []
        for (reader, partition), values in sorted(self.returned.items()):
            furthest = self.furthest[(reader, partition)]
            for txn in sorted({self.txn_of[v] for v in values if v in self.txn_of}):
                for value, (p, offset) in sorted(self.records[txn].items()):
                    if p == partition and value not in values and 0 <= offset <= furthest:
                        found += self._report(
                            "NoTornTransaction",
                            reader,
                            value,
                            f"reader {reader} (read_committed) returned part of transaction op "
                            f"{txn} on sim-{partition} and read past offset {offset} without "
                            f"its value {value}",
                        )
        return found

    def lost(self, partitions: Iterable[int]) -> list[Violation]:
        """At the end, once every read_committed reader caught up: the committed records
        missing from any of them, on ``partitions`` (those with a leader)."""
        found = []
        for txn, reader, value, (partition, offset) in self.missing(partitions):
            found += self._report(
                "NoCommittedTransactionLost",
                reader,
                value,
                f"value {value} of committed transaction op {txn} (sim-{partition}@{offset}) "
                f"was never returned to reader {reader} (read_committed)",
            )
        return found

    def missing(self, partitions: Iterable[int]) -> list[tuple[Txn, int, int, tuple[int, int]]]:
        """``(transaction, reader, value, (partition, offset))`` of each committed record on
        ``partitions`` that a read_committed reader has not returned (yet)."""
        readable = set(partitions)
        return [
            (txn, reader, value, where)
            for txn, outcome in sorted(self.outcome.items())
            if outcome == "ok"
            for value, where in sorted(self.records[txn].items())
            if where[0] in readable
            for reader in sorted(self.committed_readers)
            if value not in self.returned.get((reader, where[0]), {})
        ]
