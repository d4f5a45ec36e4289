"""TxnOffsetCommit (KIP-98, KIP-447): a transactional producer commits its consumer's offsets
inside the transaction. The group coordinator answers (``refka.group.txn_offsets``): the
offsets are written in the producer's transaction and become the group's committed offsets with
the transaction's COMMIT marker. Partitions the broker does not host get
UNKNOWN_TOPIC_OR_PARTITION here, as for OffsetCommit. Authorization (``security.api_acls``):
WRITE on the transactional id, READ on the group, READ on each topic.
"""

from __future__ import annotations

from typing import Any

from kio.schema.errors import ErrorCode

from refka.core.context import PENDING, RequestContext
from refka.core.groups import GroupService
from refka.core.transactions import TransactionService
from refka.core.txn_verification import for_client
from refka.group import messages as msg
from refka.group.partitioner import partition_for
from refka.handlers.group import txn_offset_commit_response
from refka.security.api_acls import GROUP, TOPIC, TXN, allowed

E = ErrorCode
OFFSETS_TOPIC = "__consumer_offsets"


def handle_txn_offset_commit(
    groups: GroupService, txns: TransactionService, ctx: RequestContext, request: Any
) -> Any:
    """v5+ (transaction version 2, KIP-890 part 2): the group's offsets partition joins the
    transaction first (the client sends no AddOffsetsToTxn), asked of the transaction
    coordinator as a Produce v12 asks (``AddPartitionsToTxnManager``)."""
    if ctx.api_version < 5 or _refusal(ctx, request) is not None:  # (refused: nothing added)
        return _commit(groups, ctx, request)
    partitions = groups.coordinator.config.offsets_topic_num_partitions
    offsets = (OFFSETS_TOPIC, partition_for(request.group_id, partitions))
    own: Any = PENDING
    now = True

    def added(errors: dict[tuple[str, int], ErrorCode]) -> None:
        nonlocal own
        error = errors[offsets]
        response = (
            _commit(groups, ctx, request) if error == E.none else _refused(request, ctx, error)
        )
        if now:
            own = response
        elif response is not PENDING:
            txns.reply(ctx, response)

    txns.verification.check(
        request.transactional_id,
        int(request.producer_id),
        int(request.producer_epoch),
        [offsets],
        True,
        ctx.now_ms,
        added,
    )
    now = False
    return own


def _refused(request: Any, ctx: RequestContext, error: ErrorCode) -> Any:
    """Every partition gets the coordinator's refusal; one the client retries after finding
    its coordinator again (COORDINATOR_NOT_AVAILABLE) while the transaction coordinator is
    busy or moving."""
    error = for_client(error)
    if error == E.not_enough_replicas:
        error = E.coordinator_not_available
    results = tuple(
        msg.PartitionResult(topic.name, p.partition_index, error)
        for topic in request.topics
        for p in topic.partitions
    )
    return txn_offset_commit_response(ctx.api_version, msg.OffsetCommitResult(results))


def _commit(groups: GroupService, ctx: RequestContext, request: Any) -> Any:
    entries = [
        msg.OffsetCommitEntry(
            topic.name,
            p.partition_index,
            p.committed_offset,
            getattr(p, "committed_leader_epoch", -1),
            p.committed_metadata,
        )
        for topic in request.topics
        for p in topic.partitions
    ]
    refusal = _refusal(ctx, request)
    if refusal is not None:
        results = tuple(msg.PartitionResult(e.topic, e.partition, refusal) for e in entries)
        return txn_offset_commit_response(ctx.api_version, msg.OffsetCommitResult(results))
    denied = {e.topic for e in entries if not allowed(ctx, TOPIC, e.topic)}
    if denied:
        results = tuple(
            msg.PartitionResult(
                e.topic,
                e.partition,
                E.topic_authorization_failed if e.topic in denied else E.operation_not_attempted,
            )
            for e in entries
        )
        return txn_offset_commit_response(ctx.api_version, msg.OffsetCommitResult(results))
    unknown = tuple(
        msg.PartitionResult(e.topic, e.partition, E.unknown_topic_or_partition)
        for e in entries
        if not groups.hosted(e.topic, e.partition)
    )
    known = [e for e in entries if groups.hosted(e.topic, e.partition)]
    if unknown:
        results = unknown + tuple(
            msg.PartitionResult(e.topic, e.partition, E.operation_not_attempted) for e in known
        )
        return txn_offset_commit_response(ctx.api_version, msg.OffsetCommitResult(results))
    effects = groups.coordinator.commit_txn_offsets(
        ctx,
        request.group_id,
        int(request.producer_id),
        int(request.producer_epoch),
        getattr(request, "member_id", ""),
        int(getattr(request, "generation_id", -1)),
        getattr(request, "group_instance_id", None),
        known,
        ctx.now_ms,
    )
    return groups.run(ctx, effects)


def _refusal(ctx: RequestContext, request: Any) -> ErrorCode | None:
    """WRITE on the transactional id, then READ on the group, as Kafka checks them."""
    if not allowed(ctx, TXN, request.transactional_id):
        return E.transactional_id_authorization_failed
    if not allowed(ctx, GROUP, request.group_id):
        return E.group_authorization_failed
    return None
