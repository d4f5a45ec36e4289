"""The few admin calls the fixtures make, as kio entities over a plain socket: create a topic
and wait until every partition has a leader; ask who leads a partition.

No Kafka client library: the base install has none, and a raw socket has no client start-up or
back-off between the broker being ready and the fixture seeing it.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Mapping

from kio.schema.create_topics.v4.request import (
    CreatableTopic,
    CreatableTopicConfig,
    CreateTopicsRequest,
)
from kio.schema.create_topics.v4.response import CreateTopicsResponse
from kio.schema.errors import ErrorCode
from kio.schema.metadata.v7.request import MetadataRequest, MetadataRequestTopic
from kio.schema.metadata.v7.response import MetadataResponse, MetadataResponseTopic
from kio.schema.types import TopicName
from kio.static.primitive import i16, i32

from refka.peers.readiness import read_response, request_frame

READY_TIMEOUT_S = 30.0
POLL_INTERVAL_S = 0.005
NO_LEADER = -1


class TopicNotReady(AssertionError):
    """CreateTopics failed, or a partition had no leader by the deadline."""


def _call(bootstrap: str, request: object, response_type: type, timeout_s: float) -> object:
    """One request to the first reachable ``host:port`` of ``bootstrap``."""
    errors: list[str] = []
    for address in bootstrap.split(","):
        host, port = address.rsplit(":", 1)
        try:
            with socket.create_connection((host, int(port)), timeout=timeout_s) as sock:
                sock.sendall(request_frame(request, client_id="refka-testing"))
                return read_response(sock, response_type)
        except (OSError, ConnectionError) as error:
            errors.append(f"{address}: {error}")
    raise ConnectionError("no broker answered: " + "; ".join(errors))


def topic_metadata(bootstrap: str, topic: str, timeout_s: float = 5.0) -> MetadataResponseTopic:
    """Metadata v7 for one topic, without auto-creating it."""
    request = MetadataRequest(
        topics=(MetadataRequestTopic(name=TopicName(topic)),), allow_auto_topic_creation=False
    )
    response = _call(bootstrap, request, MetadataResponse, timeout_s)
    assert isinstance(response, MetadataResponse)
    for found in response.topics:
        if found.name == topic:
            return found
    raise TopicNotReady(f"metadata for {topic!r} lists no such topic")


def leader_and_epoch(
    bootstrap: str, topic: str, partition: int, timeout_s: float = 5.0
) -> tuple[int, int]:
    """The partition's leader and leader epoch as this broker's Metadata names them
    (``(-1, -1)`` when it names none or does not answer)."""
    try:
        found = topic_metadata(bootstrap, topic, timeout_s)
    except (TopicNotReady, ConnectionError):
        return NO_LEADER, -1
    for p in found.partitions:
        if p.partition_index == partition and p.error_code == ErrorCode.none:
            return int(p.leader_id), int(p.leader_epoch)
    return NO_LEADER, -1


def leader_of(bootstrap: str, topic: str, partition: int) -> int:
    """The node id Metadata names as the partition's leader (``-1`` for none)."""
    return leader_and_epoch(bootstrap, topic, partition)[0]


def wait_topic_ready(bootstrap: str, topic: str, partitions: int, timeout_s: float) -> None:
    """Poll Metadata until all ``partitions`` have a leader."""
    deadline = time.monotonic() + timeout_s
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            found = topic_metadata(bootstrap, topic)
            led = [p for p in found.partitions if p.leader_id != NO_LEADER]
            if found.error_code == ErrorCode.none and len(led) >= partitions:
                return
            last = f"error {found.error_code.name}, {len(led)}/{partitions} partitions led"
        except (TopicNotReady, ConnectionError) as error:
            last = str(error)
        time.sleep(POLL_INTERVAL_S)
    raise TopicNotReady(f"topic {topic!r} not ready in {timeout_s} s: {last}")


def create_topic(
    bootstrap: str,
    name: str,
    partitions: int = 1,
    replication_factor: int = 1,
    configs: Mapping[str, object] | None = None,
    timeout_s: float = READY_TIMEOUT_S,
) -> None:
    """CreateTopics v4, then wait until Metadata shows a leader for every partition.

    A topic that already exists with that many partitions counts as created.
    """
    from refka.testing.process import config_value

    topic = CreatableTopic(
        name=TopicName(name),
        num_partitions=i32(partitions),
        replication_factor=i16(replication_factor),
        assignments=(),
        configs=tuple(
            CreatableTopicConfig(name=k, value=config_value(v)) for k, v in (configs or {}).items()
        ),
    )
    response = _call(bootstrap, CreateTopicsRequest(topics=(topic,)), CreateTopicsResponse, 10.0)
    assert isinstance(response, CreateTopicsResponse)
    for result in response.topics:
        if result.error_code not in (ErrorCode.none, ErrorCode.topic_already_exists):
            raise TopicNotReady(f"CreateTopics {name!r}: {result.error_code.name}")
    wait_topic_ready(bootstrap, name, partitions, timeout_s)
