"""DescribeTransactions and ListTransactions (KIP-664; ListTransactions' duration filter
KIP-994, its transactional id pattern KIP-1152): what the coordinator of this node knows.

The admin client asks each transactional id's coordinator (DescribeTransactions) and every
broker (ListTransactions), so each answers only for the ``__transaction_state`` partitions it
owns: NOT_COORDINATOR / COORDINATOR_LOAD_IN_PROGRESS otherwise.
"""

from __future__ import annotations

import datetime
import re
from typing import Any

from kio.schema.errors import ErrorCode

from refka.core.context import RequestContext
from refka.core.transactions import TransactionService
from refka.protocol import codec
from refka.security.api_acls import TXN, allowed
from refka.txn.metadata import TransactionMetadata
from refka.txn.state import TransactionState

DESCRIBE_TRANSACTIONS, LIST_TRANSACTIONS = 65, 66
STATES = {state.display_name: state for state in TransactionState}
E = ErrorCode


def handle_describe_transactions(
    txns: TransactionService, ctx: RequestContext, request: Any
) -> Any:
    m = codec.response_module(DESCRIBE_TRANSACTIONS, ctx.api_version)
    answers = []
    for txn_id in request.transactional_ids:
        txn = None
        if not allowed(ctx, TXN, txn_id):
            error = E.transactional_id_authorization_failed
        else:
            error = txns.check_coordinator(txn_id, ctx.now_ms)
        if error == E.none:
            error, txn = txns.coordinator.state.describe(txn_id)
        answers.append(_described(m, txn_id, error, txn))
    return codec.build(
        m.DescribeTransactionsResponse,
        throttle_time=codec.millis(0),
        transaction_states=tuple(answers),
    )


def _described(m: Any, txn_id: str, error: ErrorCode, txn: TransactionMetadata | None) -> Any:
    topics: dict[str, list[int]] = {}
    for topic, partition in sorted(txn.partitions if txn else ()):
        topics.setdefault(topic, []).append(partition)
    start_ms = txn.txn_start_timestamp_ms if txn else 0  # -1 before a first transaction
    return codec.build(  # an error leaves Kafka's defaults: "", 0
        m.TransactionState,
        error_code=error,
        transactional_id=txn_id,
        transaction_state=txn.state.display_name if txn else "",
        transaction_timeout=codec.millis(txn.txn_timeout_ms if txn else 0),
        transaction_start_time=datetime.datetime.fromtimestamp(start_ms / 1000, tz=datetime.UTC),
        producer_id=txn.producer_id if txn else 0,
        producer_epoch=txn.producer_epoch if txn else 0,
        topics=tuple(
            codec.build(m.TopicData, topic=t, partitions=tuple(p)) for t, p in topics.items()
        ),
    )


def handle_list_transactions(txns: TransactionService, ctx: RequestContext, request: Any) -> Any:
    m = codec.response_module(LIST_TRANSACTIONS, ctx.api_version)

    def answer(error: ErrorCode, found: list[TransactionMetadata], unknown: tuple[str, ...]) -> Any:
        return codec.build(
            m.ListTransactionsResponse,
            throttle_time=codec.millis(0),
            error_code=error,
            unknown_state_filters=unknown,
            transaction_states=tuple(
                codec.build(
                    m.TransactionState,
                    transactional_id=t.transactional_id,
                    producer_id=t.producer_id,
                    transaction_state=t.state.display_name,
                )
                for t in found
            ),
        )

    pattern = getattr(request, "transactional_id_pattern", None)
    try:
        compiled = re.compile(pattern) if pattern else None
    except re.error:
        return answer(E.invalid_regular_expression, [], ())
    state = txns.coordinator.state
    if state.loading_partitions:
        return answer(E.coordinator_load_in_progress, [], ())
    unknown = tuple(s for s in request.state_filters if s not in STATES)
    found = state.list_transactions(
        frozenset(STATES[s] for s in request.state_filters if s in STATES),
        frozenset(int(p) for p in request.producer_id_filters),
        int(getattr(request, "duration_filter", -1)),
        (lambda txn_id: compiled.fullmatch(txn_id) is not None) if compiled else (lambda _: True),
        ctx.now_ms,
    )
    shown = [t for t in found if allowed(ctx, TXN, t.transactional_id)]  # DESCRIBE on each
    return answer(E.none, shown, unknown)
