"""Produce (KIP-98 record batches, v3+): append each partition's batch as the leader.

acks=0 gets no answer (and a closed connection if anything failed, as Kafka does); acks=1 is
answered once the batch is in the leader's log; acks=-1 once every member of the ISR has it
(a DelayedProduce, ``refka.replication.delayed_produce``), with NOT_ENOUGH_REPLICAS when the
ISR is below ``min.insync.replicas`` before the append. A broker that does not lead the
partition answers NOT_LEADER_OR_FOLLOWER and, from v10, names the leader (KIP-951).
"""

from __future__ import annotations

from typing import Any

from kio.schema.errors import ErrorCode

from refka.core.context import CLOSE_CONNECTION, NO_RESPONSE, PENDING, RequestContext
from refka.core.partitions import Partitions
from refka.core.transactions import TransactionService
from refka.core.txn_verification import for_client
from refka.handlers.topic_names import INTERNAL_TOPICS
from refka.protocol import codec
from refka.protocol.batch_header import HEADER_SIZE, read_header
from refka.replica import AppendResult
from refka.replication.replica_manager import ReplicaManager
from refka.security.api_acls import TOPIC, TXN, allowed

KEY = 0
VALID_ACKS = (-1, 0, 1)


def handle_produce(
    partitions: Partitions,
    replicas: ReplicaManager,
    txns: TransactionService,
    ctx: RequestContext,
    request: Any,
) -> Any:
    """LeaderAppend for each partition; acks=all waits in a DelayedProduce until the ISR has
    the records (or its timeout), the other acks are answered at once. A transaction's first
    write to a partition first waits for the coordinator (``_after_verification``)."""
    names = topic_names(replicas, request)
    txn_id = getattr(request, "transactional_id", None)
    denied = txn_id is None or not allowed(ctx, TXN, txn_id)  # answered by _produce
    checks = {} if denied else _to_check(partitions, txns, ctx, request, names)
    if not checks or txn_id is None:
        return _produce(partitions, replicas, ctx, request, names, {})
    return _after_verification(partitions, replicas, txns, ctx, request, names, txn_id, checks)


Checks = dict[tuple[int, int], list[tuple[str, int]]]  # (producer id, epoch) -> partitions


def _after_verification(
    partitions: Partitions,
    replicas: ReplicaManager,
    txns: TransactionService,
    ctx: RequestContext,
    request: Any,
    names: list[str],
    txn_id: str,
    checks: Checks,
) -> Any:
    """KIP-890: ask the coordinator (``AddPartitionsToTxnManager``) about the partitions
    where this producer has no open transaction yet: verify them (v11 and older) or add them
    to its transaction (v12+, transaction version 2). A refused partition is not written:
    Produce v11+ is told TRANSACTION_ABORTABLE for a partition outside the transaction,
    older versions INVALID_TXN_STATE, as Kafka answers."""
    refused: dict[tuple[str, int], AppendResult] = {}
    waiting = len(checks)
    now = True
    own: Any = NO_RESPONSE

    def checked(errors: dict[tuple[str, int], ErrorCode]) -> None:
        nonlocal waiting, own
        for tp, error in errors.items():
            if error != ErrorCode.none:
                refused[tp] = AppendResult(_refusal(for_client(error), ctx.api_version))
        waiting -= 1
        if waiting:
            return
        response = _produce(partitions, replicas, ctx, request, names, refused)
        if now:
            own = response
        elif response not in (PENDING, NO_RESPONSE, CLOSE_CONNECTION):
            txns.reply(ctx, response)

    add = ctx.api_version >= 12
    for (producer_id, epoch), tps in checks.items():
        txns.verification.check(txn_id, producer_id, epoch, tps, add, ctx.now_ms, checked)
    now = False
    if waiting:
        return NO_RESPONSE if request.acks == 0 else PENDING
    return own


def _refusal(error: ErrorCode, version: int) -> ErrorCode:
    if error == ErrorCode.invalid_txn_state and version >= 11:
        return ErrorCode.transaction_abortable
    return error


def _produce(
    partitions: Partitions,
    replicas: ReplicaManager,
    ctx: RequestContext,
    request: Any,
    names: list[str],
    refused: dict[tuple[str, int], AppendResult],
) -> Any:
    m = codec.response_module(KEY, ctx.api_version)
    acks = request.acks
    results: dict[tuple[str, int], AppendResult] = {}
    txn_id = getattr(request, "transactional_id", None)
    txn_denied = txn_id is not None and not allowed(ctx, TXN, txn_id)
    for topic_data, name in zip(request.topic_data, names, strict=True):
        may_write = allowed(ctx, TOPIC, name)
        for data in topic_data.partition_data:
            key = (name, data.index)
            if acks not in VALID_ACKS:
                results[key] = AppendResult(ErrorCode.invalid_required_acks)
            elif txn_denied:
                results[key] = AppendResult(ErrorCode.transactional_id_authorization_failed)
            elif name.startswith(_UNKNOWN_ID):
                results[key] = AppendResult(ErrorCode.unknown_topic_id)
            elif not may_write:
                results[key] = AppendResult(ErrorCode.topic_authorization_failed)
            elif key in refused:
                results[key] = refused[key]
            else:
                results[key] = _append(replicas, ctx, name, data, acks)
    appended = [tp for tp, r in results.items() if r.error_code == ErrorCode.none]
    partitions.partitions_changed(appended, ctx.now_ms)
    if acks == 0:
        failed = len(appended) < len(results)
        return CLOSE_CONNECTION if failed else NO_RESPONSE

    def respond(final: dict[tuple[str, int], AppendResult]) -> Any:
        return _response(m, request, names, final, replicas, ctx.listener)

    if acks == -1 and appended:
        timeout_ms = int(request.timeout.total_seconds() * 1000)
        return replicas.delay_produce(ctx, timeout_ms, results, respond)
    return respond(results)


_UNKNOWN_ID = "\x00"  # no legal topic name starts so: an unknown id's stand-in name


def topic_names(replicas: ReplicaManager, request: Any) -> list[str]:
    """Each topic's name: as given to v12, looked up by id from v13 (an unknown id gets a
    stand-in that is no legal topic name, so its partitions keep apart from any others)."""
    names = []
    for topic_data in request.topic_data:
        name = getattr(topic_data, "name", None)
        if name is None:
            image = replicas.image
            found = None if image is None else image.topics_by_id.get(topic_data.topic_id)
            name = f"{_UNKNOWN_ID}{topic_data.topic_id}" if found is None else found.name
        names.append(name)
    return names


def _to_check(
    partitions: Partitions,
    txns: TransactionService,
    ctx: RequestContext,
    request: Any,
    names: list[str],
) -> Checks:
    """The partitions whose transactional batch opens no transaction of its producer there
    yet, by producer id and epoch (none at all with ``refka.bugs=LateWriteAfterAbort`` for
    the versions that only verify)."""
    if ctx.api_version < 12 and not txns.verify_writes:
        return {}
    checks: Checks = {}
    for topic_data, name in zip(request.topic_data, names, strict=True):
        if not allowed(ctx, TOPIC, name):  # TOPIC_AUTHORIZATION_FAILED, asking nobody
            continue
        for data in topic_data.partition_data:
            replica = partitions.replica(name, data.index)
            if replica is None or not data.records or len(data.records) < HEADER_SIZE:
                continue
            header = read_header(data.records)
            state = replica.producer_state
            if not header.is_transactional or state.has_ongoing_transaction(
                header.producer_id, header.producer_epoch
            ):
                continue
            key = (header.producer_id, header.producer_epoch)
            checks.setdefault(key, []).append((name, data.index))
    return checks


def _append(
    replicas: ReplicaManager, ctx: RequestContext, topic: str, data: Any, acks: int
) -> AppendResult:
    if topic in INTERNAL_TOPICS:
        return AppendResult(ErrorCode.invalid_topic_exception)
    if data.records is None:
        return AppendResult(
            ErrorCode.invalid_record, error_message="Produce request has no records"
        )
    return replicas.append_records(
        topic, data.index, data.records, acks, ctx.now_ms, ctx.api_version
    )


def _response(
    m: Any,
    request: Any,
    names: list[str],
    results: dict[tuple[str, int], AppendResult],
    replicas: ReplicaManager,
    listener: str,
) -> Any:
    hinted: set[int] = set()
    topics = []
    for topic_data, name in zip(request.topic_data, names, strict=True):
        answers = []
        for data in topic_data.partition_data:
            result = results[(name, data.index)]
            leader = _leader_hint(m, replicas, name, data.index, result, hinted)
            answers.append(_partition_response(m, data.index, result, leader))
        topics.append(
            codec.build(
                m.TopicProduceResponse,
                name=name,
                topic_id=getattr(topic_data, "topic_id", None),
                partition_responses=tuple(answers),
            )
        )
    return codec.build(
        m.ProduceResponse,
        responses=tuple(topics),
        throttle_time=codec.millis(0),
        node_endpoints=node_endpoints(m, replicas, hinted, listener),
    )


def _leader_hint(
    m: Any,
    replicas: ReplicaManager,
    topic: str,
    partition: int,
    result: AppendResult,
    hinted: set[int],
) -> Any:
    """KIP-951 (Produce v10+): NOT_LEADER_OR_FOLLOWER names the current leader."""
    if not hasattr(m, "LeaderIdAndEpoch") or result.error_code != ErrorCode.not_leader_or_follower:
        return None
    leader_id, leader_epoch = replicas.leader_and_epoch(topic, partition)
    if leader_id >= 0:
        hinted.add(leader_id)
    return codec.build(m.LeaderIdAndEpoch, leader_id=leader_id, leader_epoch=leader_epoch)


def node_endpoints(
    m: Any, replicas: ReplicaManager, hinted: set[int], listener: str
) -> tuple[Any, ...]:
    """KIP-951: the address of every leader a NOT_LEADER_OR_FOLLOWER answer names, on the
    listener the request came on ("": PLAINTEXT)."""
    if not hasattr(m, "NodeEndpoint") or replicas.image is None:
        return ()
    endpoints = []
    for node_id in sorted(hinted):
        broker = replicas.image.brokers.get(node_id)
        address = None if broker is None else broker.address(listener or "PLAINTEXT")
        if address is not None:
            endpoints.append(
                codec.build(
                    m.NodeEndpoint,
                    node_id=node_id,
                    host=address[0],
                    port=address[1],
                    rack=broker.rack,
                )
            )
    return tuple(endpoints)


def _partition_response(m: Any, index: int, result: AppendResult, leader: Any = None) -> Any:
    extra = {} if leader is None else {"current_leader": leader}
    return codec.build(
        m.PartitionProduceResponse,
        index=index,
        error_code=result.error_code,
        base_offset=result.base_offset,
        log_append_time=codec.timestamp(result.log_append_time_ms),
        log_start_offset=result.log_start_offset,
        record_errors=tuple(
            codec.build(
                m.BatchIndexAndErrorMessage, batch_index=index, batch_index_error_message=message
            )
            for index, message in result.record_errors
            if hasattr(m, "BatchIndexAndErrorMessage")  # Produce v8+ (KIP-467)
        ),
        error_message=result.error_message,
        **extra,
    )
