"""The topics of this node: the metadata it persists and the admin operations that change it.

What the Metadata, CreateTopics, DeleteTopics, CreatePartitions, DescribeConfigs,
DescribeCluster and InitProducerId handlers see of the broker. Each change is written to
``refka-metadata.json`` before the logs are opened or deleted (persist before acting).
"""

from __future__ import annotations

from dataclasses import dataclass

from refka.config import BrokerConfig
from refka.core.metadata import ClusterMetadata, TopicMetadata, save_metadata
from refka.core.partitions import Partitions
from refka.core.seeded import SeededRandom
from refka.log.config import LogConfig
from refka.log.storage import Storage


@dataclass(frozen=True, slots=True)
class Node:
    """This node as clients see it: its id, advertised address and rack."""

    node_id: int
    host: str
    port: int
    rack: str | None = None


class Topics:
    """``metadata`` (topics, ids, cluster id, producer ids) and the operations on it."""

    def __init__(
        self,
        config: BrokerConfig,
        node: Node,
        storage: Storage,
        metadata: ClusterMetadata,
        partitions: Partitions,
        random: SeededRandom,
    ) -> None:
        self.config = config
        self.node = node
        self.metadata = metadata
        self._storage = storage
        self._partitions = partitions
        self._random = random

    @property
    def cluster_id(self) -> str:
        return self.metadata.cluster_id

    def log_config(self, configs: dict[str, str]) -> LogConfig:
        """The effective log config of a topic with ``configs`` (ValueError if one is bad)."""
        return self._partitions.log_config(configs)

    def open_all(self, now_ms: int) -> None:
        """Open the log of every known partition (at start-up)."""
        for topic in self.metadata.topics.values():
            for partition in range(topic.partitions):
                self._partitions.open(topic.name, partition, topic.leader_epochs[partition], now_ms)

    def create_topic(
        self,
        name: str,
        partitions: int,
        configs: dict[str, str],
        now_ms: int,
        internal: bool = False,
    ) -> TopicMetadata:
        """Create a topic (the caller validated it): persist the metadata, then open its logs."""
        self.log_config(configs)  # raises ValueError on a bad config
        topic = TopicMetadata(
            name=name,
            topic_id=self._random.uuid4(),
            partitions=partitions,
            configs=dict(configs),
            leader_epochs=[0] * partitions,
            is_internal=internal,
        )
        self.metadata.topics[name] = topic
        save_metadata(self._storage, self.metadata)
        for partition in range(partitions):
            self._partitions.open(name, partition, 0, now_ms)
        return topic

    def delete_topic(self, name: str, now_ms: int) -> None:
        topic = self.metadata.topics.pop(name)
        save_metadata(self._storage, self.metadata)
        for partition in range(topic.partitions):
            self._partitions.delete(name, partition)

    def add_partitions(self, name: str, total: int, now_ms: int) -> None:
        topic = self.metadata.topics[name]
        first_new = topic.partitions
        topic.partitions = total
        topic.leader_epochs.extend([0] * (total - first_new))
        save_metadata(self._storage, self.metadata)
        for partition in range(first_new, total):
            self._partitions.open(name, partition, 0, now_ms)

    def allocate_producer_id(self) -> int:
        """A producer id never handed out before, on this node, across restarts."""
        producer_id = self.metadata.next_producer_id
        self.metadata.next_producer_id += 1
        save_metadata(self._storage, self.metadata)
        return producer_id
