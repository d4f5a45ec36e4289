"""The partitions this node hosts: their replicas and logs, and the requests waiting on them.

What the Produce, Fetch and ListOffsets handlers see of the broker (Kafka's ``ReplicaManager``
in its single-node form): look a replica up, say data arrived (``partitions_changed`` retries
the requests in the purgatory), park a request in the purgatory (``watch``), and append a batch
the broker wrote itself (``__consumer_offsets``, ``append_as_coordinator``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from kio.schema.errors import ErrorCode

from refka.config import BrokerConfig
from refka.core.context import RequestContext
from refka.core.purgatory import DelayedOperation, Purgatory, TopicPartition
from refka.core.topic_defaults import topic_defaults
from refka.log.cleaner import CleanerConfig
from refka.log.config import LogConfig
from refka.log.file_slice import FileSlice
from refka.log.log_manager import LogManager
from refka.log.storage import Storage
from refka.replica import AppendResult, Replica

if TYPE_CHECKING:
    from refka.log.transaction_index import AbortedTxn

Reply = Callable[[RequestContext, Any], None]


class Partitions:
    """Replicas by (topic, partition), their ``LogManager``, and the purgatory.

    ``topic_configs(topic)`` gives a topic's overrides (from the metadata); ``reply`` answers a
    request that waited in the purgatory.
    """

    def __init__(
        self,
        config: BrokerConfig,
        storage: Storage,
        node_id: int,
        now_ms: int,
        topic_configs: Callable[[str], dict[str, str]],
        reply: Reply,
    ) -> None:
        self.config = config
        self.storage = storage
        self.node_id = node_id
        self.replicas: dict[TopicPartition, Replica] = {}
        self.purgatory = Purgatory()
        self._topic_configs = topic_configs
        self._reply = reply
        self._default_log_config: LogConfig | None = None
        self.effective = config  # with the dynamic broker configs (``reconfigure_broker``)
        self.logs = LogManager(
            storage,
            now_ms,
            config_for=lambda topic: self.log_config(topic_configs(topic)),
            retention_check_interval_ms=config.log_retention_check_interval_ms,
            checkpoint_interval_ms=config.log_flush_offset_checkpoint_interval_ms,
            start_offset_checkpoint_interval_ms=(
                config.log_flush_start_offset_checkpoint_interval_ms
            ),
            file_delete_delay_ms=config.log_segment_delete_delay_ms,
            cleaner=_cleaner_config(config),
            transactions=self._transactions,
        )
        self._logs_due_ms = now_ms

    # ------------------------------------------------------------ for handlers

    def replica(self, topic: str, partition: int) -> Replica | None:
        return self.replicas.get((topic, partition))

    def partitions_changed(self, keys: Iterable[TopicPartition], now_ms: int) -> None:
        """Data arrived: retry the requests waiting on these partitions."""
        for ctx, response in self.purgatory.check(keys, now_ms):
            self._reply(ctx, response)

    def watch(self, operation: DelayedOperation) -> None:
        """Park a request until its partitions change or its deadline passes."""
        self.purgatory.watch(operation)

    def read_bytes(self, slices: Iterable[FileSlice]) -> bytes:
        """The bytes of ``slices`` (for the broker's own reads, e.g. replaying offsets)."""
        return b"".join(self.storage.read(s.path, s.position, s.size) for s in slices)

    def append_as_coordinator(
        self, topic: str, partition: int, records: bytes, now_ms: int
    ) -> AppendResult:
        """LeaderAppend of a batch the broker wrote itself (``__consumer_offsets``), as Kafka's
        coordinators append: to the leader's log with acks=-1 (NOT_ENOUGH_REPLICAS below
        min.insync.replicas), NOT_LEADER_OR_FOLLOWER on a replica that does not lead. The
        caller waits for the high watermark to pass ``last_offset`` before it acknowledges."""
        replica = self.replicas.get((topic, partition))
        if replica is None or not replica.is_leader:
            return AppendResult(ErrorCode.not_leader_or_follower)
        result = replica.append_as_leader(
            records, now_ms, replica.min_insync_replicas, -1, from_client=False
        )
        if result.error_code == ErrorCode.none:
            self.partitions_changed([(topic, partition)], now_ms)  # wake follower fetches
        return result

    def _transactions(self, tp: TopicPartition) -> tuple[int, list[AbortedTxn]] | None:
        """What the log cleaner needs of a replica: its last stable offset and aborted
        transactions."""
        replica = self.replicas.get(tp)
        return None if replica is None else (replica.last_stable_offset, replica.txn_index.entries)

    def log_config(self, configs: dict[str, str]) -> LogConfig:
        """A topic's log config: its overrides over the broker's defaults (ValueError if bad)."""
        return LogConfig.from_topic_configs(configs, self.default_log_config())

    def default_log_config(self) -> LogConfig:
        """The broker-level defaults of every topic config (``log.*`` keys and synonyms)."""
        if self._default_log_config is None:
            defaults = {k: d.value for k, d in topic_defaults(self.effective).items()}
            self._default_log_config = LogConfig.from_topic_configs(defaults, validate=False)
        return self._default_log_config

    def reconfigure_topic(self, topic: str) -> None:
        """Apply a topic's new configs (from the metadata image) to its open logs."""
        config = self.log_config(self._topic_configs(topic))
        for (name, _), replica in self.replicas.items():
            if name == topic:
                replica.log.config = config

    def reconfigure_broker(self, effective: BrokerConfig) -> None:
        """Dynamic broker configs changed (``refka.core.dynamic_config``): every open log whose
        topic does not override a key takes the new default at once, as do the cleaner and
        ``log.segment.delete.delay.ms`` (Kafka's ``DynamicLogConfig``, ``LogCleaner``)."""
        if effective == self.effective:
            return
        self.effective = effective
        self._default_log_config = None
        self.logs.cleaner.config = _cleaner_config(effective)
        self.logs.file_delete_delay_ms = effective.log_segment_delete_delay_ms
        configs: dict[str, LogConfig] = {}
        for (topic, _), log in self.logs.logs.items():  # the replicas' logs and any other
            if topic not in configs:
                configs[topic] = self.log_config(self._topic_configs(topic))
            log.config = configs[topic]

    # ------------------------------------------------------------- for the core

    def on_tick(self, now_ms: int) -> None:
        for ctx, response in self.purgatory.expire(now_ms):
            self._reply(ctx, response)
        if now_ms >= self._logs_due_ms:
            self._logs_due_ms = self.logs.on_tick(now_ms)

    def cancel_connection(self, connection_id: int) -> None:
        self.purgatory.cancel_connection(connection_id)

    def next_deadline_ms(self) -> int:
        waiting = self.purgatory.next_deadline_ms()
        return self._logs_due_ms if waiting is None else min(waiting, self._logs_due_ms)

    def close(self) -> None:
        self.logs.close()


def _cleaner_config(config: BrokerConfig) -> CleanerConfig:
    return CleanerConfig(
        enable=config.log_cleaner_enable,
        backoff_ms=config.log_cleaner_backoff_ms,
        dedupe_buffer_size=config.log_cleaner_dedupe_buffer_size,
        io_buffer_load_factor=config.log_cleaner_io_buffer_load_factor,
    )
