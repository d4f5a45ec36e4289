"""The controller's settings, under Kafka's config keys (``broker.session.timeout.ms`` ...).

``ControllerSettings.from_config`` reads them from a ``BrokerConfig`` where it has them and
keeps Kafka's defaults for the rest, so the controller needs no change to the broker's config.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from refka.bugs import Bug
from refka.config import BrokerConfig
from refka.core.topic_defaults import TopicDefault, topic_defaults
from refka.security.delegation_token import TokenSettings

_KEYS = {
    "node.id": "node_id",
    "broker.session.timeout.ms": "broker_session_timeout_ms",
    "broker.heartbeat.interval.ms": "broker_heartbeat_interval_ms",
    "num.partitions": "num_partitions",
    "default.replication.factor": "default_replication_factor",
    "min.insync.replicas": "min_insync_replicas",
    "unclean.leader.election.enable": "unclean_leader_election_enable",
    "unclean.leader.election.interval.ms": "unclean_leader_election_interval_ms",
    "delete.topic.enable": "delete_topic_enable",
    "offsets.topic.num.partitions": "offsets_topic_num_partitions",
    "offsets.topic.replication.factor": "offsets_topic_replication_factor",
    "offsets.topic.segment.bytes": "offsets_topic_segment_bytes",
    "auto.leader.rebalance.enable": "auto_leader_rebalance_enable",
    "leader.imbalance.check.interval.seconds": "leader_imbalance_check_interval_seconds",
    "metadata.log.max.record.bytes.between.snapshots": (
        "metadata_log_max_record_bytes_between_snapshots"
    ),
}


@dataclass(frozen=True, slots=True)
class ControllerSettings:
    """The broker keys the controller reads, with Kafka's defaults."""

    node_id: int = 1
    cluster_id: str = ""
    broker_session_timeout_ms: int = 9000
    broker_heartbeat_interval_ms: int = 2000
    num_partitions: int = 1
    default_replication_factor: int = 1
    min_insync_replicas: int = 1
    unclean_leader_election_enable: bool = False
    unclean_leader_election_interval_ms: int = 300_000
    delete_topic_enable: bool = True
    offsets_topic_num_partitions: int = 50
    offsets_topic_replication_factor: int = 3
    offsets_topic_segment_bytes: int = 100 * 1024 * 1024
    auto_leader_rebalance_enable: bool = True
    leader_imbalance_check_interval_seconds: int = 300
    metadata_log_max_record_bytes_between_snapshots: int = 20 * 1024 * 1024
    eligible_leader_replicas_enabled: bool = True  # KIP-966, on for new clusters since 4.1
    # KIP-903: AlterPartition's broker epochs must match the registrations
    fence_stale_broker_epochs: bool = True
    # every topic config's default from the broker keys (CreateTopics lists them, v5+)
    topic_config_defaults: Mapping[str, TopicDefault] = field(
        default_factory=lambda: topic_defaults(BrokerConfig())
    )
    delegation_tokens: TokenSettings = field(default_factory=TokenSettings)  # delegation.token.*

    @classmethod
    def from_config(cls, config: Any, cluster_id: str) -> ControllerSettings:
        """The settings a ``BrokerConfig`` (or any object with Kafka's snake_case names) sets."""
        values = {attr: getattr(config, attr) for attr in _KEYS.values() if hasattr(config, attr)}
        if isinstance(config, BrokerConfig):
            values["topic_config_defaults"] = topic_defaults(config)
            values["delegation_tokens"] = TokenSettings.from_config(config)
        bugs: frozenset[Bug] = getattr(config, "bugs", frozenset())
        # bug switch: Bug.UNCLEAN_ELECTION (spec/bugs/Election_UncleanElection.cfg)
        if Bug.UNCLEAN_ELECTION in bugs:
            values["unclean_leader_election_enable"] = True
        # bug switch: Bug.LAST_REPLICA_STANDING (spec/bugs/Election_LastReplicaStanding.cfg)
        if Bug.LAST_REPLICA_STANDING in bugs:
            values["eligible_leader_replicas_enabled"] = False
        # bug switch: Bug.STALE_BROKER_EPOCH (spec/bugs/Election_StaleBrokerEpoch.cfg)
        if Bug.STALE_BROKER_EPOCH in bugs:
            values["fence_stale_broker_epochs"] = False
        return cls(cluster_id=cluster_id, **values)
