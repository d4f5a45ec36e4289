"""Writing transaction markers to the partition leaders (Kafka's ``TransactionMarkerChannelManager``
and the WriteTxnMarkers handler).

The coordinator's ``WriteTxnMarkers`` effect names a transaction's partitions. Each is written
where it is led now (the metadata image): on this broker, a control batch appended to the
leader log; elsewhere, a WriteTxnMarkers request to the leader, batched per broker. Either way a
marker counts only once the partition's high watermark passes it (acks=-1, as Kafka appends
markers), so that it survives a change of leader. A partition that fails (no leader, a moved
leader, an unreachable broker) is retried after ``retry_backoff_ms`` with the leader looked up
again; a partition whose topic was deleted is dropped. When every partition has its marker the
transaction is complete (``on_complete``).

Markers travel on the broker's default channel (the replica fetchers'), not a channel of their
own as Kafka's marker sender thread has.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kio.schema.errors import ErrorCode

from refka.core.coordinator_write import DelayedCoordinatorWrite
from refka.core.network_client import ClientResponse, NetworkClient, NodeAddress
from refka.core.partitions import Partitions
from refka.metadata.image import MetadataImage

if TYPE_CHECKING:
    from refka.txn.effects import WriteTxnMarkers

TopicPartition = tuple[str, int]
Written = Callable[[str, int, int, bool], None]  # topic, partition, producer id, committed
E = ErrorCode


def append_marker(
    partitions: Partitions,
    tp: TopicPartition,
    batch: bytes,
    now_ms: int,
    timeout_ms: int,
    done: Callable[[ErrorCode], None],
) -> None:
    """Append a marker batch to the leader log of ``tp``; ``done(error)`` once the high
    watermark passes it (or with the append's error, or REQUEST_TIMED_OUT)."""
    result = partitions.append_as_coordinator(tp[0], tp[1], batch, now_ms)
    if result.error_code != E.none:
        done(result.error_code)
        return
    write = DelayedCoordinatorWrite(
        now_ms + timeout_ms,
        {tp: result.last_offset + 1},
        lambda key: partitions.replica(*key),
        done,
        map_errors=False,
    )
    if write.try_complete(now_ms, force=False) is None:
        partitions.watch(write)


@dataclass(slots=True)
class _Pending:
    """A WriteTxnMarkers effect whose markers are not all written yet."""

    effect: WriteTxnMarkers
    remaining: set[TopicPartition]
    in_flight: set[TopicPartition] = field(default_factory=set)
    retry_at_ms: int | None = None


class TxnMarkerSender:
    """The transactions whose markers are being written, by transactional id."""

    def __init__(
        self,
        node_id: int,
        partitions: Partitions,
        image: Callable[[], MetadataImage],
        address: Callable[[int], NodeAddress | None],
        client: NetworkClient,
        on_written: Written,
        on_complete: Callable[[str, int], None],
        timeout_ms: int,
        retry_backoff_ms: int = 100,
    ) -> None:
        self._node_id = node_id
        self._partitions = partitions
        self._image = image
        self._address = address
        self._client = client
        self._on_written = on_written
        self._on_complete = on_complete
        self._timeout_ms = timeout_ms
        self._retry_backoff_ms = retry_backoff_ms
        self._pending: dict[str, _Pending] = {}
        self._now_ms = 0

    def send(self, effect: WriteTxnMarkers, now_ms: int) -> None:
        """Start writing ``effect``'s markers (replacing an older attempt for the same id)."""
        self._pending[effect.transactional_id] = _Pending(effect, set(effect.partitions))
        self._attempt(effect.transactional_id, now_ms)

    def on_tick(self, now_ms: int) -> None:
        self._now_ms = max(self._now_ms, now_ms)
        for txn_id, pending in list(self._pending.items()):
            if pending.retry_at_ms is not None and now_ms >= pending.retry_at_ms:
                pending.retry_at_ms = None
                self._attempt(txn_id, now_ms)

    def next_deadline_ms(self) -> int | None:
        due = [p.retry_at_ms for p in self._pending.values() if p.retry_at_ms is not None]
        return min(due, default=None)

    def _attempt(self, txn_id: str, now_ms: int) -> None:
        from refka.protocol.txn_markers import marker_batch

        self._now_ms = max(self._now_ms, now_ms)
        pending = self._pending[txn_id]
        effect = pending.effect
        remote: dict[int, list[TopicPartition]] = {}
        image = self._image()
        for tp in sorted(pending.remaining - pending.in_flight):
            topic = image.topics_by_name.get(tp[0])
            registration = None if topic is None else topic.partitions.get(tp[1])
            if registration is None:
                pending.remaining.discard(tp)  # deleted: no marker is needed any more
            elif registration.leader == self._node_id:
                pending.in_flight.add(tp)
                batch = marker_batch(
                    effect.producer_id,
                    effect.producer_epoch,
                    effect.coordinator_epoch,
                    int(effect.result),
                    now_ms,
                )
                append_marker(
                    self._partitions,
                    tp,
                    batch,
                    now_ms,
                    self._timeout_ms,
                    self._local_done(txn_id, pending, tp),
                )
            elif registration.leader >= 0:
                remote.setdefault(registration.leader, []).append(tp)
            else:
                self._retry(pending, now_ms)
        for leader, tps in remote.items():
            self._send_remote(txn_id, pending, leader, tps, now_ms)
        self._maybe_complete(txn_id, pending)

    def _local_done(
        self, txn_id: str, pending: _Pending, tp: TopicPartition
    ) -> Callable[[ErrorCode], None]:
        """What to do once the marker appended here is replicated (or failed)."""

        def done(error: ErrorCode) -> None:
            pending.in_flight.discard(tp)
            if error == E.none:
                pending.remaining.discard(tp)
                commit = int(pending.effect.result) == 1
                self._on_written(tp[0], tp[1], pending.effect.producer_id, commit)
            else:
                self._retry(pending, self._now_ms)
            self._maybe_complete(txn_id, pending)

        return done

    def _send_remote(
        self, txn_id: str, pending: _Pending, leader: int, tps: list[TopicPartition], now_ms: int
    ) -> None:
        address = self._address(leader)
        if address is None:
            self._retry(pending, now_ms)
            return
        request = _request(pending.effect, tps)
        pending.in_flight.update(tps)

        def answered(result: ClientResponse) -> None:
            pending.in_flight.difference_update(tps)
            self._now_ms = max(self._now_ms, result.now_ms)
            written = _written(result.response)
            pending.remaining.difference_update(written)
            if set(tps) - written:
                self._retry(pending, result.now_ms)
            self._maybe_complete(txn_id, pending)

        if not self._client.send(address, request, now_ms, answered):
            pending.in_flight.difference_update(tps)
            self._retry(pending, now_ms)

    def _retry(self, pending: _Pending, now_ms: int) -> None:
        if pending.retry_at_ms is None:
            pending.retry_at_ms = now_ms + self._retry_backoff_ms

    def _maybe_complete(self, txn_id: str, pending: _Pending) -> None:
        if pending.remaining or self._pending.get(txn_id) is not pending:
            return
        del self._pending[txn_id]
        self._on_complete(txn_id, self._now_ms)


def _request(effect: WriteTxnMarkers, tps: list[TopicPartition]) -> Any:
    from kio.schema.write_txn_markers.v2 import request as m

    topics: dict[str, list[int]] = {}
    for topic, partition in tps:
        topics.setdefault(topic, []).append(partition)
    marker = m.WritableTxnMarker(
        producer_id=effect.producer_id,  # type: ignore[arg-type]
        producer_epoch=effect.producer_epoch,  # type: ignore[arg-type]
        transaction_result=int(effect.result) == 1,
        topics=tuple(
            m.WritableTxnMarkerTopic(name=t, partition_indexes=tuple(p))  # type: ignore[arg-type]
            for t, p in topics.items()
        ),
        coordinator_epoch=effect.coordinator_epoch,  # type: ignore[arg-type]
        transaction_version=effect.transaction_version,  # type: ignore[arg-type]
    )
    return m.WriteTxnMarkersRequest(markers=(marker,))


def _written(response: Any) -> set[TopicPartition]:
    """The partitions a WriteTxnMarkers answer says were written."""
    if response is None:
        return set()
    return {
        (topic.name, int(p.partition_index))
        for marker in response.markers
        for topic in marker.topics
        for p in topic.partitions
        if p.error_code == E.none
    }
