"""A trace of the reference as data for ``spec/trace/TraceDelivery.tla``.

``delivery_steps`` keeps the leader's events of one partition that Delivery.tla speaks of: the
idempotent producer's batches appended (``LeaderAppend``) or answered as duplicates
(``HandleProduce``), the high watermark, the acks=all answers (``AcknowledgeProduce``) and the
leader changes. Delivery.tla's batch s is the producer's s-th batch. A batch's sequence number
counts records, so batches are numbered in the order their first attempts reach the leader (a
retry carries its batch's sequence). A later producer id (the producer's fresh id after a batch
failed, its sequences from 0 again: what the Java producer's epoch bump does) is the spec's
``NewProducerId``, and its batches continue the numbering after the batches sent so far. The
spec's log counts batches, so offsets become batch positions.

The producer is a client: its steps are no events, and the converter places the ones the
leader's events imply (docs/spec.md), each at the last moment it can be:

- ``Send`` (batch s's first attempt) just before the first attempt of s reaches the leader;
- ``Timeout`` (a retry) just before a later attempt of s, after ``DropResponse`` when an answer
  of s left the leader since its last attempt (the producer never got it: it retried);
- ``ReceiveResponse`` at the last answer of s after which it is never sent again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from refka.core import trace as ev
from refka.spec_trace import TraceError

NO_VALUE = -1


@dataclass(frozen=True, slots=True)
class DeliveryStep:
    """One event of ``Trace`` in TraceDelivery.tla; ``line``: its line in the file."""

    action: str
    node: int
    line: int
    source: str
    seq: int = NO_VALUE
    log_len: int = NO_VALUE
    hw: int = NO_VALUE
    note: str = ""

    def tla(self) -> str:
        return (
            f'[action |-> "{self.action}", seq |-> {self.seq}, logLen |-> {self.log_len}, '
            f"hw |-> {self.hw}]"
        )


@dataclass(frozen=True, slots=True)
class DeliveryTrace:
    steps: tuple[DeliveryStep, ...]
    failovers: int
    producer_ids: int

    @property
    def batches(self) -> int:
        return max([0, *(s.seq for s in self.steps)]) + 1


@dataclass
class _Converter:
    last_attempt: dict[int, int]  # batch number -> line of its last attempt
    last_answer: dict[int, int]  # base offset -> line of its last AcknowledgeProduce
    bases: dict[int, dict[int, int]] = field(default_factory=dict)  # id -> base seq -> batch
    epoch: int = NO_VALUE
    batches: list[tuple[int, int]] = field(default_factory=list)  # (end offset, seq) by position
    hw: int = 0  # in batches
    sent: set[int] = field(default_factory=set)
    answered: set[int] = field(default_factory=set)  # an answer left since its last attempt
    failovers: int = 0
    steps: list[DeliveryStep] = field(default_factory=list)

    def add(self, action: str, at: tuple[int, int, str], **fields: object) -> None:
        self.steps.append(DeliveryStep(action, *at, **fields))  # type: ignore[arg-type]

    def stale(self, event: ev.TraceEvent, epoch: int, at: tuple[int, int, str]) -> bool:
        if epoch == self.epoch:
            return False
        self.add("Unmapped", at, note=f"an event of leader epoch {epoch} while {self.epoch} "
                 "leads: Delivery.tla has one leader at a time")  # fmt: skip
        return True

    def batch(self, producer: int, seq: int, at: tuple[int, int, str] | None = None) -> int:
        """Delivery.tla's batch number of the producer's ``seq`` under ``producer``; a fresh
        producer id (not the first) is the spec's ``NewProducerId`` step first."""
        if producer not in self.bases:
            if self.bases and at is not None:
                self.add("NewProducerId", at, seq=len(self.sent))
            self.bases[producer] = {}
        batches = self.bases[producer]
        if seq not in batches:  # a batch's sequence counts records: number the batches
            batches[seq] = len(self.sent)  # (the caller adds it to ``sent`` at once)
        return batches[seq]

    def attempt(self, batch: int, at: tuple[int, int, str]) -> None:
        """The producer's steps before an attempt of ``batch`` reaches the leader."""
        if batch not in self.sent:
            self.sent.add(batch)
            self.add("Send", at, seq=batch)
            return
        if batch in self.answered:
            self.add("DropResponse", at, seq=batch)
        self.answered.discard(batch)
        self.add("Timeout", at, seq=batch)

    def convert(self, event: ev.TraceEvent, at: tuple[int, int, str]) -> None:
        match event:
            case ev.BecomeLeader() if self.epoch == NO_VALUE:
                self.epoch = event.leader_epoch
            case ev.BecomeLeader() if event.leader_epoch > self.epoch:
                self.epoch = event.leader_epoch
                self.batches = [b for b in self.batches if b[0] <= event.log_end_offset]
                self.failovers += 1
                self.add("LeaderFailover", at, log_len=len(self.batches))
            case ev.LeaderAppend() if not self.stale(event, event.leader_epoch, at):
                if event.producer_id < 0 or event.base_sequence < 0:
                    self.add("Unmapped", at, note="a batch without a producer id or sequence "
                             "(a transaction marker): Delivery traces need the idempotent "
                             "producer, without transactions")  # fmt: skip
                    return
                batch = self.batch(event.producer_id, event.base_sequence, at)
                self.attempt(batch, at)
                self.batches.append((event.log_end_offset, batch))
                self.add("HandleProduce", at, seq=batch, log_len=len(self.batches))
            case ev.HandleProduce() if not self.stale(event, event.leader_epoch, at):
                batch = self.batch(event.producer_id, event.base_sequence, at)
                self.attempt(batch, at)
                self.add("HandleProduce", at, seq=batch, log_len=len(self.batches))
            case ev.AdvanceHighWatermark() if not self.stale(event, event.leader_epoch, at):
                committed = sum(1 for end, _ in self.batches if end <= event.high_watermark)
                for hw in range(self.hw + 1, committed + 1):
                    self.add("AdvanceHighWatermark", at, hw=hw)
                self.hw = max(self.hw, committed)
            case ev.AcknowledgeProduce():
                self.acknowledge(event, at)

    def acknowledge(self, event: ev.AcknowledgeProduce, at: tuple[int, int, str]) -> None:
        starts = {0, *(end for end, _ in self.batches)}
        ends = [end for end, _ in self.batches]
        if event.offset not in starts or event.log_end_offset not in ends:
            self.add("Unmapped", at, note="an answer for offsets that are no batch of the log")
            return
        seq = self.batches[ends.index(event.log_end_offset)][1]
        retried = self.last_attempt.get(seq, 0) > at[1]
        if not retried and self.last_answer.get(event.offset) == at[1]:
            self.add("ReceiveResponse", at, seq=seq)
        else:
            self.answered.add(seq)
            self.add("Acknowledge", at, seq=seq)


def delivery_steps(events: Iterable[ev.TraceEvent], topic: str = "sim",
                   partition: int = 0) -> DeliveryTrace:  # fmt: skip
    """The Delivery.tla steps of ``topic``-``partition``, in trace order."""
    ours = [
        (line, e)
        for line, e in enumerate(events, start=1)
        if getattr(e, "topic", None) == topic and getattr(e, "partition", None) == partition
    ]
    last_answer: dict[int, int] = {}
    for line, event in ours:
        if isinstance(event, ev.AcknowledgeProduce):
            last_answer[event.offset] = line
    numbering = _Converter({}, {})  # a first pass numbers the batches: each one's last attempt
    for line, event in ours:
        if not isinstance(event, ev.LeaderAppend | ev.HandleProduce):
            continue
        if event.producer_id >= 0 and event.base_sequence >= 0:
            batch = numbering.batch(event.producer_id, event.base_sequence)
            numbering.sent.add(batch)
            numbering.last_attempt[batch] = line
    conv = _Converter(numbering.last_attempt, last_answer)
    for line, event in ours:
        conv.convert(event, (event.node, line, repr(event)))
    if not any(s.action == "HandleProduce" for s in conv.steps):
        raise TraceError(f"no produced batch of {topic}-{partition} in the trace")
    return DeliveryTrace(tuple(conv.steps), conv.failovers, max(1, len(conv.bases)))


def tla_module(trace: DeliveryTrace, stop_at: int = 0) -> str:
    """The ``TraceData`` module; ``stop_at`` > 0 makes TLC stop before that event."""
    body = ",\n    ".join(s.tla() for s in trace.steps)
    return "\n".join([
        "---- MODULE TraceData ----",
        "EXTENDS Integers, Sequences, TLC",
        f"TraceNumBatches == {trace.batches}",
        f"TraceMaxInFlight == {trace.batches + 1}",
        f"TraceMaxFailovers == {trace.failovers}",
        f"TraceProducerIds == {trace.producer_ids}",
        f"TraceStopAt == {stop_at}",
        f"Trace == <<\n    {body}\n  >>",
        "====",
        "",
    ])  # fmt: skip
