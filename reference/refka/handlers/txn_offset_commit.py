"""TxnOffsetCommit (KIP-98, KIP-447): a transactional producer commits its consumer's offsets
inside the transaction. The group coordinator answers (``refka.group.txn_offsets``): the
offsets are written in the producer's transaction and become the group's committed offsets with
the transaction's COMMIT marker. Partitions the broker does not host get
UNKNOWN_TOPIC_OR_PARTITION here and the others are committed, as for OffsetCommit.
Authorization (``security.api_acls``): WRITE on the transactional id, READ on the group, READ
on each topic.

v6 (KIP-1319) names each topic by id, in the request and the answer: an id the broker does not
know gets UNKNOWN_TOPIC_ID (answered with that id), as OffsetCommit v10 does. Its
``generation_id`` is the member epoch of a consumer-protocol member (KIP-848), checked as for
OffsetCommit v9+ (``group.consumer``: STALE_MEMBER_EPOCH, UNKNOWN_MEMBER_ID); a group that
does not exist, named with a generation or epoch, is GROUP_ID_NOT_FOUND (v5: ILLEGAL_GENERATION).
"""

from __future__ import annotations

import uuid
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
TOPIC_IDS_VERSION = 6  # TxnOffsetCommit v6 names topics by id (KIP-1319)
_UNKNOWN_ID = "\x00"  # no legal topic name starts so: an unknown id's stand-in name


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
            _commit(groups, ctx, request)
            if error == E.none
            else _refused(groups, request, ctx, error)
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


def _refused(groups: GroupService, request: Any, ctx: RequestContext, error: ErrorCode) -> Any:
    """Every partition gets the coordinator's refusal; one the client retries after finding
    its coordinator again (COORDINATOR_NOT_AVAILABLE) while the transaction coordinator is
    busy or moving."""
    error = for_client(error)
    if error == E.not_enough_replicas:
        error = E.coordinator_not_available
    entries, ids = _entries(groups, ctx, request)
    results = tuple(msg.PartitionResult(e.topic, e.partition, error) for e in entries)
    return txn_offset_commit_response(ctx.api_version, msg.OffsetCommitResult(results, ids))


def _entries(
    groups: GroupService, ctx: RequestContext, request: Any
) -> tuple[list[msg.OffsetCommitEntry], tuple[tuple[str, uuid.UUID], ...]]:
    """The request's offsets by topic name, and (v6) each name's id for the answer: an id the
    broker does not know is named by a stand-in no legal topic name can be."""
    ids: dict[str, uuid.UUID] = {}
    entries: list[msg.OffsetCommitEntry] = []
    for topic in request.topics:
        if ctx.api_version >= TOPIC_IDS_VERSION:
            name = groups.topic_name(topic.topic_id)
            name = f"{_UNKNOWN_ID}{topic.topic_id}" if name is None else name
            ids[name] = topic.topic_id
        else:
            name = str(topic.name)
        entries.extend(
            msg.OffsetCommitEntry(
                name,
                p.partition_index,
                p.committed_offset,
                getattr(p, "committed_leader_epoch", -1),
                p.committed_metadata,
            )
            for p in topic.partitions
        )
    return entries, tuple(ids.items())


def _unknown_id(ctx: RequestContext, name: str) -> bool:
    return ctx.api_version >= TOPIC_IDS_VERSION and name.startswith(_UNKNOWN_ID)


def _commit(groups: GroupService, ctx: RequestContext, request: Any) -> Any:
    entries, ids = _entries(groups, ctx, request)

    def answer(results: tuple[msg.PartitionResult, ...]) -> Any:
        return txn_offset_commit_response(ctx.api_version, msg.OffsetCommitResult(results, ids))

    refusal = _refusal(ctx, request)
    if refusal is not None:
        return answer(tuple(msg.PartitionResult(e.topic, e.partition, refusal) for e in entries))
    missing = {e.topic for e in entries if _unknown_id(ctx, e.topic)}
    denied = {
        e.topic for e in entries if e.topic not in missing and not allowed(ctx, TOPIC, e.topic)
    }
    if denied:
        return answer(
            tuple(
                msg.PartitionResult(
                    e.topic,
                    e.partition,
                    E.topic_authorization_failed
                    if e.topic in denied
                    else E.unknown_topic_id
                    if e.topic in missing
                    else E.operation_not_attempted,
                )
                for e in entries
            )
        )
    unknown = tuple(
        msg.PartitionResult(
            e.topic,
            e.partition,
            E.unknown_topic_id if e.topic in missing else E.unknown_topic_or_partition,
        )
        for e in entries
        if not groups.hosted(e.topic, e.partition)
    )
    known = [e for e in entries if groups.hosted(e.topic, e.partition)]
    if not known:
        return answer(unknown)
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
        group_id_not_found=ctx.api_version >= TOPIC_IDS_VERSION,
    )
    if unknown or ids:
        effects = [_with_unknown(effect, ctx, unknown, ids) for effect in effects]
    return groups.run(ctx, effects)


def _with_unknown(
    effect: msg.Effect,
    ctx: RequestContext,
    unknown: tuple[msg.PartitionResult, ...],
    ids: tuple[tuple[str, uuid.UUID], ...],
) -> msg.Effect:
    """The coordinator's answer to this request after the partitions the broker does not
    host (first, as Kafka answers them), with the ids v6 answers by."""
    if isinstance(effect, msg.Reply) and effect.request is ctx:
        result: msg.OffsetCommitResult = effect.result  # type: ignore[assignment]
        return msg.Reply(ctx, msg.OffsetCommitResult(unknown + result.partitions, ids))
    return effect


def _refusal(ctx: RequestContext, request: Any) -> ErrorCode | None:
    """WRITE on the transactional id, then READ on the group, as Kafka checks them."""
    if not allowed(ctx, TXN, request.transactional_id):
        return E.transactional_id_authorization_failed
    if not allowed(ctx, GROUP, request.group_id):
        return E.group_authorization_failed
    return None
