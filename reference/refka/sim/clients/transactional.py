"""A transactional producer for the simulator (KIP-98), over the wire at transaction version 1.

One transaction at a time, as the Java producer's ``TransactionManager`` runs them:

- ``find``: FindCoordinator v4 (``key_type`` 1, TRANSACTION) for ``transactional.id``;
- ``init``: InitProducerId v4 with the transactional id: a producer id and epoch (fencing any
  older instance); asked again after a fence (PRODUCER_FENCED, INVALID_PRODUCER_EPOCH) and
  after an abort that left a write unresolved (the Java client's epoch bump: the sequences
  start again) and after an EndTxn that went unanswered (a late EndTxn commit in the same
  epoch would commit the next transaction; KIP-890 part 2 bumps the epoch every time);
- ``add``: AddPartitionsToTxn v3 for every partition the transaction writes to;
- ``produce``: one transactional single-record batch per record (Produce v9, the
  ``transactional_id`` set, sequences per partition); retried on retriable errors with the
  same sequence, up to ``retries`` times. A request that times out or whose connection breaks
  is not retried: the transaction aborts while the write may still be on its way, as
  Transactions.tla's producer does (the Java producer retries it until
  ``delivery.timeout.ms``, then aborts the same way);
- ``end``: EndTxn v3: commit if asked and every record was acknowledged, else abort.

NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE and a lost coordinator find it again;
COORDINATOR_LOAD_IN_PROGRESS and CONCURRENT_TRANSACTIONS retry after ``retry.backoff.ms``.

History: ``txn invoke`` with its ``records`` ``(partition, -1, value)``; the completion carries
the acknowledged offsets (-1: unknown) and is ``ok`` once EndTxn commit is answered (committed),
``fail`` when the transaction certainly did not commit (aborted: no EndTxn commit was ever
sent, or one was refused before any attempt could have been handled) and ``info`` when an
EndTxn commit may or may not have been handled.
"""

from __future__ import annotations

import datetime
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from kio.schema.add_partitions_to_txn.v3.request import (
    AddPartitionsToTxnRequest,
    AddPartitionsToTxnTopic,
)
from kio.schema.end_txn.v3.request import EndTxnRequest
from kio.schema.errors import ErrorCode
from kio.schema.find_coordinator.v4.request import FindCoordinatorRequest
from kio.schema.init_producer_id.v4.request import InitProducerIdRequest
from kio.schema.produce.v9.request import PartitionProduceData, ProduceRequest, TopicProduceData
from kio.schema.types import ProducerId, TopicName, TransactionalId
from kio.static.primitive import Records, i8, i16, i32, i32Timedelta

from refka.core.effects import Effect
from refka.core.network_client import ClientResponse
from refka.protocol.records import NewRecord, build_batch
from refka.sim.clients.node import ClientNode
from refka.sim.clients.producer import NOT_WRITTEN, STALE_METADATA
from refka.sim.clients.wire import encode_value
from refka.sim.history import History

TRANSACTION = 1  # FindCoordinator key type
COORDINATOR_LOST = frozenset({ErrorCode.not_coordinator, ErrorCode.coordinator_not_available})
RETRY = frozenset({ErrorCode.coordinator_load_in_progress, ErrorCode.concurrent_transactions})
FENCED = frozenset({ErrorCode.producer_fenced, ErrorCode.invalid_producer_epoch})


@dataclass(slots=True)
class _Record:
    partition: int
    value: int
    sequence: int = -1
    offset: int = -1
    state: str = "pending"  # pending, in_flight, acked, failed (not written), unknown
    attempts: int = 0
    retry_ms: int = 0


@dataclass(slots=True)
class _Txn:
    records: list[_Record]
    commit: bool  # what the schedule asked for
    phase: str = "add"  # add, produce, end
    in_flight: bool = False  # AddPartitionsToTxn or EndTxn
    retry_ms: int = 0
    committing: bool = False  # the EndTxn sent commits
    commit_maybe_handled: bool = False  # an EndTxn commit went unanswered
    end_unanswered: bool = False  # an EndTxn went unanswered: it may still arrive
    partitions: list[int] = field(default_factory=list)
    end_at_ms: int = 0  # EndTxn not before (the application still working on it)

    def resolved(self) -> bool:
        return all(r.state in ("acked", "failed", "unknown") for r in self.records)


class SimTxnProducer(ClientNode):
    """Runs transactions of unique int values and records each one's outcome."""

    kind = "txn-producer"

    def __init__(
        self,
        client_id: int,
        brokers: Sequence[int],
        topic: str,
        transactional_id: str,
        history: History,
        *,
        transaction_timeout_ms: int = 60_000,
        retries: int = 3,
        **options: int,
    ) -> None:
        super().__init__(client_id, brokers, topic, history, **options)
        self.transactional_id = transactional_id
        self.transaction_timeout_ms = transaction_timeout_ms
        self.retries = retries
        self.coordinator: int | None = None
        self.producer: tuple[int, int] | None = None  # (producer id, epoch)
        self.producer_ids: list[tuple[int, int]] = []
        self.outcomes: list[str] = []  # "commit", "abort", "unknown", per finished transaction
        self._coordinator_in_flight = False
        self._init_in_flight = False
        self._retry_ms = 0  # FindCoordinator / InitProducerId backoff
        self._sequences: dict[int, int] = {}
        self._queue: deque[_Txn] = deque()
        self._txn: _Txn | None = None

    def transaction(
        self, records: Sequence[tuple[int, int]], commit: bool, now_ms: int, hold_ms: int = 0
    ) -> list[Effect]:
        """Start a transaction writing ``(partition, value)`` records, then committing (if
        ``commit`` and every write was acknowledged) or aborting, not before ``hold_ms``
        passed (an application that works that long between its sends and its commit)."""
        entries = tuple((p, -1, v) for p, v in records)
        self.history.add(now_ms, self.client_id, "invoke", "txn", topic=self.topic, records=entries)
        txn = _Txn([_Record(p, v) for p, v in records], commit, end_at_ms=now_ms + hold_ms)
        self._queue.append(txn)
        return self._step(now_ms)

    def pending(self) -> int:
        return len(self._queue) + (self._txn is not None)

    # ------------------------------------------------------------------ the work

    def _pump(self, now_ms: int) -> None:
        self._refresh_metadata(now_ms)
        if self._txn is None and self._queue:
            self._txn = self._queue.popleft()
            self._txn.partitions = sorted({r.partition for r in self._txn.records})
        txn = self._txn
        if txn is None or now_ms < self._retry_ms:
            return
        if self.coordinator is None:
            self._find_coordinator(now_ms)
        elif self.producer is None:
            self._init_producer_id(now_ms)
        elif txn.in_flight or now_ms < txn.retry_ms:
            pass
        elif txn.phase == "add":
            self._add_partitions(txn, now_ms)
        elif txn.phase == "produce":
            self._produce_all(txn, now_ms)
        else:
            self._end_txn(txn, now_ms)
        self._refresh_metadata(now_ms)

    def _timers(self) -> list[int]:
        txn = self._txn
        if txn is None and not self._queue:
            return []
        timers = [self._retry_ms]
        if txn is not None:
            timers += [txn.retry_ms, txn.end_at_ms]
            timers += [r.retry_ms for r in txn.records if r.state == "pending"]
        return timers

    def _backoff(self, now_ms: int) -> None:
        self._retry_ms = now_ms + self.retry_backoff_ms

    def _coordinator_error(self, error: ErrorCode | None, now_ms: int) -> bool:
        """Handle the errors every coordinator request shares; True if it was one of them."""
        if error is None or error in COORDINATOR_LOST:  # no answer, or not (any more) it
            self.coordinator = None
        elif error not in RETRY:
            return False
        self._backoff(now_ms)
        return True

    # ------------------------------------------------------------------ coordinator, id

    def _find_coordinator(self, now_ms: int) -> None:
        if self._coordinator_in_flight:
            return
        broker = self._ready_broker(now_ms)
        if broker is None:
            return
        request = FindCoordinatorRequest(
            key_type=i8(TRANSACTION), coordinator_keys=(self.transactional_id,)
        )
        self._coordinator_in_flight = self._send(broker, request, now_ms, self._on_coordinator)

    def _on_coordinator(self, done: ClientResponse) -> None:
        self._coordinator_in_flight = False
        found = None if done.response is None else done.response.coordinators[0]
        if found is None or found.error_code != ErrorCode.none or int(found.node_id) < 0:
            self._backoff(done.now_ms)
            return
        self.coordinator = int(found.node_id)

    def _init_producer_id(self, now_ms: int) -> None:
        if self._init_in_flight or self.coordinator is None:
            return
        request = InitProducerIdRequest(
            transactional_id=TransactionalId(self.transactional_id),
            transaction_timeout=_ms(self.transaction_timeout_ms),
            producer_id=ProducerId(-1),
            producer_epoch=i16(-1),
        )
        sent = self._send(self.coordinator, request, now_ms, self._on_init)
        self._init_in_flight = sent

    def _on_init(self, done: ClientResponse) -> None:
        self._init_in_flight = False
        response = done.response
        error = None if response is None else response.error_code
        if error == ErrorCode.none:
            assert response is not None
            self.producer = (int(response.producer_id), int(response.producer_epoch))
            self.producer_ids.append(self.producer)
            self._sequences.clear()
        elif not self._coordinator_error(error, done.now_ms):
            self._backoff(done.now_ms)

    def _fenced(self) -> None:
        """A newer epoch exists (ours was fenced, or a timeout aborted our transaction): take
        a new one before the next transaction."""
        self.producer = None

    # ------------------------------------------------------------------ the transaction

    def _add_partitions(self, txn: _Txn, now_ms: int) -> None:
        assert self.coordinator is not None and self.producer is not None
        topic = AddPartitionsToTxnTopic(
            name=TopicName(self.topic), partitions=tuple(i32(p) for p in txn.partitions)
        )
        request = AddPartitionsToTxnRequest(
            v3_and_below_transactional_id=TransactionalId(self.transactional_id),
            v3_and_below_producer_id=ProducerId(self.producer[0]),
            v3_and_below_producer_epoch=i16(self.producer[1]),
            v3_and_below_topics=(topic,),
        )
        txn.in_flight = self._send(self.coordinator, request, now_ms, partial(self._on_add, txn))

    def _on_add(self, txn: _Txn, done: ClientResponse) -> None:
        txn.in_flight = False
        response = done.response
        errors = (
            [None]
            if response is None
            else [
                p.partition_error_code
                for t in response.results_by_topic_v3_and_below
                for p in t.results_by_partition
                if p.partition_error_code != ErrorCode.none
            ]
        )
        if not errors:
            txn.phase = "produce"
        elif not self._coordinator_error(errors[0], done.now_ms):
            assert errors[0] is not None
            self.errors[errors[0].name.upper()] += 1
            self._fenced()  # a new epoch aborts whatever the coordinator holds of it
            self._finish(txn, done.now_ms, "fail", errors[0].name.upper())

    def _produce_all(self, txn: _Txn, now_ms: int) -> None:
        for record in txn.records:
            if record.state != "pending" or record.retry_ms > now_ms:
                continue
            leader = self.leaders.get(record.partition)
            if leader is None:
                self.metadata_needed = True
            elif self.network.ready(leader.node, now_ms):
                self._produce(txn, record, leader.node, now_ms)
        if txn.resolved():
            txn.phase = "end"
            txn.committing = txn.commit and all(r.state == "acked" for r in txn.records)
            self._end_txn(txn, now_ms)

    def _produce(self, txn: _Txn, record: _Record, leader: int, now_ms: int) -> None:
        assert self.producer is not None
        if record.sequence < 0:  # kept on every retry: the broker tells a retry by it
            record.sequence = self._sequences.get(record.partition, 0)
            self._sequences[record.partition] = record.sequence + 1
        batch = build_batch(
            [NewRecord(None, encode_value(record.value), (), now_ms)],
            producer_id=self.producer[0],
            producer_epoch=self.producer[1],
            base_sequence=record.sequence,
            is_transactional=True,
        )
        data = PartitionProduceData(index=i32(record.partition), records=Records(batch))
        request = ProduceRequest(
            transactional_id=TransactionalId(self.transactional_id),
            acks=i16(-1),
            timeout=_ms(self.request_timeout_ms),
            topic_data=(TopicProduceData(name=TopicName(self.topic), partition_data=(data,)),),
        )
        record.attempts += 1
        if self._send(leader, request, now_ms, partial(self._on_produce, txn, record)):
            record.state = "in_flight"

    def _on_produce(self, txn: _Txn, record: _Record, done: ClientResponse) -> None:
        record.state = "pending"
        result = _partition_result(done.response, self.topic, record.partition)
        error = None if result is None else result.error_code
        if error is not None and error != ErrorCode.none:
            self.errors[error.name.upper()] += 1
        if error in (ErrorCode.none, ErrorCode.duplicate_sequence_number):
            record.state = "acked"
            record.offset = int(result.base_offset) if error == ErrorCode.none else -1
        elif error is None:  # no answer: it may still arrive (Transactions.tla's Send)
            self._leader_lost(record.partition)
            record.state = "unknown"
        elif error.retriable:
            if error in STALE_METADATA:
                self._leader_lost(record.partition)
            if record.attempts > self.retries:
                record.state = "unknown"
            record.retry_ms = done.now_ms + self.retry_backoff_ms
        else:
            record.state = "failed" if error in NOT_WRITTEN else "unknown"
            if error in FENCED:
                self._fenced()
                self._finish(txn, done.now_ms, "fail", error.name.upper())
                return
        if txn is self._txn and txn.phase == "produce" and txn.resolved():
            self._produce_all(txn, done.now_ms)

    def _end_txn(self, txn: _Txn, now_ms: int) -> None:
        if txn.in_flight or now_ms < max(txn.retry_ms, txn.end_at_ms) or self.coordinator is None:
            return
        assert self.producer is not None
        request = EndTxnRequest(
            transactional_id=TransactionalId(self.transactional_id),
            producer_id=ProducerId(self.producer[0]),
            producer_epoch=i16(self.producer[1]),
            committed=txn.committing,
        )
        txn.in_flight = self._send(self.coordinator, request, now_ms, partial(self._on_end, txn))

    def _on_end(self, txn: _Txn, done: ClientResponse) -> None:
        txn.in_flight = False
        error = None if done.response is None else done.response.error_code
        if error == ErrorCode.none:
            self._finish(txn, done.now_ms, "ok" if txn.committing else "fail", "")
        elif self._coordinator_error(error, done.now_ms):
            txn.end_unanswered |= error is None
            txn.commit_maybe_handled |= error is None and txn.committing
            txn.retry_ms = self._retry_ms
        else:
            assert error is not None
            self.errors[error.name.upper()] += 1
            self._fenced()
            # a refused commit may follow an earlier attempt that was handled
            unknown = txn.committing and txn.commit_maybe_handled
            self._finish(txn, done.now_ms, "info" if unknown else "fail", error.name.upper())

    def _finish(self, txn: _Txn, now_ms: int, outcome: str, error: str) -> None:
        """Record the transaction's outcome and move on to the next one."""
        if self._txn is not txn:
            return
        self._txn = None
        if txn.end_unanswered or any(r.state == "unknown" for r in txn.records):
            # A write or an EndTxn may still land, and in this epoch it would count in the
            # next transaction (a late EndTxn commit would commit it): bump the epoch first,
            # as KIP-890 part 2 does for every transaction. The sequences start again.
            self._fenced()
        records = tuple((r.partition, r.offset, r.value) for r in txn.records)
        self.outcomes.append({"ok": "commit", "fail": "abort"}.get(outcome, "unknown"))
        self.history.add(
            now_ms, self.client_id, outcome, "txn", topic=self.topic, records=records, error=error
        )


def _partition_result(response: Any, topic: str, partition: int) -> Any:
    if response is None:
        return None
    return next(
        (
            r
            for t in response.responses
            if t.name == topic
            for r in t.partition_responses
            if r.index == partition
        ),
        None,
    )


def _ms(value: int) -> i32Timedelta:
    return i32Timedelta.parse(datetime.timedelta(milliseconds=value))
