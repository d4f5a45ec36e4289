"""A trace of the reference as data for ``spec/trace/TraceTransactions.tla``.

``txn_steps`` keeps the events of one partition and of the transactional producer that writes
to it first: the coordinator's ``AddPartitionsToTxn``, ``EndTxn`` and ``CompleteTxn``, the
leader's ``LeaderAppend`` of the producer's records and ``WriteMarker``, and the
``ReadCommitted`` fetches. Transactions.tla's transaction t is the t-th transaction that adds
the partition; its log holds one entry per transaction's records (a transaction sends one
record there: the records after its first join that entry) and one per marker, so offsets
become entry positions.

The producer's ``Send`` is no event: it is placed just before its transaction's first record
reaches the leader. The consumer's deliveries are what the leader's answer lets it return:
a data entry whose transaction the answer lists as aborted is skipped (the client's filter),
any other is delivered.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from refka.core import trace as ev
from refka.spec_trace import TraceError

NO_VALUE = -1


def _set(items: Iterable[int]) -> str:
    return "{" + ", ".join(map(str, sorted(items))) + "}"


@dataclass(frozen=True, slots=True)
class TxnStep:
    """One event of ``Trace`` in TraceTransactions.tla; ``line``: its line in the file."""

    action: str
    node: int
    line: int
    source: str
    txn: int = NO_VALUE
    state: str = ""
    kind: str = ""
    log_len: int = NO_VALUE
    delivered: tuple[int, ...] = ()
    note: str = ""

    def tla(self) -> str:
        return (
            f'[action |-> "{self.action}", txn |-> {self.txn}, state |-> "{self.state}", '
            f'kind |-> "{self.kind}", logLen |-> {self.log_len}, '
            f"delivered |-> {_set(self.delivered)}]"
        )


@dataclass(frozen=True, slots=True)
class TxnTrace:
    steps: tuple[TxnStep, ...]
    txns: int


@dataclass(frozen=True, slots=True)
class _Entry:
    """One entry of the spec's log: the records ``[first, end)`` of transaction ``txn``."""

    kind: str  # "data", "commit" or "abort"
    txn: int
    first: int
    end: int


@dataclass
class _Converter:
    tp: tuple[str, int]
    txn_id: str = ""
    producer: int = NO_VALUE
    current: int = 0  # the spec's transaction
    ongoing: bool = False  # the partition is in the producer's ongoing transaction
    entries: list[_Entry] = field(default_factory=list)
    position: int = 0  # the consumer's, in entries
    delivered: set[int] = field(default_factory=set)
    steps: list[TxnStep] = field(default_factory=list)

    def add(self, action: str, at: tuple[int, int, str], **fields: object) -> None:
        self.steps.append(TxnStep(action, *at, **fields))  # type: ignore[arg-type]

    def ours(self, txn_id: str) -> bool:
        return bool(self.txn_id) and txn_id == self.txn_id

    def convert(self, event: ev.TraceEvent, at: tuple[int, int, str]) -> None:
        match event:
            case ev.AddPartitionsToTxn() if self.tp in event.partitions:
                if not self.txn_id:
                    self.txn_id, self.producer = event.transactional_id, event.producer_id
                if self.ours(event.transactional_id):
                    self.current, self.ongoing = self.current + 1, True
                    self.add("BeginTxn", at, txn=self.current)
            case ev.EndTxn() if self.ours(event.transactional_id) and self.tp in event.partitions:
                self.add("EndTxn", at, txn=self.current, state=event.state)
            case ev.CompleteTxn() if self.ours(event.transactional_id) and self.ongoing:
                self.ongoing = False
                self.add("CompleteTxn", at, txn=self.current, state=event.state)
            case ev.LeaderAppend() if event.base_sequence >= 0:
                self.append(event, at)
            case ev.WriteMarker() if event.producer_id == self.producer:
                kind = "commit" if event.commit else "abort"
                self.entries.append(_Entry(kind, self.current, event.offset, event.offset + 1))
                self.add("WriteMarker", at, txn=self.current, kind=kind,
                         log_len=len(self.entries))  # fmt: skip
            case ev.ReadCommitted():
                self.read(event, at)

    def append(self, event: ev.LeaderAppend, at: tuple[int, int, str]) -> None:
        if event.producer_id != self.producer:
            self.add("Unmapped", at, note=f"a record of producer id {event.producer_id}: "
                     "Transactions.tla has one transactional producer")  # fmt: skip
            return
        last = self.entries[-1] if self.entries else None
        if last is not None and last.kind == "data" and last.txn == self.current:
            self.entries[-1] = _Entry("data", last.txn, last.first, event.log_end_offset)
            self.add("AppendMore", at, txn=self.current)
            return
        self.entries.append(_Entry("data", self.current, event.offset, event.log_end_offset))
        self.add("Send", at, txn=self.current)
        self.add("HandleProduce", at, txn=self.current, log_len=len(self.entries))

    def read(self, event: ev.ReadCommitted, at: tuple[int, int, str]) -> None:
        start = sum(1 for e in self.entries if e.end <= event.fetch_offset)
        if start > self.position:
            self.add("Unmapped", at, note="a read_committed fetch past the consumer's position: "
                     "Transactions.tla has one consumer, reading from offset 0")  # fmt: skip
            return
        aborted = set(event.aborted)
        for entry in self.entries[self.position :]:
            if entry.end > event.end_offset:
                break
            if entry.kind == "data" and (self.producer, entry.first) not in aborted:
                self.delivered.add(entry.txn)
            self.position += 1
            self.add("ConsumerRead", at, delivered=tuple(self.delivered))


_EVENTS = (ev.AddPartitionsToTxn, ev.EndTxn, ev.CompleteTxn)


def txn_steps(events: Iterable[ev.TraceEvent], topic: str = "sim",
              partition: int = 0) -> TxnTrace:  # fmt: skip
    """The Transactions.tla steps of ``topic``-``partition``'s transactional producer."""
    conv = _Converter((topic, partition))
    for line, event in enumerate(events, start=1):
        mine = (
            getattr(event, "topic", None) == topic
            and getattr(event, "partition", None) == partition
        )
        if mine or isinstance(event, _EVENTS):
            conv.convert(event, (event.node, line, repr(event)))
    if not conv.txn_id:
        raise TraceError(f"no transaction adds {topic}-{partition} in the trace")
    return TxnTrace(tuple(conv.steps), conv.current)


def tla_module(trace: TxnTrace, stop_at: int = 0) -> str:
    """The ``TraceData`` module; ``stop_at`` > 0 makes TLC stop before that event."""
    body = ",\n    ".join(s.tla() for s in trace.steps)
    return "\n".join([
        "---- MODULE TraceData ----",
        "EXTENDS Integers, Sequences, TLC",
        f"TraceNumTxns == {max(1, trace.txns)}",
        f"TraceStopAt == {stop_at}",
        f"Trace == <<\n    {body}\n  >>",
        "====",
        "",
    ])  # fmt: skip
