"""What a cluster of peer brokers says about itself: its brokers and each partition's replicas.

Metadata v7 (leader epochs, KIP-320) and CreateTopics v4 over a plain socket with kio
entities, as `readiness` does for one broker. A cluster handle asks a running broker; the
answer is that broker's view of the KRaft metadata log, which can lag the controller's by a
heartbeat, so callers poll with a deadline.
"""

from __future__ import annotations

import datetime
import socket
from dataclasses import dataclass

from kio.schema.create_topics.v4.request import (
    CreatableTopic,
    CreatableTopicConfig,
    CreateTopicsRequest,
)
from kio.schema.create_topics.v4.response import CreateTopicsResponse
from kio.schema.errors import ErrorCode
from kio.schema.metadata.v7.request import MetadataRequest, MetadataRequestTopic
from kio.schema.metadata.v7.response import MetadataResponse
from kio.schema.types import TopicName
from kio.static.primitive import i16, i32, i32Timedelta

from refka.peers.readiness import read_response, request_frame

CLIENT_ID = "refka-peer-cluster"


@dataclass(frozen=True, slots=True)
class PartitionState:
    """One partition as Metadata reports it (leader -1: none)."""

    leader: int
    leader_epoch: int
    replicas: tuple[int, ...]
    isr: tuple[int, ...]
    offline: tuple[int, ...]

    @property
    def fully_replicated(self) -> bool:
        return self.leader >= 0 and set(self.isr) == set(self.replicas)


@dataclass(frozen=True, slots=True)
class ClusterView:
    """One broker's Metadata answer: live brokers (id -> host:port) and the asked topics."""

    brokers: dict[int, str]
    controller_id: int
    partitions: dict[tuple[str, int], PartitionState]
    topic_errors: dict[str, ErrorCode]


def _exchange(address: str, request: object, response_type: type, timeout_s: float) -> object:
    host, _, port = address.rpartition(":")
    with socket.create_connection((host, int(port)), timeout=timeout_s) as sock:
        sock.sendall(request_frame(request, CLIENT_ID))
        return read_response(sock, response_type)


def describe(address: str, topics: tuple[str, ...] = (), timeout_s: float = 2.0) -> ClusterView:
    """Metadata v7 from the broker at `address` for `topics` (no auto-creation)."""
    request = MetadataRequest(
        topics=tuple(MetadataRequestTopic(name=TopicName(t)) for t in topics),
        allow_auto_topic_creation=False,
    )
    answer = _exchange(address, request, MetadataResponse, timeout_s)
    assert isinstance(answer, MetadataResponse)
    brokers = {int(b.node_id): f"{b.host}:{b.port}" for b in answer.brokers}
    partitions = {
        (str(t.name), int(p.partition_index)): PartitionState(
            int(p.leader_id),
            int(p.leader_epoch),
            tuple(int(r) for r in p.replica_nodes),
            tuple(int(r) for r in p.isr_nodes),
            tuple(int(r) for r in p.offline_replicas),
        )
        for t in answer.topics
        for p in t.partitions
    }
    errors = {str(t.name): t.error_code for t in answer.topics}
    return ClusterView(brokers, int(answer.controller_id), partitions, errors)


def create_topic(
    address: str,
    name: str,
    partitions: int,
    replication_factor: int,
    configs: dict[str, str] | None = None,
    timeout_s: float = 15.0,
) -> ErrorCode:
    """CreateTopics v4 through the broker at `address`; the topic's error code."""
    topic = CreatableTopic(
        name=TopicName(name),
        num_partitions=i32(partitions),
        replication_factor=i16(replication_factor),
        assignments=(),
        configs=tuple(CreatableTopicConfig(name=k, value=v) for k, v in (configs or {}).items()),
    )
    request = CreateTopicsRequest(
        topics=(topic,),
        timeout=i32Timedelta.parse(datetime.timedelta(seconds=timeout_s)),
        validate_only=False,
    )
    answer = _exchange(address, request, CreateTopicsResponse, timeout_s + 2.0)
    assert isinstance(answer, CreateTopicsResponse)
    return answer.topics[0].error_code
