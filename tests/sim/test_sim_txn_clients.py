"""The simulator's transactional producer and readers against the reference on a simulated
cluster: a commit is seen at both isolation levels and an abort only at read_uncommitted; a
producer stalled past ``transaction.timeout.ms`` is aborted and fenced and takes a new epoch;
a transaction survives its coordinator's crash; and the transaction invariants flag what
they should (``refka.sim.txn_invariants``)."""

from __future__ import annotations

from dataclasses import replace

from refka.sim.history import History
from refka.sim.schedule import Operation, SimConfig
from refka.sim.simulation import Simulation
from refka.sim.txn_invariants import TransactionChecker

CONFIG = SimConfig(partitions=2, producers=0, consumers=0, txn_producers=1, readers=2)
FIND_COORDINATOR, INIT_PRODUCER_ID, ADD_PARTITIONS_TO_TXN, END_TXN, PRODUCE, FETCH = (
    10, 22, 24, 26, 0, 1,
)  # fmt: skip


def txn(commit: bool, records: int = 2, partition: int = 0) -> Operation:
    return Operation.of("txn", client=0, partition=partition, records=records, commit=commit)


def read_all(sim: Simulation) -> tuple[set[int], set[int]]:
    """The values each reader (read_committed, read_uncommitted) returned, after a last round."""
    for number in range(len(sim.readers)):
        sim.apply(Operation.of("read", client=number))
    sim.apply(Operation.of("run", ms=500))
    ops = sim.history.ops
    committed, uncommitted = (
        {r[3] for op in ops if op.f == "read" and op.process == reader.client_id for r in op.reads}
        for reader in sim.readers
    )
    return committed, uncommitted


def outcomes(sim: Simulation) -> list[str]:
    return [op.type for op in sim.history.ops if op.f == "txn" and op.type != "invoke"]


def test_a_commit_is_read_at_both_levels_an_abort_only_uncommitted() -> None:
    sim = Simulation(3, CONFIG)
    # 2 s: each transaction's first write to a partition waits for the coordinator's broker
    # (KIP-890 verification, a round trip on a new connection)
    for op in (txn(True), txn(False), Operation.of("run", ms=2_000)):
        assert sim.apply(op) == []
    committed, uncommitted = read_all(sim)
    assert outcomes(sim) == ["ok", "fail"]
    assert committed == {0, 1} and uncommitted == {0, 1, 2, 3}
    producer = sim.txn_producers[0]
    for api in (FIND_COORDINATOR, INIT_PRODUCER_ID, ADD_PARTITIONS_TO_TXN, END_TXN, PRODUCE):
        assert producer.decoded[api] > 0, api  # every answer decoded by kio
    assert sim.readers[0].decoded[FETCH] > 0
    assert sim.finish().ok and sim.violations == []


def test_a_transaction_past_its_timeout_is_aborted_and_the_producer_takes_a_new_epoch() -> None:
    sim = Simulation(5, replace(CONFIG, transaction_timeout_ms=2_000))
    sim.apply(txn(True))
    sim.apply(Operation.of("run", ms=1_000))
    producer = sim.txn_producers[0]
    first = producer.producer_ids[-1]
    slow = dict(client=0, partition=0, records=2, commit=True, hold_ms=6_000)
    sim.apply(Operation.of("slow_txn", **slow))  # its EndTxn 6 s later, past the timeout
    sim.apply(Operation.of("run", ms=8_000))  # the coordinator aborts it, bumping the epoch
    sim.apply(txn(True, partition=1))
    sim.apply(Operation.of("run", ms=1_000))
    assert outcomes(sim)[-2:] == ["fail", "ok"], sim.history.ops
    assert producer.producer_ids[-1][1] > first[1]  # a new epoch after the fence
    assert set(producer.errors) & {"PRODUCER_FENCED", "INVALID_PRODUCER_EPOCH"}
    committed, _ = read_all(sim)
    assert {2, 3} & committed == set()  # the aborted one
    assert {0, 1, 4, 5} <= committed
    assert sim.finish().ok and sim.violations == []


def test_a_transaction_survives_its_coordinator_crashing_mid_way() -> None:
    sim = Simulation(7, replace(CONFIG, step_ms=0))
    sim.apply(txn(True))
    sim.apply(Operation.of("run", ms=1_000))
    producer = sim.txn_producers[0]
    coordinator = producer.coordinator
    assert coordinator is not None
    sim.apply(txn(True, records=3))  # under way when its coordinator dies
    sim.apply(Operation.of("bounce", node=coordinator))
    sim.apply(Operation.of("run", ms=30_000))
    assert outcomes(sim)[0] == "ok" and len(outcomes(sim)) == 2
    assert producer.coordinator != coordinator  # __transaction_state failed over, and loaded
    sim.finish()
    assert sim.violations == []
    committed, _ = read_all(sim)
    assert {0, 1} <= committed
    if outcomes(sim)[1] == "ok":
        assert {2, 3, 4} <= committed
    else:
        assert not {2, 3, 4} & committed


def _history(*entries: tuple[int, str, str, dict[str, object]]) -> History:
    history = History()
    for process, type_, f, fields in entries:
        history.add(0, process, type_, f, topic="sim", **fields)
    return history


def test_the_checker_flags_an_aborted_read_a_torn_read_and_a_lost_commit() -> None:
    aborted = ((0, -1, 1), (0, -1, 2))
    history = _history(
        (101, "invoke", "txn", {"records": aborted}),
        (101, "fail", "txn", {"records": ((0, 0, 1), (0, 1, 2))}),
        (101, "invoke", "txn", {"records": ((1, -1, 3), (1, -1, 4))}),
        (101, "ok", "txn", {"records": ((1, 3, 3), (1, 4, 4))}),
        (102, "ok", "read", {"reads": (("sim", 0, 0, 1), ("sim", 1, 3, 3), ("sim", 1, 6, 9))}),
        (103, "ok", "read", {"reads": (("sim", 0, 0, 1),)}),  # read_uncommitted: allowed
    )
    checker = TransactionChecker([102])
    found = checker.check(history.ops)
    assert [v.invariant for v in found] == ["ReadCommittedSeesNoAborted", "NoTornTransaction"]
    assert "value 1" in found[0].detail and "value 4" in found[1].detail
    assert checker.check(history.ops) == []  # each reported once
    lost = checker.lost([0, 1])
    assert [v.invariant for v in lost] == ["NoCommittedTransactionLost"]
    assert "value 4" in lost[0].detail
    assert checker.lost([0]) == []  # partition 1 has no leader: nothing asked of it
