"""The transaction coordinator without a broker: the one state table, and the answers Kafka's
``TransactionCoordinator`` gives (Transactions.tla ``BeginTxn``, ``EndTxn``, ``WriteMarker``)."""

from __future__ import annotations

import pytest
from kio.schema.errors import ErrorCode
from refka.txn.coordinator import TransactionCoordinator
from refka.txn.effects import AppendTxnLog, Effect, WriteTxnMarkers
from refka.txn.metadata import TransactionMetadata
from refka.txn.state import (
    VALID_PREVIOUS_STATES,
    IllegalTransactionTransition,
    TransactionResult,
    TransactionState,
)
from refka.txn.state_manager import TransactionConfig

S = TransactionState
E = ErrorCode
TP = ("t", 0)


def test_every_state_has_a_row() -> None:
    assert set(VALID_PREVIOUS_STATES) == set(TransactionState)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (S.EMPTY, S.PREPARE_COMMIT),  # nothing to commit
        (S.COMPLETE_ABORT, S.COMPLETE_COMMIT),
        (S.PREPARE_COMMIT, S.PREPARE_ABORT),  # a commit once prepared is final
        (S.DEAD, S.ONGOING),
        (S.PREPARE_ABORT, S.ONGOING),
    ],
)
def test_an_illegal_transition_raises_and_changes_nothing(
    current: TransactionState, target: TransactionState
) -> None:
    txn = TransactionMetadata("id", 1, 0, 60_000, state=current)
    with pytest.raises(IllegalTransactionTransition):
        txn.transition_to(target, 5)
    assert txn.state is current
    assert txn.txn_last_update_timestamp_ms == -1


def test_a_legal_transition_moves() -> None:
    txn = TransactionMetadata("id", 1, 0, 60_000)
    txn.transition_to(S.ONGOING, 7)
    assert (txn.state, txn.txn_start_timestamp_ms) == (S.ONGOING, 7)


def coordinator(max_timeout_ms: int = 900_000) -> TransactionCoordinator:
    return TransactionCoordinator.build(TransactionConfig(max_timeout_ms, 50))


def markers_of(effects: list[Effect]) -> list[WriteTxnMarkers]:
    return [e for e in effects if isinstance(e, WriteTxnMarkers)]


def init(c: TransactionCoordinator, pid: int = -1, epoch: int = -1, now: int = 0) -> tuple:
    result, effects = c.init_producer_id("id", 60_000, pid, epoch, 1000, now)
    return result.error, result.producer_id, result.producer_epoch, markers_of(effects)


def add(c: TransactionCoordinator, pid: int, epoch: int, tps: list, **kw: bool) -> ErrorCode:
    return c.add_partitions("id", pid, epoch, tps, 0, **kw)[0]


def test_init_gives_a_producer_id_and_bumps_the_epoch_of_the_next_instance() -> None:
    c = coordinator()
    assert init(c)[:3] == (E.none, 1000, 0)
    assert init(c)[:3] == (E.none, 1000, 1)  # a new instance fences the older one
    assert add(c, 1000, 0, [TP]) == E.producer_fenced


def test_timeout_above_the_maximum_is_refused() -> None:
    c = coordinator(max_timeout_ms=1000)
    result, _ = c.init_producer_id("id", 1001, -1, -1, 7, 0)
    assert result.error == E.invalid_transaction_timeout


def test_commit_prepares_writes_markers_then_completes() -> None:
    c = coordinator()
    init(c)
    assert add(c, 1000, 0, [TP, ("t", 1)]) == E.none
    assert c.state.transactions["id"].state is S.ONGOING
    result, effects = c.end_transaction("id", 1000, 0, TransactionResult.COMMIT, 1)
    assert result.error == E.none
    assert isinstance(effects[0], AppendTxnLog)  # the prepare record before the markers
    assert markers_of(effects) == [
        WriteTxnMarkers("id", 1000, 0, 0, TransactionResult.COMMIT, (TP, ("t", 1)))
    ]
    assert c.state.transactions["id"].state is S.PREPARE_COMMIT
    # while the markers are written, the next transaction must wait
    assert add(c, 1000, 0, [TP]) == E.concurrent_transactions
    again, _ = c.end_transaction("id", 1000, 0, TransactionResult.COMMIT, 2)
    assert again.error == E.concurrent_transactions
    assert [type(e) for e in c.complete_markers("id", 3)] == [AppendTxnLog]
    assert c.state.transactions["id"].state is S.COMPLETE_COMMIT
    retried, effects = c.end_transaction("id", 1000, 0, TransactionResult.COMMIT, 4)
    assert (retried.error, effects) == (E.none, [])  # a retried commit succeeds
    other, _ = c.end_transaction("id", 1000, 0, TransactionResult.ABORT, 4)
    assert other.error == E.invalid_txn_state


def test_end_without_a_transaction_is_invalid_txn_state() -> None:
    c = coordinator()
    init(c)
    result, _ = c.end_transaction("id", 1000, 0, TransactionResult.COMMIT, 1)
    assert result.error == E.invalid_txn_state


def test_unknown_producer_id_is_a_mapping_error() -> None:
    c = coordinator()
    init(c)
    assert add(c, 999, 0, [TP]) == E.invalid_producer_id_mapping
    assert c.add_partitions("other", 1000, 0, [TP], 0)[0] == E.invalid_producer_id_mapping


def test_a_new_instance_fences_and_aborts_the_ongoing_transaction() -> None:
    c = coordinator()
    init(c)
    add(c, 1000, 0, [TP])
    error, _, _, markers = init(c, now=1)
    assert error == E.concurrent_transactions  # the client retries once the abort is done
    assert markers == [WriteTxnMarkers("id", 1000, 1, 0, TransactionResult.ABORT, (TP,))]
    c.complete_markers("id", 2)
    assert init(c, now=3)[:3] == (E.none, 1000, 2)


def test_kip360_a_retried_bump_returns_the_same_epoch() -> None:
    c = coordinator()
    init(c)  # epoch 0
    assert init(c, 1000, 0)[:3] == (E.none, 1000, 1)
    assert init(c, 1000, 0)[:3] == (E.none, 1000, 1)  # the answer was lost: same bump
    assert init(c, 999, 0)[0] == E.producer_fenced


def test_verify_only_checks_membership() -> None:
    c = coordinator()
    init(c)
    add(c, 1000, 0, [TP])
    assert add(c, 1000, 0, [TP], verify_only=True) == E.none
    assert add(c, 1000, 0, [("t", 9)], verify_only=True) == E.invalid_txn_state
    assert ("t", 9) not in c.state.transactions["id"].partitions


def test_a_timed_out_transaction_is_aborted_with_a_bumped_epoch() -> None:
    c = coordinator()
    c.init_producer_id("id", 100, -1, -1, 1000, 0)
    c.add_partitions("id", 1000, 0, [TP], 10)
    assert c.next_deadline_ms() == 110
    assert c.on_tick(109) == []
    markers = markers_of(c.on_tick(110))
    assert markers == [WriteTxnMarkers("id", 1000, 1, 0, TransactionResult.ABORT, (TP,))]
    c.complete_markers("id", 111)
    assert c.state.transactions["id"].state is S.COMPLETE_ABORT
    result, _ = c.end_transaction("id", 1000, 0, TransactionResult.COMMIT, 112)
    assert result.error == E.producer_fenced  # the old epoch may not commit


def test_a_record_holds_the_state_in_kafkas_format() -> None:
    """TransactionLogValue v1 (flexible): id, epoch, timeout, status, partitions by topic,
    timestamps, then tagged fields only when not at their defaults."""
    from refka.txn import records

    txn = TransactionMetadata("id", 5, 2, 60_000, state=S.ONGOING, partitions={("t", 3), ("t", 0)})
    txn.txn_start_timestamp_ms, txn.txn_last_update_timestamp_ms = 6, 7
    value = records.encode_value(txn)
    assert value.hex() == (
        "0001"  # value version 1
        "0000000000000005" "0002" "0000ea60" "01"  # producer id, epoch, timeout, Ongoing
        "02" "0274" "03" "00000000" "00000003" "00"  # [{topic "t", [0, 3]}], no tags
        "0000000000000007" "0000000000000006" "00"  # last update, start, no tags
    )  # fmt: skip
    assert records.encode_key("id").hex() == "0000" "0002" "6964"  # fmt: skip
    assert records.decode_value("id", value) == txn
    assert records.decode_key(records.encode_key("id")) == "id"


def test_a_loaded_partition_restores_transactions_and_finishes_prepared_ones() -> None:
    """Replaying the records a coordinator wrote gives the same transactions; one caught in
    PrepareCommit gets its markers again (the broker died between EndTxn and the markers)."""
    first = coordinator()
    effects: list[Effect] = []
    effects += first.init_producer_id("id", 60_000, -1, -1, 1000, 0)[1]
    effects += first.add_partitions("id", 1000, 0, [TP], 1)[1]
    effects += first.end_transaction("id", 1000, 0, TransactionResult.COMMIT, 2)[1]
    logged = [e.records for e in effects if isinstance(e, AppendTxnLog)]
    from refka.group.records import iter_key_values

    replay = [kv for batch in logged for kv in iter_key_values(batch)]
    second = coordinator()
    again = second.load(first.state.partition_for("id"), replay, coordinator_epoch=4)
    assert second.state.transactions["id"] == first.state.transactions["id"]
    assert again == [WriteTxnMarkers("id", 1000, 0, 4, TransactionResult.COMMIT, (TP,))]
    second.state.unload(first.state.partition_for("id"))
    assert second.state.transactions == {}


def test_not_coordinator_for_an_id_of_a_partition_not_owned() -> None:
    c = coordinator()
    state = c.state
    state.owned_partitions = frozenset()
    assert state.coordinator_error("id") == E.not_coordinator
    state.loading_partitions = frozenset({state.partition_for("id")})
    assert state.coordinator_error("id") == E.coordinator_load_in_progress


def test_an_idle_id_expires_to_dead_with_a_tombstone() -> None:
    """transactional.id.expiration.ms, checked every
    transaction.remove.expired.transaction.cleanup.interval.ms: an id idle that long and not
    in a transaction is removed (a tombstone); an ongoing one is not."""
    config = TransactionConfig(900_000, 50, 1_000, 100)
    c = TransactionCoordinator.build(config)
    c.init_producer_id("idle", 60_000, -1, -1, 1, 0)
    c.init_producer_id("busy", 60_000, -1, -1, 2, 0)
    c.add_partitions("busy", 2, 0, [TP], 0)
    assert c.on_tick(0) == [] and c.state.next_expiration_check_ms == 100
    assert c.on_tick(500) == []  # checked, nothing idle long enough
    effects = c.on_tick(1_000)
    [tombstone] = [e for e in effects if isinstance(e, AppendTxnLog)]
    from refka.group.records import iter_key_values
    from refka.txn import records

    [(key, value)] = list(iter_key_values(tombstone.records))
    assert key is not None and records.decode_key(key) == "idle" and value is None
    assert set(c.state.transactions) == {"busy"}
    result, _ = c.init_producer_id("idle", 60_000, -1, -1, 3, 1_001)
    assert (result.producer_id, result.producer_epoch) == (3, 0)  # a new producer id
