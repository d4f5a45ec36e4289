"""A group coordinator's write waiting to be replicated before its answers go out.

Kafka's coordinator appends its records to the ``__consumer_offsets`` leader and completes the
responses of that write only when the high watermark passes the records (the CoordinatorRuntime
waits for the HW; the older GroupMetadataManager appended with
``offsets.commit.required.acks=-1`` through a DelayedProduce): persist *on the ISR*, then
acknowledge (Replication.tla ``AdvanceHighWatermark``; acknowledging earlier is ``AckBeforeIsr``).
The write waits in the broker's purgatory for at most ``offsets.commit.timeout.ms``.

A failed append or wait gives every response of the write the coordinator's error, mapped as
Kafka's ``GroupCoordinatorService.handleOperationException`` maps the log's errors.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from kio.schema.errors import ErrorCode

from refka.core.context import RequestContext
from refka.replica import Replica
from refka.replication.delayed_produce import check_enough_replicas_reach_offset

TopicPartition = tuple[str, int]
E = ErrorCode

COORDINATOR_ERRORS: Mapping[ErrorCode, ErrorCode] = {
    E.unknown_topic_or_partition: E.coordinator_not_available,
    E.not_enough_replicas: E.coordinator_not_available,
    E.not_enough_replicas_after_append: E.coordinator_not_available,
    E.request_timed_out: E.coordinator_not_available,
    E.not_leader_or_follower: E.not_coordinator,
    E.kafka_storage_error: E.not_coordinator,
    E.message_too_large: E.unknown_server_error,
    E.record_list_too_large: E.unknown_server_error,
    E.invalid_fetch_size: E.unknown_server_error,
}


def coordinator_error(append_error: ErrorCode) -> ErrorCode:
    """The error a group API answers for a failed ``__consumer_offsets`` append."""
    return COORDINATOR_ERRORS.get(append_error, append_error)


class DelayedCoordinatorWrite:
    """A purgatory operation (``ctx = None``: it answers through ``complete``) waiting until
    every partition's high watermark reaches its required offset (last offset + 1)."""

    ctx: RequestContext | None = None

    def __init__(
        self,
        deadline_ms: int,
        required: Mapping[TopicPartition, int],
        replicas: Callable[[TopicPartition], Replica | None],
        complete: Callable[[ErrorCode], None],
        map_errors: bool = True,
    ) -> None:
        """``map_errors``: answer the coordinator's error for the log's (False: the log's own,
        for transaction markers)."""
        self.deadline_ms = deadline_ms
        self.map_errors = map_errors
        self.waiting = dict(required)
        self.watched = frozenset(required)
        self.replicas = replicas
        self.complete = complete
        self.error = E.none

    def try_complete(self, now_ms: int, force: bool) -> object | None:
        for tp, required in list(self.waiting.items()):
            done, error = check_enough_replicas_reach_offset(self.replicas(tp), required)
            if done:
                del self.waiting[tp]
                if self.error == E.none:
                    self.error = error
        if self.waiting and not force:
            return None
        if self.waiting and self.error == E.none:
            self.error = E.request_timed_out
        self.waiting = {}
        self.complete(coordinator_error(self.error) if self.map_errors else self.error)
        return True
