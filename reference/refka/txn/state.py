"""The states of a transactional id and the one table of legal transitions (Kafka's
``TransactionState.validPreviousStates``; spec/Transactions.tla's ``txnState``).

    Empty --AddPartitionsToTxn / AddOffsetsToTxn--> Ongoing
    Ongoing --EndTxn(commit)--> PrepareCommit --markers written--> CompleteCommit
    Ongoing --EndTxn(abort) / timeout--> PrepareAbort --markers written--> CompleteAbort
    Ongoing --InitProducerId of a new producer instance--> PrepareEpochFence --> PrepareAbort
    Empty | CompleteCommit | CompleteAbort --> Empty (InitProducerId), Ongoing (a new
                                               transaction), PrepareAbort (KIP-890 abort of
                                               an empty transaction), Dead (expiration)

An illegal transition raises ``IllegalTransactionTransition`` and changes nothing.
"""

from __future__ import annotations

import enum


class TransactionState(enum.Enum):
    """Kafka's states, with the ids ``__transaction_state`` holds (``TransactionState.id``)."""

    EMPTY = 0
    ONGOING = 1
    PREPARE_COMMIT = 2
    PREPARE_ABORT = 3
    COMPLETE_COMMIT = 4
    COMPLETE_ABORT = 5
    DEAD = 6
    PREPARE_EPOCH_FENCE = 7

    @property
    def display_name(self) -> str:
        """The name DescribeTransactions and ListTransactions use ("Ongoing", ...)."""
        return "".join(part.capitalize() for part in self.name.split("_"))


S = TransactionState
_COMPLETED = frozenset({S.EMPTY, S.COMPLETE_COMMIT, S.COMPLETE_ABORT})

VALID_PREVIOUS_STATES: dict[TransactionState, frozenset[TransactionState]] = {
    S.EMPTY: _COMPLETED,
    S.ONGOING: _COMPLETED | {S.ONGOING},
    S.PREPARE_COMMIT: frozenset({S.ONGOING}),
    S.PREPARE_ABORT: _COMPLETED | {S.ONGOING, S.PREPARE_EPOCH_FENCE},
    S.COMPLETE_COMMIT: frozenset({S.PREPARE_COMMIT}),
    S.COMPLETE_ABORT: frozenset({S.PREPARE_ABORT}),
    S.DEAD: _COMPLETED,
    S.PREPARE_EPOCH_FENCE: frozenset({S.ONGOING}),
}

PENDING_STATES = frozenset({S.PREPARE_COMMIT, S.PREPARE_ABORT, S.PREPARE_EPOCH_FENCE})
"""Markers are being written: a new request for the id gets CONCURRENT_TRANSACTIONS."""


class IllegalTransactionTransition(Exception):
    """A transition ``VALID_PREVIOUS_STATES`` does not allow."""


def check_transition(current: TransactionState, target: TransactionState) -> None:
    """Raise unless ``current -> target`` is in the table."""
    if current not in VALID_PREVIOUS_STATES[target]:
        raise IllegalTransactionTransition(
            f"{current.display_name} -> {target.display_name} is not a legal transition"
        )


class TransactionResult(enum.IntEnum):
    """What a transaction ends with: the control record type of its markers
    (``ControlRecordType``: ABORT 0, COMMIT 1)."""

    ABORT = 0
    COMMIT = 1
