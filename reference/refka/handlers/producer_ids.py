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

KEY = 22


def handle_init_producer_id(
    topics: Topics, txns: TransactionService, ctx: RequestContext, request: Any
) -> Any:
    if request.transactional_id is not None:
        from refka.handlers import transactions

        return transactions.handle_init_producer_id(txns, ctx, request)

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
