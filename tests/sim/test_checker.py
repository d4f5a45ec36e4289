"""The history checker (refka.sim.checker): Jepsen's Kafka anomalies, found and judged.

Hand-written histories show each anomaly and its absence; property tests run a correct
in-memory log (sends completing in order per producer, control records taking offsets, polls,
commits, consumer restarts and reassignments), check that its history has no anomaly, then
mutate it once and check that exactly the expected anomaly appears.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections import defaultdict

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from refka.sim.checker import (
    STRICT,
    Anomaly,
    Duplicate,
    Final,
    Guarantees,
    InconsistentOffsets,
    LostWrite,
    NonmonotonicPoll,
    NonmonotonicSend,
    PollSkip,
    check,
    guarantees_for,
)
from refka.sim.history import History, Op

T = "t"
LOSSY = guarantees_for("1", idempotent=False, commit="before")  # promises nothing but order


def send(h: History, process: int, partition: int, value: int, offset: int) -> Op:
    h.add(0, process, "invoke", "send", topic=T, partition=partition, value=value)
    return h.add(0, process, "ok", "send", topic=T, partition=partition, value=value, offset=offset)


def poll(h: History, process: int, *reads: tuple[int, int, int]) -> Op:
    h.add(0, process, "invoke", "poll")
    return h.add(0, process, "ok", "poll", reads=tuple((T, p, o, v) for p, o, v in reads))


def assign(h: History, process: int, *positions: tuple[int, int]) -> Op:
    return h.add(0, process, "ok", "assign", offsets=tuple((T, p, o) for p, o in positions))


def final_log(*values: int, partition: int = 0) -> Final:
    return {(T, partition): list(enumerate(values))}


# -- hand-written histories --------------------------------------------------------------------


def test_a_clean_history_has_no_anomalies() -> None:
    h = History()
    send(h, 1, 0, 10, 0)
    send(h, 1, 0, 11, 1)
    assign(h, 2, (0, 0))
    poll(h, 2, (0, 0, 10))
    poll(h, 2, (0, 1, 11))
    report = check(h, STRICT, final_log(10, 11))
    assert report.anomalies == () and report.ok and report.lines() == []


def test_lost_write_by_the_final_log() -> None:
    h = History()
    send(h, 1, 0, 10, 0)
    lost = send(h, 1, 0, 11, 1)
    report = check(h, STRICT, final_log(10))
    assert report.anomalies == (LostWrite(T, 0, 11, 1, lost.index),)
    assert not report.ok and report.lines()[0].startswith("VIOLATION lost-write: value 11")
    lossy = check(h, LOSSY, final_log(10))  # acks=1 may lose an acknowledged write
    assert lossy.ok and lossy.anomalies == report.anomalies
    assert lossy.lines()[0].startswith("allowed   lost-write: value 11")


def test_lost_write_by_reads_needs_a_read_at_or_past_its_offset() -> None:
    h = History()
    send(h, 1, 0, 10, 0)
    lost = send(h, 1, 0, 11, 1)
    send(h, 1, 0, 12, 2)
    send(h, 1, 0, 13, 3)  # acked past every read: unseen, not lost
    reader = poll(h, 2, (0, 0, 10), (0, 2, 12))
    report = check(h)
    assert report.anomalies == (LostWrite(T, 0, 11, 1, lost.index, reader.index),)
    assert f"op {reader.index}" in report.lines()[0]


def test_duplicate_in_the_final_log_and_in_reads() -> None:
    h = History()
    acked = send(h, 1, 0, 10, 0)
    reader = poll(h, 2, (0, 0, 10), (0, 1, 10))
    report = check(h, STRICT, final_log(10, 10))
    assert report.anomalies == (Duplicate(10, ((T, 0, 0), (T, 0, 1)), (acked.index, reader.index)),)
    assert not report.ok
    assert check(h, guarantees_for("all", idempotent=False, commit="after"), final_log(10, 10)).ok


def test_poll_skip_over_an_offset_that_exists() -> None:
    h = History()
    assign(h, 2, (0, 0))
    first = poll(h, 2, (0, 0, 10), (0, 1, 11))
    second = poll(h, 2, (0, 3, 13))
    report = check(h, STRICT, final_log(10, 11, 12, 13))
    assert report.anomalies == (PollSkip(2, T, 0, first.index, second.index, 1, 3, (2,)),)
    assert check(h, guarantees_for("all", True, "before"), final_log(10, 11, 12, 13)).ok


def test_poll_skip_at_the_start_of_a_run() -> None:
    h = History()
    started = assign(h, 2, (0, 0))
    reader = poll(h, 2, (0, 1, 11))
    report = check(h, STRICT, final_log(10, 11))
    assert report.anomalies == (PollSkip(2, T, 0, started.index, reader.index, -1, 1, (0,)),)


def test_no_poll_skip_over_a_gap_nobody_saw_or_across_an_assign() -> None:
    h = History()
    assign(h, 2, (0, 0))
    poll(h, 2, (0, 0, 10), (0, 2, 12))  # offset 1: a control record (a transaction marker)
    assign(h, 2, (0, 4))  # reassigned at the committed offset 4
    poll(h, 2, (0, 4, 14))
    poll(h, 3, (0, 3, 13))  # a new process: no assign, its run starts at its first read
    final = {(T, 0): [(0, 10), (2, 12), (3, 13), (4, 14)]}
    assert check(h, STRICT, final).anomalies == ()


def test_poll_skip_without_a_final_log_uses_other_reads() -> None:
    h = History()
    poll(h, 2, (0, 0, 10), (0, 1, 11), (0, 2, 12))
    first = poll(h, 3, (0, 0, 10))
    second = poll(h, 3, (0, 2, 12))
    assert check(h).anomalies == (PollSkip(3, T, 0, first.index, second.index, 0, 2, (1,)),)


def test_nonmonotonic_poll_is_always_a_violation() -> None:
    h = History()
    assign(h, 2, (0, 0))
    first = poll(h, 2, (0, 0, 10), (0, 1, 11))
    second = poll(h, 2, (0, 0, 10))
    report = check(h, LOSSY, final_log(10, 11))
    assert report.anomalies == (NonmonotonicPoll(2, T, 0, first.index, second.index, 1, 0),)
    assert not report.ok


def test_reading_one_offset_twice_in_a_run_is_nonmonotonic() -> None:
    h = History()
    first = poll(h, 2, (0, 0, 10), (0, 1, 11))
    again = poll(h, 2, (0, 1, 11), (0, 2, 12))
    report = check(h, STRICT, final_log(10, 11, 12))
    assert report.anomalies == (NonmonotonicPoll(2, T, 0, first.index, again.index, 1, 1),)


def test_a_reordered_poll_is_nonmonotonic_not_a_skip() -> None:
    h = History()
    reader = poll(h, 2, (0, 0, 10), (0, 2, 12), (0, 1, 11), (0, 3, 13))
    report = check(h, STRICT, final_log(10, 11, 12, 13))
    assert report.anomalies == (NonmonotonicPoll(2, T, 0, reader.index, reader.index, 2, 1),)


def test_rereading_after_an_assign_is_not_nonmonotonic() -> None:
    h = History()
    assign(h, 2, (0, 0))
    poll(h, 2, (0, 0, 10), (0, 1, 11))
    assign(h, 2, (0, 0))  # the commit was lost: at-least-once reads again
    poll(h, 2, (0, 0, 10), (0, 1, 11))
    assert check(h, STRICT, final_log(10, 11)).anomalies == ()


def test_a_read_below_the_assigned_position_is_nonmonotonic() -> None:
    h = History()
    started = assign(h, 2, (0, 1))
    reader = poll(h, 2, (0, 0, 10))
    report = check(h, STRICT, final_log(10, 11))
    assert report.anomalies == (NonmonotonicPoll(2, T, 0, started.index, reader.index, 0, 0),)


def test_nonmonotonic_send_in_invocation_order() -> None:
    h = History()
    h.add(0, 1, "invoke", "send", topic=T, partition=0, value=10)
    h.add(0, 1, "invoke", "send", topic=T, partition=0, value=11)
    later = h.add(0, 1, "ok", "send", topic=T, partition=0, value=11, offset=0)
    earlier = h.add(0, 1, "ok", "send", topic=T, partition=0, value=10, offset=1)
    report = check(h, STRICT, final_log(11, 10))
    assert report.anomalies == (NonmonotonicSend(1, T, 0, earlier.index, later.index, 1, 0),)
    assert check(h, guarantees_for(-1, idempotent=False, commit="after"), final_log(11, 10)).ok


def test_interleaved_producers_are_monotonic_each() -> None:
    h = History()
    send(h, 1, 0, 10, 0)
    send(h, 2, 0, 20, 1)
    send(h, 1, 0, 11, 2)
    send(h, 2, 1, 21, 0)  # another partition starts at 0
    final = {(T, 0): [(0, 10), (1, 20), (2, 11)], (T, 1): [(0, 21)]}
    assert check(h, STRICT, final).anomalies == ()


def test_inconsistent_offsets_between_reads_are_always_violations() -> None:
    h = History()
    a = poll(h, 2, (0, 0, 10))
    b = poll(h, 3, (0, 0, 20))
    report = check(h, LOSSY)
    assert report.anomalies == (
        InconsistentOffsets(T, 0, 0, (10, 20), (10, 20), (a.index, b.index)),
    )
    assert not report.ok


def test_an_ack_rewritten_by_the_log_is_allowed_only_when_loss_is() -> None:
    h = History()
    acked = send(h, 1, 0, 10, 0)  # acks=1: the leader died, the new one wrote 20 at offset 0
    report = check(h, LOSSY, final_log(20))
    assert report.names == {"lost-write", "inconsistent-offsets"}
    assert InconsistentOffsets(T, 0, 0, (10, 20), (20,), (acked.index,)) in report.anomalies
    assert report.ok
    assert len(check(h, STRICT, final_log(20)).violations) == 2


def test_unknown_and_failed_sends_are_never_lost() -> None:
    h = History()
    h.add(0, 1, "invoke", "send", topic=T, partition=0, value=10)
    h.add(0, 1, "info", "send", topic=T, partition=0, value=10, error="REQUEST_TIMED_OUT")
    h.add(0, 1, "invoke", "send", topic=T, partition=0, value=11)
    h.add(0, 1, "fail", "send", topic=T, partition=0, value=11, error="NOT_ENOUGH_REPLICAS")
    assert check(h, STRICT, final_log()).anomalies == ()


def test_acks_0_sends_are_checked_against_the_final_log() -> None:
    h = History()
    acked = send(h, 1, 0, 10, -1)  # acks=0: no offset comes back
    assert check(h, STRICT, final_log()).anomalies == (LostWrite(T, 0, 10, -1, acked.index),)
    assert check(h).anomalies == ()


@pytest.mark.parametrize(
    ("acks", "idempotent", "commit", "expected"),
    [
        ("all", True, "after", Guarantees(True, True, True, True)),
        (-1, True, "before", Guarantees(True, True, False, True)),
        ("1", False, "after", Guarantees(False, False, True, False)),
        (0, False, "before", Guarantees(False, False, False, False)),
    ],
)
def test_guarantees_for(
    acks: int | str, idempotent: bool, commit: str, expected: Guarantees
) -> None:
    assert guarantees_for(acks, idempotent, commit) == expected


@pytest.mark.parametrize(("acks", "commit"), [("2", "after"), ("all", "during")])
def test_guarantees_for_rejects_unknown_settings(acks: str, commit: str) -> None:
    with pytest.raises(ValueError):
        guarantees_for(acks, True, commit)


def test_anomalies_repr_as_python_and_describe_their_ops() -> None:
    anomalies: list[Anomaly] = [
        LostWrite(T, 0, 11, 1, 3, 7),
        Duplicate(10, ((T, 0, 0), (T, 0, 1)), (1, 4)),
        PollSkip(2, T, 0, 5, 9, 1, 3, (2,)),
        NonmonotonicPoll(2, T, 0, 5, 9, 1, 0),
        NonmonotonicSend(1, T, 0, 5, 9, 1, 0),
        InconsistentOffsets(T, 0, 0, (10, 20), (10, 20), (5, 9)),
    ]
    for anomaly in anomalies:
        assert eval(repr(anomaly)) == anomaly
        line = anomaly.describe()
        assert line.startswith(anomaly.name + ":") and "\n" not in line
        assert all(
            str(op) in line for op in (5, 9) if not isinstance(anomaly, (LostWrite, Duplicate))
        )


# -- a correct in-memory model, and mutations of its history ----------------------------------

PARTITIONS = 2
PRODUCERS = (100, 101)
CONSUMERS = 2

actions = st.lists(
    st.one_of(
        st.tuples(st.just("invoke"), st.sampled_from(PRODUCERS), st.integers(0, PARTITIONS - 1)),
        st.tuples(
            st.just("complete"),
            st.sampled_from(PRODUCERS),
            st.sampled_from(["ok", "ok", "ok", "acks0", "fail", "info-written", "info-lost"]),
        ),
        st.tuples(st.just("control"), st.integers(0, PARTITIONS - 1), st.just(0)),
        st.tuples(st.just("poll"), st.integers(0, CONSUMERS - 1), st.integers(1, 4)),
        st.tuples(st.just("commit"), st.integers(0, CONSUMERS - 1), st.just(0)),
        st.tuples(st.just("restart"), st.integers(0, CONSUMERS - 1), st.just(0)),
        st.tuples(st.just("reassign"), st.integers(0, CONSUMERS - 1), st.just(0)),
    ),
    min_size=10,
    max_size=100,
)


class Model:
    """A correct log: offsets assigned at completion, each producer's sends complete in order,
    consumers read on from their position and restart (a new process) from the commits."""

    def __init__(self) -> None:
        self.h = History()
        self.logs: dict[int, list[tuple[int, int | None]]] = {p: [] for p in range(PARTITIONS)}
        self.pending: dict[int, list[tuple[int, int]]] = defaultdict(list)  # partition, value
        self.values = iter(range(1_000, 1_000_000))
        self.committed = dict.fromkeys(range(PARTITIONS), 0)
        self.consumers = [200 + c for c in range(CONSUMERS)]
        self.next_process = 200 + CONSUMERS
        self.positions: dict[int, dict[int, int]] = {}
        for process in self.consumers:
            self.assign(process)

    def append(self, partition: int, value: int | None) -> int:
        offset = len(self.logs[partition])
        self.logs[partition].append((offset, value))
        return offset

    def assign(self, process: int) -> None:
        self.positions[process] = dict(self.committed)
        self.h.add(
            0, process, "ok", "assign", offsets=tuple((T, p, o) for p, o in self.committed.items())
        )

    def run(self, action: tuple[str, int, object]) -> None:
        kind, who, arg = action
        getattr(self, kind)(who, arg)

    def invoke(self, producer: int, partition: object) -> None:
        assert isinstance(partition, int)
        value = next(self.values)
        self.pending[producer].append((partition, value))
        self.h.add(0, producer, "invoke", "send", topic=T, partition=partition, value=value)

    def complete(self, producer: int, outcome: object) -> None:
        if not self.pending[producer]:
            return
        partition, value = self.pending[producer].pop(0)
        fields: dict[str, object] = {"topic": T, "partition": partition, "value": value}
        extra: dict[str, object]
        if outcome in ("ok", "acks0", "info-written"):
            offset = self.append(partition, value)
            kind, extra = ("ok", {"offset": offset if outcome == "ok" else -1})
            if outcome == "info-written":
                kind, extra = "info", {"error": "REQUEST_TIMED_OUT"}
        else:
            kind, extra = ("fail", {"error": "NOT_LEADER_OR_FOLLOWER"})
            if outcome == "info-lost":
                kind, extra = "info", {"error": "NETWORK_EXCEPTION"}
        self.h.add(0, producer, kind, "send", **fields, **extra)

    def control(self, partition: int, _: object) -> None:
        self.append(partition, None)  # takes an offset, never read

    def poll(self, consumer: int, most: object) -> bool:
        assert isinstance(most, int)
        process = self.consumers[consumer]
        reads: list[tuple[str, int, int, int]] = []
        for partition, position in self.positions[process].items():
            records = [(o, v) for o, v in self.logs[partition][position:] if v is not None]
            reads += [(T, partition, o, v) for o, v in records[:most]]
            if records[:most]:
                self.positions[process][partition] = records[:most][-1][0] + 1
        self.h.add(0, process, "invoke", "poll")
        self.h.add(0, process, "ok", "poll", reads=tuple(reads))
        return bool(reads)

    def commit(self, consumer: int, _: object) -> None:
        process = self.consumers[consumer]
        offsets = tuple((T, p, o) for p, o in self.positions[process].items())
        self.h.add(0, process, "invoke", "commit", offsets=offsets)
        self.h.add(0, process, "ok", "commit", offsets=offsets)
        self.committed.update(self.positions[process])

    def restart(self, consumer: int, _: object) -> None:
        self.consumers[consumer] = self.next_process
        self.next_process += 1
        self.assign(self.consumers[consumer])

    def reassign(self, consumer: int, _: object) -> None:
        self.assign(self.consumers[consumer])

    def final(self) -> dict[tuple[str, int], list[tuple[int, int]]]:
        return {(T, p): [(o, v) for o, v in log if v is not None] for p, log in self.logs.items()}


def model_run(steps: list[tuple[str, int, object]]) -> Model:
    """Run ``steps``, then complete every pending send and let each consumer catch up."""
    model = Model()
    for step in steps:
        model.run(step)
    for producer in PRODUCERS:
        while model.pending[producer]:
            model.complete(producer, "ok")
    for consumer in range(CONSUMERS):
        while model.poll(consumer, 4):
            pass
    return model


def run_positions(h: History) -> list[list[tuple[int, int]]]:
    """Each run (process, partition, between assigns) as (op index, read index) positions."""
    epochs: dict[int, int] = defaultdict(int)
    runs: dict[tuple[int, int, int], list[tuple[int, int]]] = defaultdict(list)
    for op in h.ops:
        if op.f == "assign":
            epochs[op.process] += 1
        elif op.f == "poll" and op.type == "ok":
            for i, (_, partition, _, _) in enumerate(op.reads):
                runs[(op.process, epochs[op.process], partition)].append((op.index, i))
    return list(runs.values())


def with_reads(h: History, changes: dict[int, tuple[tuple[str, int, int, int], ...]]) -> History:
    mutated = History()
    mutated.ops = [dataclasses.replace(op, reads=changes.get(op.index, op.reads)) for op in h.ops]
    return mutated


@settings(max_examples=150, deadline=None)
@given(actions)
def test_a_correct_log_has_no_anomalies(steps: list[tuple[str, int, object]]) -> None:
    model = model_run(steps)
    assert check(model.h, STRICT, model.final()).lines() == []
    assert check(model.h).lines() == []


@settings(max_examples=100, deadline=None)
@given(actions, st.data())
def test_dropping_an_acked_value_from_the_final_log_is_a_lost_write(
    steps: list[tuple[str, int, object]], data: st.DataObject
) -> None:
    model = model_run(steps)
    acked = [op for op in model.h.ops if op.f == "send" and op.type == "ok"]
    assume(acked)
    victim = data.draw(st.sampled_from(acked))
    final = model.final()
    final[(T, victim.partition)] = [r for r in final[(T, victim.partition)] if r[1] != victim.value]
    report = check(model.h, STRICT, final)
    assert [(a.name, a.value) for a in report.anomalies] == [("lost-write", victim.value)]  # type: ignore[union-attr]


@settings(max_examples=100, deadline=None)
@given(actions, st.data())
def test_a_value_written_twice_is_a_duplicate(
    steps: list[tuple[str, int, object]], data: st.DataObject
) -> None:
    model = model_run(steps)
    final = model.final()
    stored = [(p, v) for (_, p), records in final.items() for _, v in records]
    assume(stored)
    partition, value = data.draw(st.sampled_from(stored))
    final[(T, partition)].append((len(model.logs[partition]), value))
    report = check(model.h, STRICT, final)
    assert [(a.name, a.value) for a in report.anomalies] == [("duplicate", value)]  # type: ignore[union-attr]


@settings(max_examples=100, deadline=None)
@given(actions, st.data())
def test_a_read_left_out_of_a_poll_is_a_poll_skip(
    steps: list[tuple[str, int, object]], data: st.DataObject
) -> None:
    model = model_run(steps)
    candidates = [pos for run in run_positions(model.h) for pos in run[:-1]]
    assume(candidates)
    op_index, i = data.draw(st.sampled_from(candidates))
    reads = model.h.ops[op_index].reads
    mutated = with_reads(model.h, {op_index: reads[:i] + reads[i + 1 :]})
    report = check(mutated, STRICT, model.final())
    assert [(a.name, a.skipped) for a in report.anomalies] == [("poll-skip", (reads[i][2],))]  # type: ignore[union-attr]


@settings(max_examples=100, deadline=None)
@given(actions, st.data())
def test_two_polled_offsets_swapped_are_a_nonmonotonic_poll(
    steps: list[tuple[str, int, object]], data: st.DataObject
) -> None:
    model = model_run(steps)
    pairs = [pair for run in run_positions(model.h) for pair in itertools.pairwise(run)]
    assume(pairs)
    (op_a, i), (op_b, j) = data.draw(st.sampled_from(pairs))
    reads = {op: list(model.h.ops[op].reads) for op in (op_a, op_b)}
    reads[op_a][i], reads[op_b][j] = model.h.ops[op_b].reads[j], model.h.ops[op_a].reads[i]
    mutated = with_reads(model.h, {op: tuple(r) for op, r in reads.items()})
    report = check(mutated, STRICT, model.final())
    swapped = (model.h.ops[op_b].reads[j][2], model.h.ops[op_a].reads[i][2])
    assert [(a.name, a.from_offset, a.to_offset) for a in report.anomalies] == [  # type: ignore[union-attr]
        ("nonmonotonic-poll", *swapped)
    ]
