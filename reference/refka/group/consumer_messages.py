"""Version-agnostic requests and results of ConsumerGroupHeartbeat and ConsumerGroupDescribe
(KIP-848), and the view of the topics the coordinator reads subscriptions against."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from kio.schema.errors import ErrorCode

from refka.group.consumer_member import TopicPartitions


class TopicsView(Protocol):
    """The metadata image as the coordinator needs it."""

    def lookup(self, name: str) -> tuple[uuid.UUID, int] | None:
        """The topic's id and partition count, None if there is no such topic."""

    def names(self) -> Iterable[str]:
        """Every topic name (regex subscriptions match against them)."""


@dataclass(frozen=True, slots=True)
class ConsumerHeartbeatRequest:
    group_id: str
    member_id: str
    member_epoch: int
    instance_id: str | None = None
    rack_id: str | None = None
    rebalance_timeout_ms: int = -1
    subscribed_topic_names: tuple[str, ...] | None = None
    subscribed_topic_regex: str | None = None
    server_assignor: str | None = None
    owned: TopicPartitions | None = None  # None: unchanged since the last heartbeat
    client_id: str = ""
    client_host: str = ""
    coordinator_generates_id: bool = False  # v0: an empty member id at epoch 0 gets one


@dataclass(frozen=True, slots=True)
class ConsumerHeartbeatResult:
    error: ErrorCode
    error_message: str | None = None
    member_id: str | None = None
    member_epoch: int = -1
    heartbeat_interval_ms: int = 0
    assignment: TopicPartitions | None = None  # None: unchanged


@dataclass(frozen=True, slots=True)
class DescribedConsumerMember:
    member_id: str
    instance_id: str | None
    rack_id: str | None
    member_epoch: int
    client_id: str
    client_host: str
    subscribed_topic_names: tuple[str, ...]
    subscribed_topic_regex: str | None
    assignment: TopicPartitions
    target_assignment: TopicPartitions
    classic: bool = False  # a classic-protocol member (ConsumerGroupDescribe v1 MemberType 0)


@dataclass(frozen=True, slots=True)
class DescribedConsumerGroup:
    group_id: str
    error: ErrorCode
    error_message: str | None = None
    state: str = "Dead"
    group_epoch: int = -1
    assignment_epoch: int = -1
    assignor_name: str = ""
    members: tuple[DescribedConsumerMember, ...] = ()
