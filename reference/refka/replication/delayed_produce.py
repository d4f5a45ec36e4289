"""acks=all: a Produce that waits in the purgatory until the ISR holds its records (Kafka's
``DelayedProduce``; Replication.tla ``AdvanceHighWatermark`` acknowledges, ``AckBeforeIsr`` is
the bug it avoids).

The batches are appended first; then each partition waits until the leader's high watermark
passes its last offset (every member of the maximal ISR has it), or ``timeout_ms`` passes:
REQUEST_TIMED_OUT. A leader that loses leadership while the request waits answers
NOT_LEADER_OR_FOLLOWER. When the HW has passed the records but the ISR is by then below
min.insync.replicas, the answer is NOT_ENOUGH_REPLICAS_AFTER_APPEND, as Kafka's
``checkEnoughReplicasReachOffset``; an ISR that shrinks below min ISR before the HW passes stops
the HW (strict min ISR, KIP-966), so the request times out, as in Kafka.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping

from kio.schema.errors import ErrorCode

from refka.core.context import RequestContext
from refka.replica import AppendResult, Replica

TopicPartition = tuple[str, int]


def check_enough_replicas_reach_offset(
    replica: Replica | None, required_offset: int
) -> tuple[bool, ErrorCode]:
    """(done, error) for one partition waiting for ``required_offset`` (last offset + 1)."""
    if replica is None or not replica.is_leader:
        return True, ErrorCode.not_leader_or_follower
    if replica.high_watermark < required_offset:
        return False, ErrorCode.none
    if len(replica.maximal_isr) < replica.min_insync_replicas:
        return True, ErrorCode.not_enough_replicas_after_append
    return True, ErrorCode.none


class DelayedProduce:
    """One acks=all Produce request waiting for its partitions (a purgatory DelayedOperation)."""

    def __init__(
        self,
        ctx: RequestContext,
        deadline_ms: int,
        results: Mapping[TopicPartition, AppendResult],
        replicas: Callable[[TopicPartition], Replica | None],
        respond: Callable[[dict[TopicPartition, AppendResult]], object],
        ack_on_append: bool = False,
    ) -> None:
        """``ack_on_append`` (a bug switch) answers at once, before the ISR has the records."""
        self.ctx = ctx
        self.deadline_ms = deadline_ms
        self.results = dict(results)
        self.replicas = replicas
        self.respond = respond
        self.waiting = {
            tp: r.last_offset + 1 for tp, r in results.items() if r.error_code == ErrorCode.none
        }
        # bug switch: Bug.ACK_BEFORE_ISR (spec/bugs/Replication_AckBeforeIsr.cfg)
        if ack_on_append:
            self.waiting = {}
        self.watched = frozenset(self.waiting)

    def try_complete(self, now_ms: int, force: bool) -> object | None:
        for tp, required in list(self.waiting.items()):
            done, error = check_enough_replicas_reach_offset(self.replicas(tp), required)
            if done:
                del self.waiting[tp]
                if error != ErrorCode.none:
                    self.results[tp] = AppendResult(error)
        if self.waiting and not force:
            return None
        for tp in self.waiting:
            self.results[tp] = dataclasses.replace(
                self.results[tp], error_code=ErrorCode.request_timed_out
            )
        self.waiting = {}
        self._trace_acknowledged()
        return self.respond(self.results)

    def _trace_acknowledged(self) -> None:
        """AcknowledgeProduce for each partition answered without error (``acked``)."""
        from refka.core import trace  # only a traced core loads the events (issue 15)

        for tp, result in self.results.items():
            replica = self.replicas(tp)
            if result.error_code != ErrorCode.none or replica is None or replica.tracer is None:
                continue
            replica.tracer(trace.AcknowledgeProduce(
                replica.replica_id, tp[0], tp[1], result.base_offset, result.last_offset + 1
            ))  # fmt: skip
