"""The cluster metadata one node keeps: topics, their ids, partitions, configs, leader epochs.

In Kafka the KRaft controller owns this state and brokers replay it from the metadata log
(KIP-500). A single refka node is its own controller: the state lives in memory and is written
through to ``refka-metadata.json`` in the log dir before a change is acknowledged (persist
before acting). ``meta.properties`` carries the cluster id and node id as Kafka's does.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field

from refka.log.storage import Storage, write_atomically

METADATA_FILE = "refka-metadata.json"
META_PROPERTIES = "meta.properties"


@dataclass(slots=True)
class TopicMetadata:
    name: str
    topic_id: uuid.UUID
    partitions: int
    configs: dict[str, str] = field(default_factory=dict)
    leader_epochs: list[int] = field(default_factory=list)
    is_internal: bool = False

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "topic_id": str(self.topic_id),
            "partitions": self.partitions,
            "configs": self.configs,
            "leader_epochs": self.leader_epochs,
            "is_internal": self.is_internal,
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> TopicMetadata:
        partitions = int(data["partitions"])  # type: ignore[call-overload]
        epochs = list(data.get("leader_epochs") or [0] * partitions)  # type: ignore[call-overload]
        return cls(
            name=str(data["name"]),
            topic_id=uuid.UUID(str(data["topic_id"])),
            partitions=partitions,
            configs=dict(data.get("configs") or {}),  # type: ignore[call-overload]
            leader_epochs=[int(e) for e in epochs],
            is_internal=bool(data.get("is_internal", False)),
        )


@dataclass(slots=True)
class ClusterMetadata:
    """Topics by name and by id, and the next producer id to hand out."""

    cluster_id: str
    topics: dict[str, TopicMetadata] = field(default_factory=dict)
    next_producer_id: int = 0

    def topic_by_id(self, topic_id: uuid.UUID) -> TopicMetadata | None:
        for topic in self.topics.values():
            if topic.topic_id == topic_id:
                return topic
        return None


def load_metadata(storage: Storage, node_id: int, new_cluster_id: str) -> ClusterMetadata:
    """Read the node's metadata, or start a new cluster with ``new_cluster_id``."""
    cluster_id = _read_cluster_id(storage) or new_cluster_id
    metadata = ClusterMetadata(cluster_id)
    if storage.exists(METADATA_FILE):
        raw = storage.read(METADATA_FILE, 0, storage.size(METADATA_FILE))
        data = json.loads(raw)
        metadata.next_producer_id = int(data.get("next_producer_id", 0))
        for entry in data.get("topics", []):
            topic = TopicMetadata.from_json(entry)
            metadata.topics[topic.name] = topic
    if not storage.exists(META_PROPERTIES):
        text = f"#refka\nversion=1\nnode.id={node_id}\ncluster.id={cluster_id}\n"
        write_atomically(storage, META_PROPERTIES, text.encode())
    return metadata


def save_metadata(storage: Storage, metadata: ClusterMetadata) -> None:
    data = {
        "cluster_id": metadata.cluster_id,
        "next_producer_id": metadata.next_producer_id,
        "topics": [t.to_json() for t in metadata.topics.values()],
    }
    write_atomically(storage, METADATA_FILE, json.dumps(data, indent=1).encode())


def _read_cluster_id(storage: Storage) -> str | None:
    if not storage.exists(META_PROPERTIES):
        return None
    text = storage.read(META_PROPERTIES, 0, storage.size(META_PROPERTIES)).decode()
    for line in text.splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "cluster.id":
            return value.strip()
    return None
