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
preferred-leader elections when ``auto.leader.rebalance.enable``, snapshots every
``metadata.log.max.record.bytes.between.snapshots``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from refka.controller import controller_apis
from refka.controller.cluster_control import ClusterControl
from refka.controller.metadata_fetch import DelayedMetadataFetch
from refka.controller.replication_control import imbalanced_partitions, partition_updates
from refka.controller.settings import ControllerSettings
from refka.core.connections import ResponseQueue
from refka.core.context import CLOSE_CONNECTION, PENDING, Encoded, RequestContext
from refka.core.effects import Close, Effect, Send, Wakeup
from refka.core.purgatory import Purgatory
from refka.core.seeded import SeededRandom
from refka.protocol import codec, framing

log = logging.getLogger(__name__)

API_VERSIONS_KEY = 18
METADATA_PARTITION = ("__cluster_metadata", 0)


@dataclass(frozen=True, slots=True)
class ControllerApi:
    key: int
    name: str
    min_version: int
    max_version: int
    handle: Callable[[QuorumController, RequestContext, Any], Any]

    def supports(self, version: int) -> bool:
        return self.min_version <= version <= self.max_version


class QuorumController:
    """The active controller: its metadata log and image, broker sessions, waiting fetches."""

    def __init__(
        self,
        settings: ControllerSettings,
        metadata_log: Any,
        image: Any,
        now_ms: int,
        seed: int,
    ) -> None:
        """``metadata_log``: ``refka.metadata.metadata_log.MetadataLog`` (loaded); ``image``:
        the ``MetadataImage`` it replays to."""
        self.settings = settings
        self.log = metadata_log
        self.image = image
        self.random = SeededRandom(seed)
        self.cluster = ClusterControl(settings)
        self.apis = controller_apis.apis()
        self.queues: dict[int, ResponseQueue] = {}
        self.fetches = Purgatory()
        self._wakeup_ms: int | None = None
        self._rebalance_due_ms = now_ms + settings.leader_imbalance_check_interval_seconds * 1000

    @property
    def epoch(self) -> int:
        return int(self.log.leader_epoch)

    @property
    def node_id(self) -> int:
        return self.settings.node_id

    # ------------------------------------------------------------------- events

    def on_connect(self, connection_id: int, now_ms: int) -> list[Effect]:
        self.queues[connection_id] = ResponseQueue(connection_id)
        return []

    def on_disconnect(self, connection_id: int, now_ms: int) -> list[Effect]:
        self.queues.pop(connection_id, None)
        self.fetches.cancel_connection(connection_id)
        return []

    def on_response(self, node_id: int, frame: bytes | memoryview, now_ms: int) -> list[Effect]:
        return []  # a single voter sends no requests

    def on_unreachable(self, node_id: int, now_ms: int) -> list[Effect]:
        return []

    def on_request(
        self, connection_id: int, frame: bytes | memoryview, now_ms: int
    ) -> list[Effect]:
        queue = self.queues.setdefault(connection_id, ResponseQueue(connection_id))
        try:
            header, body_offset = framing.parse_request_header(frame)
        except Exception as error:
            return [Close(connection_id, f"malformed request header: {error}")]
        api = self.apis.get(header.api_key)
        if api is None:
            return [Close(connection_id, f"unknown API key {header.api_key}")]
        if not api.supports(header.api_version):
            if header.api_key != API_VERSIONS_KEY:
                message = f"unsupported version {header.api_version} of {api.name}"
                return [Close(connection_id, message)]
            response = controller_apis.api_versions_response(self, 0, unsupported=True)
            body = codec.encode(response)
            sequence = queue.open_slot()
            queue.fill(
                sequence, (codec.response_header(header.correlation_id, False, len(body)), body)
            )
            return list(queue.drain())
        try:
            request_class = codec.request_class(header.api_key, header.api_version)
            request, _ = codec.decode(request_class, frame, body_offset)
        except Exception as error:
            return [Close(connection_id, f"cannot parse {api.name} v{header.api_version}: {error}")]
        ctx = RequestContext(
            connection_id=connection_id,
            correlation_id=header.correlation_id,
            api_key=header.api_key,
            api_version=header.api_version,
            client_id=header.client_id,
            now_ms=now_ms,
            sequence=queue.open_slot(),
        )
        try:
            result = api.handle(self, ctx, request)
        except Exception:
            log.exception("%s v%d failed", api.name, header.api_version)
            self.queues.pop(connection_id, None)
            return [Close(connection_id, f"internal error in {api.name}")]
        if result is CLOSE_CONNECTION:
            self.on_disconnect(connection_id, now_ms)
            return [Close(connection_id, f"{api.name} refused")]
        if result is not PENDING:
            self._fill(ctx, result)
        return self._collect(now_ms)

    def on_tick(self, now_ms: int) -> list[Effect]:
        self._wakeup_ms = None
        for ctx, response in self.fetches.expire(now_ms):
            self._fill(ctx, response)
        expired = self.cluster.expired_broker(self.image, now_ms)
        if expired is not None:  # Election.tla FenceBroker
            log.info("broker %d's session expired: fencing it", expired)
            self.commit(self.cluster.fence_records(self.image, expired), now_ms)
        if self.settings.auto_leader_rebalance_enable and now_ms >= self._rebalance_due_ms:
            interval_ms = self.settings.leader_imbalance_check_interval_seconds * 1000
            self._rebalance_due_ms = now_ms + interval_ms
            self.rebalance_leaders(now_ms)
        return self._collect(now_ms)

    def shutdown(self, now_ms: int) -> None:
        self.log.close()

    # ------------------------------------------------------------- the write path

    def commit(self, records: Sequence[Any], now_ms: int) -> int:
        """Append ``records`` as one batch, flush, apply to the image; return the first offset.

        Nothing is answered or acted on before this returns: persist before acting."""
        if not records:
            return int(self.log.end_offset)
        first = int(self.log.end_offset)
        last = self.log.append(list(records), self.epoch, now_ms)
        self.image, _ = self.image.apply(last, records)
        for ctx, response in self.fetches.check([METADATA_PARTITION], now_ms):
            self._fill(ctx, response)
        self.maybe_snapshot()
        return first

    def maybe_snapshot(self) -> None:
        limit = self.settings.metadata_log_max_record_bytes_between_snapshots
        if self.log.bytes_since_snapshot >= limit:
            self.log.snapshot(self.image)

    def rebalance_leaders(self, now_ms: int) -> None:
        """``auto.leader.rebalance.enable``: move leadership back to preferred replicas."""
        from refka.controller.replication_control import PREFERRED, elect_leader

        records = []
        for topic, partition_id in imbalanced_partitions(self.image):
            _, _, record = elect_leader(self.image, self.settings, topic, partition_id, PREFERRED)
            if record is not None:
                records.append(record)
        self.commit(records, now_ms)

    def wait_for_metadata(self, operation: DelayedMetadataFetch) -> None:
        self.fetches.watch(operation)

    def leaderless_updates(self) -> list[Any]:
        return partition_updates(self.image, self.settings, [])

    # ---------------------------------------------------------------- internals

    def reply(self, ctx: RequestContext, response: Any) -> None:
        self._fill(ctx, response)

    def _fill(self, ctx: RequestContext, response: Any) -> None:
        queue = self.queues.get(ctx.connection_id)
        if queue is None:
            return
        body: tuple[Any, ...] = (
            response.chunks if isinstance(response, Encoded) else (codec.encode(response),)
        )
        flexible = ctx.api_key != API_VERSIONS_KEY and codec.is_flexible(
            ctx.api_key, ctx.api_version
        )
        size = sum(len(c) if isinstance(c, bytes | bytearray) else c.size for c in body)
        head = codec.response_header(ctx.correlation_id, flexible, size)
        queue.fill(ctx.sequence, (head, *body))

    def _collect(self, now_ms: int) -> list[Effect]:
        effects: list[Effect] = []
        for queue in self.queues.values():
            effects.extend(queue.drain())
        deadlines = [
            d
            for d in (
                self.fetches.next_deadline_ms(),
                self.cluster.next_expiry_ms(self.image),
                self._rebalance_due_ms if self.settings.auto_leader_rebalance_enable else None,
            )
            if d is not None
        ]
        deadline = min(deadlines, default=None)
        if deadline is not None and deadline != self._wakeup_ms:
            self._wakeup_ms = deadline
            effects.append(Wakeup(deadline))
        return effects


__all__ = ["QuorumController", "Send"]
