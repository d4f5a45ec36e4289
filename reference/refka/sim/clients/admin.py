"""An admin client for the simulator: CreateTopics v7 and ListOffsets v7.

Results are kept, not recorded in the history: ``created[topic]`` is the CreateTopics error
code (``ErrorCode.none`` or TOPIC_ALREADY_EXISTS mean the topic is there), ``offsets[(topic,
partition, timestamp)]`` the offset ListOffsets answered (-1 latest, -2 earliest).
A request that fails without an answer is sent again after ``retry.backoff.ms``.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from functools import partial

from kio.schema.create_topics.v7.request import (
    CreatableTopic,
    CreatableTopicConfig,
    CreateTopicsRequest,
)
from kio.schema.errors import ErrorCode
from kio.schema.list_offsets.v7.request import (
    ListOffsetsPartition,
    ListOffsetsRequest,
    ListOffsetsTopic,
)
from kio.schema.types import BrokerId, TopicName
from kio.static.primitive import i8, i16, i32, i32Timedelta, i64

from refka.core.effects import Effect
from refka.core.network_client import ClientResponse
from refka.sim.clients.node import ClientNode
from refka.sim.history import History

LATEST = -1
EARLIEST = -2


class SimAdmin(ClientNode):
    """Creates topics and asks partition leaders for offsets."""

    kind = "admin"

    def __init__(
        self, client_id: int, brokers: Sequence[int], topic: str, history: History, **options: int
    ) -> None:
        super().__init__(client_id, brokers, topic, history, **options)
        self.created: dict[str, ErrorCode] = {}
        self.offsets: dict[tuple[str, int, int], int] = {}
        self._to_create: list[CreatableTopic] = []
        self._to_list: list[tuple[int, int]] = []  # (partition, timestamp)
        self._retry_ms = 0
        self.metadata_needed = False

    def create_topic(
        self,
        now_ms: int,
        partitions: int = 1,
        replication_factor: int = 3,
        configs: Mapping[str, str] | None = None,
    ) -> list[Effect]:
        """CreateTopics for this client's topic (e.g. ``{"min.insync.replicas": "2"}``)."""
        topic = CreatableTopic(
            name=TopicName(self.topic),
            num_partitions=i32(partitions),
            replication_factor=i16(replication_factor),
            assignments=(),
            configs=tuple(
                CreatableTopicConfig(name=k, value=v) for k, v in (configs or {}).items()
            ),
        )
        self._to_create.append(topic)
        return self._step(now_ms)

    def list_offsets(self, now_ms: int, partition: int, timestamp: int = LATEST) -> list[Effect]:
        """ListOffsets to the partition's leader (metadata first)."""
        self._to_list.append((partition, timestamp))
        self.metadata_needed = True
        return self._step(now_ms)

    def _pump(self, now_ms: int) -> None:
        self._refresh_metadata(now_ms)
        if now_ms < self._retry_ms:
            return
        if self._to_create:
            broker = self._ready_broker(now_ms)
            if broker is not None:
                topics, self._to_create = tuple(self._to_create), []
                timeout = i32Timedelta.parse(datetime.timedelta(milliseconds=30_000))
                create = CreateTopicsRequest(topics=topics, timeout=timeout, validate_only=False)
                self._send(broker, create, now_ms, partial(self._on_created, topics))
        for partition, timestamp in list(self._to_list):
            leader = self.leaders.get(partition)
            if leader is None or not self.network.ready(leader.node, now_ms):
                continue
            self._to_list.remove((partition, timestamp))
            asked = ListOffsetsPartition(
                partition_index=i32(partition),
                current_leader_epoch=i32(leader.epoch),
                timestamp=i64(timestamp),
            )
            topic = ListOffsetsTopic(name=TopicName(self.topic), partitions=(asked,))
            request = ListOffsetsRequest(
                replica_id=BrokerId(-1), isolation_level=i8(0), topics=(topic,)
            )
            self._send(leader.node, request, now_ms, partial(self._on_listed, partition, timestamp))

    def _timers(self) -> list[int]:
        return [self._retry_ms] if self._to_create or self._to_list else []

    def _on_created(self, topics: tuple[CreatableTopic, ...], done: ClientResponse) -> None:
        if done.response is None:
            self._to_create += topics
            self._retry_ms = done.now_ms + self.retry_backoff_ms
            return
        for result in done.response.topics:
            self.created[str(result.name)] = result.error_code

    def _on_listed(self, partition: int, timestamp: int, done: ClientResponse) -> None:
        answer = None
        if done.response is not None:
            answers = [p for t in done.response.topics for p in t.partitions]
            answer = answers[0] if len(answers) == 1 else None
        if answer is None or answer.error_code != ErrorCode.none:
            self._to_list.append((partition, timestamp))
            self._leader_lost(partition)
            self._retry_ms = done.now_ms + self.retry_backoff_ms
            return
        self.offsets[(self.topic, partition, timestamp)] = int(answer.offset)
