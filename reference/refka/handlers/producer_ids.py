"""InitProducerId (KIP-98, KIP-360): a fresh producer id for an idempotent producer.

Each call hands out an id never used before on this node (persisted with the metadata), at
epoch 0. Transactions are not built yet: a transactional id gets COORDINATOR_NOT_AVAILABLE, as
Kafka answers when its transaction state topic cannot be created.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kio.schema.errors import ErrorCode

from refka.protocol import codec

if TYPE_CHECKING:
    from refka.core.context import RequestContext
    from refka.core.topics import Topics

KEY = 22


def handle_init_producer_id(topics: Topics, ctx: RequestContext, request: Any) -> Any:
    m = codec.response_module(KEY, ctx.api_version)
    if request.transactional_id is not None:
        error, producer_id, epoch = ErrorCode.coordinator_not_available, -1, -1
    else:
        error, producer_id, epoch = ErrorCode.none, topics.allocate_producer_id(), 0
    return codec.build(
        m.InitProducerIdResponse,
        throttle_time=codec.millis(0),
        error_code=error,
        producer_id=producer_id,
        producer_epoch=epoch,
    )
