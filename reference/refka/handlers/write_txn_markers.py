"""WriteTxnMarkers (KIP-98): another broker's transaction coordinator asks this broker to write
COMMIT or ABORT markers to the partitions it leads. Each partition answers once its marker is
replicated (NOT_LEADER_OR_FOLLOWER, UNKNOWN_TOPIC_OR_PARTITION, ... otherwise: the coordinator
retries); the answer goes out when every partition has answered.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kio.schema.errors import ErrorCode

from refka.core.context import PENDING, RequestContext
from refka.core.transactions import TransactionService
from refka.protocol import codec
from refka.security.api_acls import CLUSTER, allowed

KEY = 27
E = ErrorCode


def handle_write_txn_markers(txns: TransactionService, ctx: RequestContext, request: Any) -> Any:
    m = codec.response_module(KEY, ctx.api_version)
    wanted = list(  # a partition named twice in one marker gets one marker and one answer
        dict.fromkeys(
            (index, topic.name, int(p))
            for index, marker in enumerate(request.markers)
            for topic in marker.topics
            for p in topic.partition_indexes
        )
    )
    errors: dict[tuple[int, str, int], ErrorCode] = {}
    answered_now = True

    def response() -> Any:
        markers = []
        for index, marker in enumerate(request.markers):
            topics = tuple(
                codec.build(
                    m.WritableTxnMarkerTopicResult,
                    name=topic.name,
                    partitions=tuple(
                        codec.build(
                            m.WritableTxnMarkerPartitionResult,
                            partition_index=p,
                            error_code=errors[(index, topic.name, int(p))],
                        )
                        for p in topic.partition_indexes
                    ),
                )
                for topic in marker.topics
            )
            markers.append(
                codec.build(
                    m.WritableTxnMarkerResult, producer_id=marker.producer_id, topics=topics
                )
            )
        return codec.build(m.WriteTxnMarkersResponse, markers=tuple(markers))

    def done_for(key: tuple[int, str, int]) -> Callable[[ErrorCode], None]:
        def done(error: ErrorCode) -> None:
            errors[key] = error
            if len(errors) == len(wanted) and not answered_now:
                txns.reply(ctx, response())

        return done

    if not allowed(ctx, CLUSTER):  # CLUSTER_ACTION: brokers only
        errors.update(dict.fromkeys(wanted, ErrorCode.cluster_authorization_failed))
        return response()
    for key in wanted:
        marker = request.markers[key[0]]
        txns.write_marker(
            (key[1], key[2]),
            int(marker.producer_id),
            int(marker.producer_epoch),
            int(marker.coordinator_epoch),
            bool(marker.transaction_result),
            ctx.now_ms,
            done_for(key),
        )
    answered_now = False
    return response() if len(errors) == len(wanted) else PENDING
