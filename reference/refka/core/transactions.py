"""The transaction coordinator as the core owns it: ``__transaction_state`` and the markers.

The coordinator (``refka.txn``) is a state machine; this service decides which transactional
ids this node coordinates and carries out its ``WriteTxnMarkers`` effects. A transactional id
belongs to the leader of its ``__transaction_state`` partition (``abs(hashCode) %
transaction.state.log.num.partitions``, as Kafka's ``TransactionStateManager.partitionFor``);
the topic is created on first use (compacted, ``transaction.state.log.replication.factor``
capped at the live brokers, ``transaction.state.log.min.isr``), as ``__consumer_offsets`` is.

Markers: on one node the effect becomes a control batch appended to each partition's leader
log here (``append_as_coordinator``), then the coordinator completes the transaction. On a
cluster the same effect will become WriteTxnMarkers requests to the partition leaders.

Known limits: the coordinator's state is not written to ``__transaction_state`` yet (a restart
forgets it); a marker for a partition this node does not lead is skipped (logged).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from kio.schema.errors import ErrorCode

from refka.core.partitions import Partitions
from refka.core.topics import Node, Topics

if TYPE_CHECKING:
    from refka.txn.coordinator import TransactionCoordinator, WriteTxnMarkers

log = logging.getLogger(__name__)
TRANSACTION_STATE_TOPIC = "__transaction_state"
E = ErrorCode


class TransactionService:
    """The transaction coordinator of this node, with the partitions it writes markers to."""

    def __init__(
        self,
        topics: Topics,
        partitions: Partitions,
        on_marker: Callable[[str, int, int, bool], None] | None = None,
    ) -> None:
        """``on_marker(topic, partition, producer_id, committed)``: a marker was written (the
        group coordinator completes the transaction's offsets)."""
        self._topics = topics
        self._partitions = partitions
        self._on_marker = on_marker
        self._coordinator: TransactionCoordinator | None = None

    @property
    def coordinator(self) -> TransactionCoordinator:
        """Built on first use, so that the broker's start does not import ``refka.txn``."""
        if self._coordinator is None:
            from refka.txn.coordinator import TransactionConfig, TransactionCoordinator

            config = self._topics.config
            self._coordinator = TransactionCoordinator(
                TransactionConfig(
                    config.transaction_max_timeout_ms, config.transaction_state_log_num_partitions
                )
            )
        return self._coordinator

    @property
    def topics(self) -> Topics:
        return self._topics

    def coordinator_for(
        self, transactional_id: str, now_ms: int, listener: str = ""
    ) -> Node | None:
        """The leader of the id's ``__transaction_state`` partition, or None while there is
        none (the topic is asked for on first use)."""
        topic = self._topics.image.topics_by_name.get(TRANSACTION_STATE_TOPIC)
        if topic is None:
            self._ensure_topic(now_ms)
            return None
        registration = topic.partitions.get(self.coordinator.partition_for(transactional_id))
        if registration is None or registration.leader < 0:
            return None
        return self._topics.broker(registration.leader, listener)

    def check_coordinator(self, transactional_id: str, now_ms: int) -> ErrorCode:
        """NONE if this node coordinates the id; else NOT_COORDINATOR (another node leads its
        partition) or COORDINATOR_NOT_AVAILABLE (no leader, or no topic yet)."""
        node = self.coordinator_for(transactional_id, now_ms)
        if node is None:
            return E.coordinator_not_available
        return E.none if node.node_id == self._topics.node.node_id else E.not_coordinator

    def _ensure_topic(self, now_ms: int) -> None:
        config = self._topics.config
        alive = max(1, self._topics.alive_broker_count())
        factor = min(config.transaction_state_log_replication_factor, alive)
        configs = {
            "cleanup.policy": "compact",
            "min.insync.replicas": str(min(config.transaction_state_log_min_isr, factor)),
        }
        partitions = config.transaction_state_log_num_partitions
        self._topics.create_in_background(
            TRANSACTION_STATE_TOPIC, partitions, factor, configs, now_ms
        )

    def write_markers(self, effects: list[WriteTxnMarkers], now_ms: int) -> None:
        """Carry out the coordinator's marker effects: append each control batch to its
        partition's leader log, then complete the transaction (Transactions.tla
        ``WriteMarker``)."""
        from refka.protocol.txn_markers import marker_batch
        from refka.txn.state import TransactionResult

        for effect in effects:
            batch = marker_batch(
                effect.producer_id,
                effect.producer_epoch,
                effect.coordinator_epoch,
                int(effect.result),
                now_ms,
            )
            for topic, partition in effect.partitions:
                result = self._partitions.append_as_coordinator(topic, partition, batch, now_ms)
                if result.error_code == E.none and self._on_marker is not None:
                    commit = effect.result is TransactionResult.COMMIT
                    self._on_marker(topic, partition, effect.producer_id, commit)
                if result.error_code != E.none:
                    log.warning(
                        "marker for %s-%d (producer %d) not written: %s",
                        topic,
                        partition,
                        effect.producer_id,
                        result.error_code.name,
                    )
            self.coordinator.complete_markers(effect.transactional_id, now_ms)

    def on_tick(self, now_ms: int) -> None:
        """Abort the transactions that timed out."""
        if self._coordinator is not None:
            self.write_markers(self._coordinator.on_tick(now_ms), now_ms)

    def next_deadline_ms(self) -> int | None:
        return None if self._coordinator is None else self._coordinator.next_deadline_ms()
