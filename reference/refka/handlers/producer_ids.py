"""InitProducerId (KIP-98, KIP-360): a fresh producer id for an idempotent producer.

Ids come from the block this broker holds (``refka.broker.producer_ids``, KIP-730): unique in
the cluster across restarts. The answer waits while a new block is fetched from the controller;
COORDINATOR_NOT_AVAILABLE if none can be had (the client retries). Transactions are not built
A transactional id goes to the transaction coordinator (``refka.handlers.transactions``).
"""

from __future__ import annotations

from typing import Any

from kio.schema.errors import ErrorCode

from refka.broker.producer_ids import UNAVAILABLE, WAITING
from refka.core.context import PENDING, RequestContext
from refka.core.topics import Topics
from refka.core.transactions import TransactionService
from refka.protocol import codec
from refka.security.acl import AclOperation
from refka.security.api_acls import CLUSTER, TOPIC, TXN, allowed, allowed_on_any

KEY = 22


def handle_init_producer_id(
    topics: Topics, txns: TransactionService, ctx: RequestContext, request: Any
) -> Any:
    if request.transactional_id is not None:
        from refka.handlers import transactions

        if not allowed(ctx, TXN, request.transactional_id):
            return _response(ctx, ErrorCode.transactional_id_authorization_failed, -1)

        return transactions.handle_init_producer_id(txns, ctx, request)

    if not (allowed(ctx, CLUSTER) or allowed_on_any(ctx, TOPIC, AclOperation.WRITE)):
        return _response(ctx, ErrorCode.cluster_authorization_failed, -1)  # KIP-679

    def granted(producer_id: int | None) -> None:
        if producer_id is None:
            topics.forwarding.reply(ctx, _response(ctx, ErrorCode.coordinator_not_available, -1))
        else:
            topics.forwarding.reply(ctx, _response(ctx, ErrorCode.none, producer_id))

    producer_id = topics.producer_ids.allocate(ctx.now_ms, granted)
    if producer_id == WAITING:
        return PENDING
    if producer_id == UNAVAILABLE:
        return _response(ctx, ErrorCode.coordinator_not_available, -1)
    return _response(ctx, ErrorCode.none, producer_id)


def _response(ctx: RequestContext, error: ErrorCode, producer_id: int) -> Any:
    m = codec.response_module(KEY, ctx.api_version)
    return codec.build(
        m.InitProducerIdResponse,
        throttle_time=codec.millis(0),
        error_code=error,
        producer_id=producer_id,
        producer_epoch=0 if producer_id >= 0 else -1,
    )
