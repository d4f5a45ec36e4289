"""The transaction APIs (KIP-98): InitProducerId with a transactional id, AddPartitionsToTxn,
AddOffsetsToTxn and EndTxn, answered by the ``TransactionCoordinator`` of this node.

Every request first checks that this node coordinates the transactional id (NOT_COORDINATOR,
COORDINATOR_LOAD_IN_PROGRESS or COORDINATOR_NOT_AVAILABLE otherwise). The coordinator's
effects go to ``TransactionService.run``: the answer goes out once its ``__transaction_state``
record is replicated, and the markers an EndTxn asks for are written after it.
"""

from __future__ import annotations

from typing import Any

from kio.schema.errors import ErrorCode

from refka.broker.producer_ids import UNAVAILABLE, WAITING
from refka.core.context import PENDING, RequestContext
from refka.core.transactions import TransactionService
from refka.group.partitioner import partition_for
from refka.protocol import codec
from refka.security.api_acls import CLUSTER, GROUP, TOPIC, TXN, allowed
from refka.txn.effects import ProducerIdResult
from refka.txn.state import TransactionResult

INIT_PRODUCER_ID, ADD_PARTITIONS_TO_TXN, ADD_OFFSETS_TO_TXN, END_TXN = 22, 24, 25, 26
OFFSETS_TOPIC = "__consumer_offsets"
E = ErrorCode


# -- InitProducerId ----------------------------------------------------------------------


def handle_init_producer_id(txns: TransactionService, ctx: RequestContext, request: Any) -> Any:
    """A transactional producer's id and epoch (the coordinator bumps the epoch, fences an
    older instance, and recovers a producer that names its id and epoch: KIP-360)."""
    txn_id = request.transactional_id
    error = txns.check_coordinator(txn_id, ctx.now_ms)
    if error != E.none:
        return _init_response(ctx, ProducerIdResult(error))
    if not txns.coordinator.needs_producer_id(txn_id):
        return _init(txns, ctx, request, None)

    def granted(producer_id: int | None) -> None:
        response = _init(txns, ctx, request, producer_id)
        if response is not PENDING:
            txns.topics.forwarding.reply(ctx, response)

    producer_id = txns.topics.producer_ids.allocate(ctx.now_ms, granted)
    if producer_id == WAITING:
        return PENDING
    return _init(txns, ctx, request, None if producer_id == UNAVAILABLE else producer_id)


def _init(txns: TransactionService, ctx: RequestContext, request: Any, fresh: int | None) -> Any:
    timeout_ms = int(request.transaction_timeout.total_seconds() * 1000)
    result, effects = txns.coordinator.init_producer_id(
        request.transactional_id,
        timeout_ms,
        int(getattr(request, "producer_id", -1)),
        int(getattr(request, "producer_epoch", -1)),
        fresh,
        ctx.now_ms,
    )
    return txns.run(ctx, effects, lambda error: _init_response(ctx, _failed(result, error)))


def _failed(result: ProducerIdResult, error: ErrorCode) -> ProducerIdResult:
    """The coordinator's answer, or the error of the write it waited for."""
    return result if error == E.none else ProducerIdResult(error)


def _init_response(ctx: RequestContext, result: ProducerIdResult) -> Any:
    m = codec.response_module(INIT_PRODUCER_ID, ctx.api_version)
    return codec.build(
        m.InitProducerIdResponse,
        throttle_time=codec.millis(0),
        error_code=result.error,
        producer_id=result.producer_id,
        producer_epoch=result.producer_epoch,
    )


# -- AddPartitionsToTxn ------------------------------------------------------------------


def handle_add_partitions_to_txn(
    txns: TransactionService, ctx: RequestContext, request: Any
) -> Any:
    """Clients send one transaction (v0-v3); brokers batch several and may only verify
    (v4+, KIP-890 part 1)."""
    m = codec.response_module(ADD_PARTITIONS_TO_TXN, ctx.api_version)
    if ctx.api_version < 4:
        wanted, errors, effects = _add_partitions(
            txns,
            ctx,
            request.v3_and_below_transactional_id,
            int(request.v3_and_below_producer_id),
            int(request.v3_and_below_producer_epoch),
            request.v3_and_below_topics,
            False,
        )

        def respond(failed: ErrorCode) -> Any:
            answer = errors if failed == E.none else _per_partition(wanted, lambda _: failed)
            return codec.build(
                m.AddPartitionsToTxnResponse,
                throttle_time=codec.millis(0),
                results_by_topic_v3_and_below=_topic_results(m, answer),
            )

        return txns.run(ctx, effects, respond)
    if not allowed(ctx, CLUSTER):  # v4+: brokers only, CLUSTER_ACTION
        return codec.build(
            m.AddPartitionsToTxnResponse,
            throttle_time=codec.millis(0),
            error_code=E.cluster_authorization_failed,
            results_by_transaction=(),
        )
    results = []
    all_effects: list[Any] = []
    for txn in request.transactions:  # brokers' batched verification (KIP-890 part 1)
        _, errors, effects = _add_partitions(
            txns,
            ctx,
            txn.transactional_id,
            int(txn.producer_id),
            int(txn.producer_epoch),
            txn.topics,
            txn.verify_only,
        )
        all_effects += effects
        results.append(
            codec.build(
                m.AddPartitionsToTxnResult,
                transactional_id=txn.transactional_id,
                topic_results=_topic_results(m, errors),
            )
        )
    return txns.run(
        ctx,
        all_effects,
        lambda failed: codec.build(
            m.AddPartitionsToTxnResponse,
            throttle_time=codec.millis(0),
            error_code=failed,
            results_by_transaction=tuple(results) if failed == E.none else (),
        ),
    )


TopicErrors = dict[str, dict[int, ErrorCode]]
Wanted = list[tuple[str, int]]


def _add_partitions(
    txns: TransactionService,
    ctx: RequestContext,
    txn_id: str,
    producer_id: int,
    producer_epoch: int,
    topics: Any,
    verify_only: bool,
) -> tuple[Wanted, TopicErrors, list[Any]]:
    """Each partition's error: unknown partitions get UNKNOWN_TOPIC_OR_PARTITION and the rest
    OPERATION_NOT_ATTEMPTED, as Kafka answers; else the coordinator's one answer for all."""
    wanted = [(t.name, int(p)) for t in topics for p in t.partitions]
    if not allowed(ctx, TXN, txn_id):
        return wanted, _per_partition(wanted, lambda _: E.transactional_id_authorization_failed), []
    denied = {t.name for t in topics if not allowed(ctx, TOPIC, t.name)}
    if denied:
        refused, other = E.topic_authorization_failed, E.operation_not_attempted
        return wanted, _per_partition(wanted, lambda tp: refused if tp[0] in denied else other), []
    known = txns.topics.image.topics_by_name
    unknown = {tp for tp in wanted if tp[0] not in known or tp[1] not in known[tp[0]].partitions}
    if unknown:
        unknown_error, other_error = E.unknown_topic_or_partition, E.operation_not_attempted
        errors = _per_partition(wanted, lambda tp: unknown_error if tp in unknown else other_error)
        return wanted, errors, []
    error = txns.check_coordinator(txn_id, ctx.now_ms)
    effects: list[Any] = []
    if error == E.none:
        error, effects = txns.coordinator.add_partitions(
            txn_id, producer_id, producer_epoch, wanted, ctx.now_ms, verify_only
        )
    return wanted, _per_partition(wanted, lambda _: error), effects


def _per_partition(wanted: list[tuple[str, int]], error_of: Any) -> TopicErrors:
    out: TopicErrors = {}
    for tp in wanted:
        out.setdefault(tp[0], {})[tp[1]] = error_of(tp)
    return out


def _topic_results(m: Any, errors: TopicErrors) -> tuple[Any, ...]:
    return tuple(
        codec.build(
            m.AddPartitionsToTxnTopicResult,
            name=topic,
            results_by_partition=tuple(
                codec.build(
                    m.AddPartitionsToTxnPartitionResult,
                    partition_index=partition,
                    partition_error_code=error,
                )
                for partition, error in partitions.items()
            ),
        )
        for topic, partitions in errors.items()
    )


# -- AddOffsetsToTxn ---------------------------------------------------------------------


def handle_add_offsets_to_txn(txns: TransactionService, ctx: RequestContext, request: Any) -> Any:
    """The group's ``__consumer_offsets`` partition joins the transaction (its offsets are
    committed or aborted with the markers)."""
    m = codec.response_module(ADD_OFFSETS_TO_TXN, ctx.api_version)
    if not allowed(ctx, TXN, request.transactional_id):
        error = E.transactional_id_authorization_failed
    elif not allowed(ctx, GROUP, request.group_id):
        error = E.group_authorization_failed
    else:
        error = txns.check_coordinator(request.transactional_id, ctx.now_ms)
    effects: list[Any] = []
    if error == E.none:
        partitions = txns.topics.config.offsets_topic_num_partitions
        offsets = (OFFSETS_TOPIC, partition_for(request.group_id, partitions))
        error, effects = txns.coordinator.add_partitions(
            request.transactional_id,
            int(request.producer_id),
            int(request.producer_epoch),
            [offsets],
            ctx.now_ms,
        )
    return txns.run(
        ctx,
        effects,
        lambda failed: codec.build(
            m.AddOffsetsToTxnResponse,
            throttle_time=codec.millis(0),
            error_code=error if failed == E.none else failed,
        ),
    )


# -- EndTxn ------------------------------------------------------------------------------


def handle_end_txn(txns: TransactionService, ctx: RequestContext, request: Any) -> Any:
    """Commit or abort: the coordinator prepares, the markers are written, the answer goes
    (v5+: with the producer's new epoch, KIP-890 part 2; at an exhausted epoch a new producer
    id is taken first, as for InitProducerId)."""
    if not allowed(ctx, TXN, request.transactional_id):
        error = E.transactional_id_authorization_failed
    else:
        error = txns.check_coordinator(request.transactional_id, ctx.now_ms)
    if error != E.none or ctx.api_version < 5:
        return _end(txns, ctx, request, error, None)
    txn = txns.coordinator.state.transactions.get(request.transactional_id)
    if txn is None or not txn.epoch_exhausted:
        return _end(txns, ctx, request, error, None)

    def granted(producer_id: int | None) -> None:
        response = _end(txns, ctx, request, E.none, producer_id)
        if response is not PENDING:
            txns.topics.forwarding.reply(ctx, response)

    producer_id = txns.topics.producer_ids.allocate(ctx.now_ms, granted)
    if producer_id == WAITING:
        return PENDING
    fresh = None if producer_id == UNAVAILABLE else producer_id
    return _end(txns, ctx, request, E.none, fresh)


def _end(
    txns: TransactionService, ctx: RequestContext, request: Any, error: ErrorCode, fresh: Any
) -> Any:
    m = codec.response_module(END_TXN, ctx.api_version)
    result = ProducerIdResult(error)
    effects: list[Any] = []
    if error == E.none:
        result, effects = txns.coordinator.end_transaction(
            request.transactional_id,
            int(request.producer_id),
            int(request.producer_epoch),
            TransactionResult.COMMIT if request.committed else TransactionResult.ABORT,
            ctx.now_ms,
            2 if ctx.api_version >= 5 else 1,  # v5+: transaction version 2 (KIP-890)
            fresh,
        )

    def respond(failed: ErrorCode) -> Any:
        answer = _failed(result, failed)
        return codec.build(
            m.EndTxnResponse,
            throttle_time=codec.millis(0),
            error_code=answer.error,
            producer_id=answer.producer_id,
            producer_epoch=answer.producer_epoch,
        )

    return txns.run(ctx, effects, respond)
