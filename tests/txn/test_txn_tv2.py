"""Transaction version 2 (KIP-890 part 2) in the coordinator alone: the epoch bumped at every
EndTxn v5, markers with the new epoch, retries with the epoch before the bump, the abort of an
empty transaction, and partitions added by the partition leader."""

from __future__ import annotations

from kio.schema.errors import ErrorCode
from refka.txn.coordinator import TransactionCoordinator
from refka.txn.effects import Effect, WriteTxnMarkers
from refka.txn.state import TransactionResult, TransactionState
from refka.txn.state_manager import TransactionConfig

S = TransactionState
E = ErrorCode
R = TransactionResult
TP = ("t", 0)


def coordinator() -> TransactionCoordinator:
    c = TransactionCoordinator.build(TransactionConfig(900_000, 50))
    result, _ = c.init_producer_id("id", 60_000, -1, -1, 1000, 0)
    assert (result.producer_id, result.producer_epoch) == (1000, 0)
    return c


def markers_of(effects: list[Effect]) -> list[WriteTxnMarkers]:
    return [e for e in effects if isinstance(e, WriteTxnMarkers)]


def end(c: TransactionCoordinator, epoch: int, result: R, tv: int = 2) -> tuple:
    answer, effects = c.end_transaction("id", 1000, epoch, result, 1, tv)
    return answer.error, answer.producer_epoch, markers_of(effects)


def test_end_txn_v5_bumps_the_epoch_and_the_markers_carry_it() -> None:
    c = coordinator()
    assert c.add_partitions("id", 1000, 0, [TP], 0, transaction_version=2)[0] == E.none
    error, epoch, markers = end(c, 0, R.COMMIT)
    assert (error, epoch) == (E.none, 1)
    assert markers == [WriteTxnMarkers("id", 1000, 1, 0, R.COMMIT, (TP,), 2)]
    # the old epoch is fenced for new work; the next transaction uses the new one
    assert c.add_partitions("id", 1000, 0, [TP], 2)[0] == E.producer_fenced
    c.complete_markers("id", 2)
    assert c.add_partitions("id", 1000, 1, [TP], 3, transaction_version=2)[0] == E.none
    assert end(c, 1, R.ABORT)[:2] == (E.none, 2)


def test_a_retried_end_txn_v5_with_the_epoch_before_the_bump_succeeds() -> None:
    c = coordinator()
    c.add_partitions("id", 1000, 0, [TP], 0, transaction_version=2)
    end(c, 0, R.COMMIT)
    assert end(c, 0, R.COMMIT)[0] == E.concurrent_transactions  # markers still being written
    c.complete_markers("id", 2)
    assert end(c, 0, R.COMMIT)[:3] == (E.none, 1, [])  # the answer was lost: same outcome
    assert end(c, 0, R.ABORT)[0] == E.invalid_txn_state  # not the way it ended
    assert end(c, 1, R.COMMIT)[0] == E.invalid_txn_state  # nothing ongoing at the new epoch


def test_an_empty_transaction_may_be_aborted_with_v5_only() -> None:
    c = coordinator()
    assert end(c, 0, R.ABORT, tv=1)[0] == E.invalid_txn_state
    error, epoch, markers = end(c, 0, R.ABORT)
    assert (error, epoch) == (E.none, 1)
    assert markers == [WriteTxnMarkers("id", 1000, 1, 0, R.ABORT, (), 2)]


def test_an_older_epoch_than_the_retry_is_fenced() -> None:
    c = coordinator()
    c.add_partitions("id", 1000, 0, [TP], 0, transaction_version=2)
    end(c, 0, R.COMMIT)
    c.complete_markers("id", 2)
    c.add_partitions("id", 1000, 1, [TP], 3, transaction_version=2)
    assert end(c, 0, R.COMMIT)[0] == E.producer_fenced  # ongoing: no retry of an old end
    assert c.state.transactions["id"].state is S.ONGOING


def test_end_txn_v4_keeps_the_epoch() -> None:
    c = coordinator()
    c.add_partitions("id", 1000, 0, [TP], 0)
    error, epoch, markers = end(c, 0, R.COMMIT, tv=1)
    assert (error, epoch, markers[0].producer_epoch) == (E.none, 0, 0)


def test_an_exhausted_epoch_ends_with_a_new_producer_id() -> None:
    c = coordinator()
    txn = c.state.transactions["id"]
    txn.producer_epoch = 32766  # MAX_EPOCH - 1: the next bump is the last one
    c.add_partitions("id", 1000, 32766, [TP], 0, transaction_version=2)
    assert c.end_transaction("id", 1000, 32766, R.COMMIT, 1, 2)[0].error == (
        E.coordinator_not_available  # no fresh id could be had: the client retries
    )
    answer, effects = c.end_transaction("id", 1000, 32766, R.COMMIT, 1, 2, fresh_producer_id=2000)
    assert (answer.error, answer.producer_id, answer.producer_epoch) == (E.none, 2000, 0)
    assert markers_of(effects) == [WriteTxnMarkers("id", 1000, 32767, 0, R.COMMIT, (TP,), 2)]
    c.complete_markers("id", 2)
    assert (txn.producer_id, txn.producer_epoch, txn.previous_producer_id) == (2000, 0, 1000)
    assert c.add_partitions("id", 2000, 0, [TP], 3, transaction_version=2)[0] == E.none
