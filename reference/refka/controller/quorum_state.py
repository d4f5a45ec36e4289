"""DescribeQuorum (KIP-595, KIP-836, KIP-853) of refka's single-voter quorum.

The controller is the only voter and always the leader at its log's epoch; its log end offset
is the high watermark once a commit is flushed. Brokers that fetch ``__cluster_metadata`` are
the observers (not the broker of a combined node: it is the voter itself), as Kafka's
``LeaderState`` tracks them: each one's fetch offset (the log end offset it reports), the time
of its last fetch and the last time it had caught up with the leader's end. An observer that
has not fetched for 5 minutes is dropped (Kafka's ``OBSERVER_SESSION_TIMEOUT_MS``). Any other
topic or partition gets Kafka's UNKNOWN_TOPIC_OR_PARTITION answer with zeroed fields.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from kio.schema.errors import ErrorCode

from refka.protocol import codec

METADATA_TOPIC = "__cluster_metadata"
OBSERVER_SESSION_TIMEOUT_MS = 300_000
NOT_HOSTED = "This server does not host this topic-partition."
NO_DIRECTORY = uuid.UUID(int=0)  # refka's voters are static (kraft.version 0): no directory id


@dataclass(frozen=True, slots=True)
class ReplicaFetchState:
    """What the leader knows of a fetching replica."""

    log_end_offset: int
    last_fetch_ms: int
    last_caught_up_ms: int


class QuorumState:
    """The observers of the metadata log, updated on each of their fetches."""

    def __init__(self) -> None:
        self.observers: dict[int, ReplicaFetchState] = {}

    def on_fetch(self, replica_id: int, fetch_offset: int, leader_end: int, now_ms: int) -> None:
        if replica_id < 0:
            return
        before = self.observers.get(replica_id)
        caught_up = now_ms if fetch_offset >= leader_end else -1
        if caught_up < 0 and before is not None:
            caught_up = before.last_caught_up_ms
        self.observers[replica_id] = ReplicaFetchState(fetch_offset, now_ms, caught_up)

    def live_observers(self, now_ms: int) -> dict[int, ReplicaFetchState]:
        for replica_id, state in list(self.observers.items()):
            if now_ms - state.last_fetch_ms >= OBSERVER_SESSION_TIMEOUT_MS:
                del self.observers[replica_id]
        return dict(self.observers)


def describe_quorum(
    m: Any,
    request: Any,
    node_id: int,
    epoch: int,
    end: int,
    observers: dict[int, ReplicaFetchState],
    now_ms: int,
) -> Any:
    """The DescribeQuorumResponse (any version, built from module ``m``)."""

    def replica(replica_id: int, state: ReplicaFetchState) -> Any:
        return codec.build(
            m.ReplicaState,
            replica_id=replica_id,
            replica_directory_id=NO_DIRECTORY,
            log_end_offset=state.log_end_offset,
            last_fetch_timestamp=state.last_fetch_ms,
            last_caught_up_timestamp=state.last_caught_up_ms,
        )

    leader = ReplicaFetchState(end, now_ms, now_ms)
    topics = []
    for topic in request.topics:
        parts = []
        for p in topic.partitions:
            known = topic.topic_name == METADATA_TOPIC and p.partition_index == 0
            if not known:
                parts.append(
                    codec.build(
                        m.PartitionData,
                        partition_index=p.partition_index,
                        error_code=ErrorCode.unknown_topic_or_partition,
                        error_message=NOT_HOSTED,
                        leader_id=0,
                        leader_epoch=0,
                        high_watermark=0,
                        current_voters=(),
                        observers=(),
                    )
                )
                continue
            parts.append(
                codec.build(
                    m.PartitionData,
                    partition_index=0,
                    error_code=ErrorCode.none,
                    error_message="",
                    leader_id=node_id,
                    leader_epoch=epoch,
                    high_watermark=end,
                    current_voters=(replica(node_id, leader),),
                    observers=tuple(replica(i, s) for i, s in sorted(observers.items())),
                )
            )
        topics.append(
            codec.build(m.TopicData, topic_name=topic.topic_name, partitions=tuple(parts))
        )
    return codec.build(
        m.DescribeQuorumResponse,
        error_code=ErrorCode.none,
        error_message="",
        topics=tuple(topics),
        nodes=(),
    )
