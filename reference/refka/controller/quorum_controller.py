"""Kafka's ``QuorumController``, sans-I/O: the single voter that owns ``__cluster_metadata``.

Events (as ``refka.core.broker.Broker``): ``on_connect``, ``on_request``, ``on_tick``,
``on_disconnect``, ``on_response``, ``on_unreachable``, ``shutdown``; effects: ``Send``,
``Close``, ``Wakeup``. Every change is records appended to the metadata log, flushed, applied
to the controller's own image, and only then answered (persist before acting). Brokers read
the log with Fetch (long-polled here, as a KRaft leader does).

Single voter: the controller is always the leader at its log's epoch (1 for a new log), so
the high watermark is the log end offset once an append is flushed. The log is never
truncated at its start, so a fetch never needs a snapshot (FetchSnapshot is not served);
a KIP-595 quorum would replace ``MetadataLog``'s single-voter commit rule.

Periodic work (``on_tick``): fence brokers whose session expired (one per pass, as Kafka),
preferred-leader elections when ``auto.leader.rebalance.enable``, unclean elections of
leaderless partitions whose topic allows them every ``unclean.leader.election.interval.ms``
(KAFKA-12670), snapshots every
``metadata.log.max.record.bytes.between.snapshots``.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from refka.controller import controller_apis
from refka.controller.cluster_control import ClusterControl
from refka.controller.controller_acls import guard
from refka.controller.metadata_fetch import DelayedMetadataFetch
from refka.controller.quorum_state import QuorumState
from refka.controller.replication_control import (
    PREFERRED,
    elect_leader,
    imbalanced_partitions,
    unclean_elections,
)
from refka.controller.settings import ControllerSettings
from refka.core.context import ANONYMOUS, RequestContext
from refka.core.dispatch import Api, Dispatcher
from refka.core.effects import Effect, Halt, Send, Wakeup
from refka.core.purgatory import Purgatory
from refka.core.seeded import SeededRandom
from refka.handlers import api_versions
from refka.metadata.records import encode_record

if TYPE_CHECKING:
    from refka.core.trace import Tracer

log = logging.getLogger(__name__)

METADATA_PARTITION = ("__cluster_metadata", 0)


class QuorumController:
    """The active controller: its metadata log and image, broker sessions, waiting fetches."""

    def __init__(
        self,
        settings: ControllerSettings,
        metadata_log: Any,
        image: Any,
        now_ms: int,
        seed: int,
        tracer: Tracer | None = None,
    ) -> None:
        """``metadata_log``: ``refka.metadata.metadata_log.MetadataLog`` (loaded); ``image``:
        the ``MetadataImage`` it replays to."""
        self.settings = settings
        self.tracer = tracer
        self.log = metadata_log
        self.image = image
        self.random = SeededRandom(seed)
        self.cluster = ClusterControl(settings)
        self.apis = {
            key: Api(key, name, low, high, guard(key, functools.partial(handler, self)))
            for key, (name, low, high, handler) in controller_apis.API_TABLE.items()
        }
        self.dispatcher = Dispatcher(
            self.apis,
            functools.partial(api_versions.unsupported_version_response, self.apis),
            self.fetches_cancel,
        )
        self.fetches = Purgatory()
        self.quorum = QuorumState()  # the observers, for DescribeQuorum
        self._wakeup_ms: int | None = None
        self._bytes_since_snapshot = 0
        self._rebalance_due_ms = now_ms + settings.leader_imbalance_check_interval_seconds * 1000
        self._unclean_due_ms = now_ms + settings.unclean_leader_election_interval_ms
        tokens = settings.delegation_tokens  # the expiry check runs only with tokens enabled
        self._token_check_due_ms = (
            now_ms + tokens.expiry_check_interval_ms if tokens.enabled else None
        )

    @property
    def epoch(self) -> int:
        """The leader epoch: the log's (a new log starts at 1); a single voter never changes it."""
        return max(int(self.log.latest_epoch), 1)

    @property
    def node_id(self) -> int:
        return self.settings.node_id

    # ------------------------------------------------------------------- events

    def on_connect(
        self,
        connection_id: int,
        now_ms: int,
        listener: str = "",
        client_host: str = "",
        principal: str = ANONYMOUS,
    ) -> list[Effect]:
        self.dispatcher.on_connect(connection_id, listener, client_host)
        if principal != ANONYMOUS:
            self.dispatcher.authenticate(connection_id, principal)
        return []

    def in_flight(self, connection_id: int) -> int:
        """Requests on ``connection_id`` not yet answered (the driver's ``queued.max.requests``)."""
        return self.dispatcher.in_flight(connection_id)

    def on_disconnect(self, connection_id: int, now_ms: int) -> list[Effect]:
        self.dispatcher.on_disconnect(connection_id)
        self.fetches_cancel(connection_id)
        return []

    def fetches_cancel(self, connection_id: int) -> None:
        self.fetches.cancel_connection(connection_id)

    def on_response(
        self, node_id: int, frame: bytes | memoryview, now_ms: int, channel: str = ""
    ) -> list[Effect]:
        return []  # a single voter sends no requests

    def on_unreachable(self, node_id: int, now_ms: int, channel: str = "") -> list[Effect]:
        return []

    def on_request(
        self, connection_id: int, frame: bytes | memoryview, now_ms: int
    ) -> list[Effect]:
        try:
            closed = self.dispatcher.on_request(connection_id, frame, now_ms)
            return [*self._collect(now_ms), *closed]
        except OSError as error:
            return self._fatal(error)

    def on_tick(self, now_ms: int) -> list[Effect]:
        try:
            return self._on_tick(now_ms)
        except OSError as error:
            return self._fatal(error)

    def _fatal(self, error: OSError) -> list[Effect]:
        """The metadata log cannot be written: a fatal fault. Kafka's controller hands it to
        its ``ProcessTerminatingFaultHandler`` ("Encountered fatal fault", ``Exit.halt(1)``)."""
        return [*self.dispatcher.drain(), Halt(f"metadata log write failed: {error}")]

    def _on_tick(self, now_ms: int) -> list[Effect]:
        self._wakeup_ms = None
        for ctx, response in self.fetches.expire(now_ms):
            self.dispatcher.reply(ctx, response)
        expired = self.cluster.expired_broker(self.image, now_ms)
        if expired is not None:  # Election.tla FenceBroker
            log.info("broker %d's session expired: fencing it", expired)
            self.commit(self.cluster.fence_records(self.image, expired), now_ms)
        if self.settings.auto_leader_rebalance_enable and now_ms >= self._rebalance_due_ms:
            interval_ms = self.settings.leader_imbalance_check_interval_seconds * 1000
            self._rebalance_due_ms = now_ms + interval_ms
            self.rebalance_leaders(now_ms)
        if now_ms >= self._unclean_due_ms:
            self._unclean_due_ms = now_ms + self.settings.unclean_leader_election_interval_ms
            self.commit(unclean_elections(self.image, self.settings), now_ms)
        if self._token_check_due_ms is not None and now_ms >= self._token_check_due_ms:
            from refka.controller.token_control import remove_expired

            interval_ms = self.settings.delegation_tokens.expiry_check_interval_ms
            self._token_check_due_ms = now_ms + interval_ms
            remove_expired(self, now_ms)
        return self._collect(now_ms)

    def shutdown(self, now_ms: int) -> None:
        self.log.close()

    # ------------------------------------------------------------- the write path

    def commit(self, records: Sequence[Any], now_ms: int, clean_shutdown: bool = True) -> int:
        """Append ``records`` as one batch, flush, apply to the image; return the first offset.

        Nothing is answered or acted on before this returns: persist before acting.
        ``clean_shutdown``: for a registration, whether the broker stopped cleanly (traced)."""
        if not records:
            return int(self.log.end_offset)
        first = int(self.log.end_offset)
        last = self.log.append(list(records), self.epoch, now_ms)
        self.image, _ = self.image.apply(last, records)
        if self.tracer is not None:
            from refka.controller import trace_events  # only a traced core loads it (issue 15)

            for event in trace_events.committed(self.node_id, records, self.image, clean_shutdown):
                self.tracer(event)
        self._bytes_since_snapshot += sum(len(encode_record(r)) for r in records)
        for ctx, response in self.fetches.check([METADATA_PARTITION], now_ms):
            self.dispatcher.reply(ctx, response)
        self.maybe_snapshot(now_ms)
        return first

    def maybe_snapshot(self, now_ms: int) -> None:
        """A snapshot every ``metadata.log.max.record.bytes.between.snapshots`` of records
        (KIP-630); the log keeps its prefix, so fetchers never need FetchSnapshot."""
        limit = self.settings.metadata_log_max_record_bytes_between_snapshots
        if self._bytes_since_snapshot >= limit:
            self.log.write_snapshot(self.image, self.epoch, now_ms)
            self._bytes_since_snapshot = 0

    def rebalance_leaders(self, now_ms: int) -> None:
        """``auto.leader.rebalance.enable``: move leadership back to preferred replicas."""
        records = []
        for topic, partition_id in imbalanced_partitions(self.image):
            _, _, record = elect_leader(self.image, self.settings, topic, partition_id, PREFERRED)
            if record is not None:
                records.append(record)
        self.commit(records, now_ms)

    def wait_for_metadata(self, operation: DelayedMetadataFetch) -> None:
        self.fetches.watch(operation)

    # ---------------------------------------------------------------- internals

    def reply(self, ctx: RequestContext, response: Any) -> None:
        self.dispatcher.reply(ctx, response)

    def _collect(self, now_ms: int) -> list[Effect]:
        effects: list[Effect] = self.dispatcher.drain()
        deadlines = [
            d
            for d in (
                self.fetches.next_deadline_ms(),
                self.cluster.next_expiry_ms(self.image),
                self._rebalance_due_ms if self.settings.auto_leader_rebalance_enable else None,
                self._unclean_due_ms,
                self._token_check_due_ms,
            )
            if d is not None
        ]
        deadline = min(deadlines, default=None)
        if deadline is not None and deadline != self._wakeup_ms:
            self._wakeup_ms = deadline
            effects.append(Wakeup(deadline))
        return effects


__all__ = ["QuorumController", "Send"]
