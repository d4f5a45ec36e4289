"""A producer for the simulator: one single-record batch per ``send``, over Produce v9.

Like the Java producer, it learns leaders from Metadata, refreshes them on
NOT_LEADER_OR_FOLLOWER / UNKNOWN_TOPIC_OR_PARTITION / a lost connection, and retries a batch
(``retries``, ``retry.backoff.ms``, ``delivery.timeout.ms``). At most one batch per partition
is in flight (``max.in.flight.requests.per.connection=1`` per partition), so retries never
reorder a partition.

Idempotence (KIP-98): a producer id and epoch from InitProducerId; each partition's batches
take consecutive sequence numbers when first sent and keep them on every retry, so the broker
answers a retry of a written batch with the first write's offset instead of appending again.
When a sequenced batch ends without success, the next batches' sequences no longer follow on
the broker, so the producer takes a fresh producer id and restarts its sequences (what the Java
producer's epoch bump achieves).

History (``refka.sim.history``): ``send invoke`` at ``send``; then ``ok`` with the acknowledged
offset, ``fail`` when no attempt can have been written (an error the broker returns before
appending, or ``delivery.timeout.ms`` before any attempt), or ``info`` when one may have been
(a timeout, a lost connection, an error returned after the append). With acks=0 the broker
answers nothing, so every send is ``info`` once its request is on the wire, as Jepsen counts
them.
"""

from __future__ import annotations

import datetime
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

from kio.schema.errors import ErrorCode
from kio.schema.init_producer_id.v4.request import InitProducerIdRequest
from kio.schema.produce.v9.request import PartitionProduceData, ProduceRequest, TopicProduceData
from kio.schema.types import ProducerId, TopicName
from kio.static.primitive import Records, i16, i32, i32Timedelta

from refka.core.effects import Effect
from refka.core.network_client import ClientResponse
from refka.protocol import codec
from refka.protocol.records import NewRecord, build_batch
from refka.sim.clients.node import ClientNode, Leader
from refka.sim.clients.wire import encode_value
from refka.sim.history import History

NOT_WRITTEN = frozenset(
    {
        ErrorCode.unknown_topic_or_partition,
        ErrorCode.not_enough_replicas,  # checked before the append
        ErrorCode.invalid_record,
        ErrorCode.corrupt_message,
        ErrorCode.message_too_large,
        ErrorCode.record_list_too_large,
        ErrorCode.invalid_required_acks,
        ErrorCode.invalid_timestamp,
        ErrorCode.topic_authorization_failed,
        ErrorCode.invalid_producer_epoch,
        ErrorCode.producer_fenced,
        ErrorCode.out_of_order_sequence_number,
        ErrorCode.unknown_producer_id,
        ErrorCode.unsupported_version,
    }
)
"""Errors a broker returns only for a batch it did not append (else the outcome is unknown)."""

STALE_METADATA = frozenset(
    {
        ErrorCode.not_leader_or_follower,
        ErrorCode.unknown_topic_or_partition,
        ErrorCode.leader_not_available,
        ErrorCode.fenced_leader_epoch,
        ErrorCode.kafka_storage_error,
    }
)

RESTART_SEQUENCES = frozenset({ErrorCode.unknown_producer_id})
"""Retried under a fresh producer id (the broker forgot this one)."""


@dataclass(slots=True)
class _Batch:
    partition: int
    value: int
    created_ms: int
    producer: tuple[int, int] | None = None  # (producer id, epoch) its sequence belongs to
    sequence: int = -1
    attempts: int = 0
    retry_ms: int = 0
    in_flight: bool = False
    maybe_written: bool = False  # an attempt may have been appended


class SimProducer(ClientNode):
    """Sends unique int values to partitions of one topic and records each outcome."""

    kind = "producer"

    def __init__(
        self,
        client_id: int,
        brokers: Sequence[int],
        topic: str,
        acks: int,
        idempotent: bool,
        retries: int,
        history: History,
        *,
        delivery_timeout_ms: int = 120_000,
        **options: int,
    ) -> None:
        if acks not in (0, 1, -1):
            raise ValueError(f"acks must be 0, 1 or -1, not {acks}")
        if idempotent and acks != -1:
            raise ValueError("an idempotent producer needs acks=-1 (acks=all)")
        super().__init__(client_id, brokers, topic, history, **options)
        self.acks = acks
        self.idempotent = idempotent
        self.retries = retries
        self.delivery_timeout_ms = delivery_timeout_ms
        self.producer: tuple[int, int] | None = None  # (producer id, epoch)
        self.producer_ids: list[tuple[int, int]] = []  # every one it was given
        self._init_in_flight = False
        self._init_retry_ms = 0
        self._sequences: dict[int, int] = {}
        self._queues: dict[int, deque[_Batch]] = {}
        self._unanswered_correlation_id = 0

    def send(self, partition: int, value: int, now_ms: int) -> list[Effect]:
        """Start sending ``value`` (unique in the run) to ``partition``."""
        self.history.add(
            now_ms, self.client_id, "invoke", "send",
            topic=self.topic, partition=partition, value=value,
        )  # fmt: skip
        self._queues.setdefault(partition, deque()).append(_Batch(partition, value, now_ms))
        return self._step(now_ms)

    def pending(self) -> int:
        """Sends not yet completed in the history."""
        return sum(len(q) for q in self._queues.values())

    # ------------------------------------------------------------------ the work

    def _pump(self, now_ms: int) -> None:
        self._expire(now_ms)
        self._refresh_metadata(now_ms)
        if self.idempotent and self.producer is None:
            if self.pending():
                self._init_producer_id(now_ms)
            return
        for partition, queue in sorted(self._queues.items()):
            while queue and not queue[0].in_flight and queue[0].retry_ms <= now_ms:
                leader = self.leaders.get(partition)
                if leader is None:
                    self.metadata_needed = True
                    break
                if not self.network.ready(leader.node, now_ms):
                    break
                if not self._produce(queue, leader, now_ms):
                    break
        self._refresh_metadata(now_ms)

    def _timers(self) -> list[int]:
        timers = []
        for queue in self._queues.values():
            for batch in queue:
                if not batch.in_flight:
                    timers.append(batch.created_ms + self.delivery_timeout_ms)
            if queue and not queue[0].in_flight:
                timers.append(queue[0].retry_ms)
        waiting = self.idempotent and self.producer is None and not self._init_in_flight
        if waiting and self.pending():
            timers.append(self._init_retry_ms)
        return timers

    def _expire(self, now_ms: int) -> None:
        """``delivery.timeout.ms``: a batch not in flight that old is given up."""
        for queue in self._queues.values():
            for batch in [b for b in queue if not b.in_flight]:
                if now_ms >= batch.created_ms + self.delivery_timeout_ms:
                    self._finish(queue, batch, now_ms, "delivery.timeout.ms expired")

    def _produce(self, queue: deque[_Batch], leader: Leader, now_ms: int) -> bool:
        """Send the batch at the head of ``queue``; True if it is done (acks=0)."""
        batch = queue[0]
        if self.idempotent and batch.producer is None:
            # A batch keeps the producer id and sequence it was first sent with on every
            # retry (as the Java producer's): under a new id the broker could not tell a
            # retry of a written batch from a new one, and would append it again.
            assert self.producer is not None
            batch.producer = self.producer
            batch.sequence = self._sequences.get(batch.partition, 0)
            self._sequences[batch.partition] = batch.sequence + 1
        producer_id, epoch = batch.producer or (-1, -1)
        records = build_batch(
            [NewRecord(None, encode_value(batch.value), (), batch.created_ms)],
            producer_id=producer_id,
            producer_epoch=epoch,
            base_sequence=batch.sequence,
        )
        data = PartitionProduceData(index=i32(batch.partition), records=Records(records))
        request = ProduceRequest(
            transactional_id=None,
            acks=i16(self.acks),
            timeout=i32Timedelta.parse(datetime.timedelta(milliseconds=self.request_timeout_ms)),
            topic_data=(TopicProduceData(name=TopicName(self.topic), partition_data=(data,)),),
        )
        batch.attempts += 1
        if self.acks == 0:
            self._unanswered_correlation_id += 1
            client_id = self.network.client_id
            frame = codec.request_frame(request, -self._unanswered_correlation_id, client_id)
            self._send_unanswered(leader.node, frame)
            batch.maybe_written = True
            self._finish(queue, batch, now_ms, "acks=0: no answer")
            return True
        batch.in_flight = self._send(leader.node, request, now_ms, partial(self._on_produce, batch))
        return False

    def _on_produce(self, batch: _Batch, done: ClientResponse) -> None:
        batch.in_flight = False
        queue = self._queues[batch.partition]
        if done.response is None:
            batch.maybe_written = True
            self._leader_lost(batch.partition)
            reason = "request timed out" if done.timed_out else "disconnected"
            self._retry(queue, batch, done.now_ms, reason)
            return
        result = next(
            (
                r
                for t in done.response.responses
                if t.name == self.topic
                for r in t.partition_responses
                if r.index == batch.partition
            ),
            None,
        )
        if result is None:  # an answer without our partition: as if none came
            batch.maybe_written = True
            self._retry(queue, batch, done.now_ms, "no result for the partition")
            return
        error = result.error_code
        if error != ErrorCode.none:
            self.errors[error.name.upper()] += 1
        if error == ErrorCode.none:
            self._finish(queue, batch, done.now_ms, offset=int(result.base_offset))
        elif error == ErrorCode.duplicate_sequence_number and self.idempotent:
            self._finish(queue, batch, done.now_ms, offset=None)  # written, offset unknown
        else:
            batch.maybe_written |= error not in NOT_WRITTEN
            if error in STALE_METADATA:
                self._leader_lost(batch.partition)
            if error in RESTART_SEQUENCES:  # the broker lost this producer: start over
                self._new_producer_id()
                for queued in queue:
                    queued.producer = None
            if error.retriable or error in RESTART_SEQUENCES:
                self._retry(queue, batch, done.now_ms, error.name.upper())
            else:
                self._finish(queue, batch, done.now_ms, error.name.upper())

    def _retry(self, queue: deque[_Batch], batch: _Batch, now_ms: int, reason: str) -> None:
        if batch.attempts > self.retries:
            self._finish(queue, batch, now_ms, f"{reason} (retries exhausted)")
        else:
            batch.retry_ms = now_ms + self.retry_backoff_ms

    def _finish(
        self,
        queue: deque[_Batch],
        batch: _Batch,
        now_ms: int,
        error: str = "",
        offset: int | None = None,
    ) -> None:
        """Record the outcome: ok when acknowledged (``error`` empty), else fail or info."""
        queue.remove(batch)
        fields = dict(topic=self.topic, partition=batch.partition, value=batch.value)
        if not error:
            self.history.add(now_ms, self.client_id, "ok", "send", offset=offset, **fields)
            return
        outcome = "info" if batch.maybe_written else "fail"
        self.history.add(now_ms, self.client_id, outcome, "send", error=error, **fields)
        if self.idempotent and batch.producer is not None and batch.producer == self.producer:
            self._new_producer_id()  # the partition's next sequence would be out of order

    # ------------------------------------------------------------------ producer ids

    def _new_producer_id(self) -> None:
        """Drop the producer id: batches sent from now on get a fresh one and new sequences."""
        self.producer = None
        self._sequences.clear()

    def _init_producer_id(self, now_ms: int) -> None:
        if self._init_in_flight or now_ms < self._init_retry_ms:
            return
        broker = self._ready_broker(now_ms)
        if broker is None:
            return
        request = InitProducerIdRequest(
            transactional_id=None,
            transaction_timeout=i32Timedelta.parse(datetime.timedelta(milliseconds=60_000)),
            producer_id=ProducerId(-1),
            producer_epoch=i16(-1),
        )
        self._init_in_flight = self._send(broker, request, now_ms, self._on_init_producer_id)

    def _on_init_producer_id(self, done: ClientResponse) -> None:
        self._init_in_flight = False
        response = done.response
        if response is None or response.error_code != ErrorCode.none:
            self._init_retry_ms = done.now_ms + self.retry_backoff_ms
            return
        self.producer = (int(response.producer_id), int(response.producer_epoch))
        self.producer_ids.append(self.producer)
