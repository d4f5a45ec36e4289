"""The topics as this broker knows them: a view of its metadata image, and the way to change them.

What the Metadata, CreateTopics, DeleteTopics, CreatePartitions, DescribeConfigs, AlterConfigs,
DescribeCluster and InitProducerId handlers see of the broker. The broker never edits cluster
metadata itself (KIP-500): reads come from the ``MetadataImage`` its metadata loader applied,
and changes are forwarded to the controller, whose records then reach the image.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from refka.broker.forwarding import ForwardingManager
from refka.broker.producer_ids import ProducerIdManager
from refka.config import BrokerConfig
from refka.core.context import Deferred, RequestContext
from refka.core.partitions import Partitions
from refka.handlers.topic_names import INTERNAL_TOPICS
from refka.log.config import LogConfig
from refka.metadata.image import BrokerRegistration, MetadataImage, PartitionRegistration
from refka.metadata.records import TOPIC_RESOURCE


@dataclass(frozen=True, slots=True)
class Node:
    """A broker as clients see it: its id, advertised address and rack."""

    node_id: int
    host: str
    port: int
    rack: str | None = None


@dataclass(frozen=True, slots=True)
class TopicView:
    """One topic of the image, in the shape the handlers read."""

    name: str
    topic_id: uuid.UUID
    registrations: Mapping[int, PartitionRegistration]
    configs: Mapping[str, str] = field(default_factory=dict)

    @property
    def partitions(self) -> int:
        return len(self.registrations)

    @property
    def is_internal(self) -> bool:
        return self.name in INTERNAL_TOPICS

    @property
    def leader_epochs(self) -> list[int]:
        return [self.registrations[p].leader_epoch for p in sorted(self.registrations)]


class TopicsView(Mapping[str, TopicView]):
    """The image's topics by name, as ``TopicView``s."""

    def __init__(self, image: MetadataImage) -> None:
        self._image = image

    def __getitem__(self, name: str) -> TopicView:
        topic = self._image.topics_by_name[name]
        configs = self._image.configs.get((TOPIC_RESOURCE, name), {})
        return TopicView(topic.name, topic.topic_id, topic.partitions, dict(configs))

    def __iter__(self) -> Iterator[str]:
        return iter(self._image.topics_by_name)

    def __len__(self) -> int:
        return len(self._image.topics_by_name)


@dataclass(frozen=True, slots=True)
class MetadataView:
    """``cluster_id`` and ``topics`` of the image."""

    cluster_id: str
    topics: TopicsView

    def topic_by_id(self, topic_id: uuid.UUID) -> TopicView | None:
        for view in self.topics.values():
            if view.topic_id == topic_id:
                return view
        return None


class Topics:
    """The image (``image``), this node (``node``), and the operations that go to the controller.

    ``listener`` names this node's first advertised listener: the one a request on an unnamed
    listener ("") is answered for.
    """

    def __init__(
        self,
        config: BrokerConfig,
        node: Node,
        partitions: Partitions,
        image: Callable[[], MetadataImage],
        forwarding: ForwardingManager,
        producer_ids: ProducerIdManager,
        listener: str = "PLAINTEXT",
    ) -> None:
        self.config = config
        self.listener = listener
        self.node = node
        self._partitions = partitions
        self._image = image
        self.forwarding = forwarding
        self.producer_ids = producer_ids

    @property
    def image(self) -> MetadataImage:
        return self._image()

    @property
    def metadata(self) -> MetadataView:
        image = self.image
        return MetadataView(image.cluster_id, TopicsView(image))

    @property
    def cluster_id(self) -> str:
        return self.image.cluster_id

    def log_config(self, configs: Mapping[str, str]) -> LogConfig:
        """The effective log config of a topic with ``configs`` (ValueError if one is bad)."""
        return self._partitions.log_config(dict(configs))

    def alive_brokers(self, listener: str = "") -> list[Node]:
        """Unfenced brokers, by id, with their endpoint of ``listener`` (Metadata,
        DescribeCluster: the listener the request arrived on); a broker without one is left
        out, as Kafka's ``MetadataCache.getAliveBrokerNodes``."""
        name = listener or self.listener
        return [
            _node(b, name)
            for b in sorted(self.image.brokers.values(), key=lambda b: b.broker_id)
            if not b.fenced and b.address(name) is not None
        ]

    def alive_broker_count(self) -> int:
        """Unfenced brokers, whatever their listeners (replication factors are capped by it)."""
        return sum(not b.fenced for b in self.image.brokers.values())

    def broker(self, broker_id: int, listener: str = "") -> Node | None:
        """The broker's endpoint of ``listener``, None if it has none (or is unknown)."""
        name = listener or self.listener
        registration = self.image.brokers.get(broker_id)
        if registration is None or registration.address(name) is None:
            return None
        return _node(registration, name)

    def forward(
        self, ctx: RequestContext, request: Any, merge: Callable[[Any], Any] | None = None
    ) -> Deferred | Any:
        """Send an admin request to the controller; its answer (through ``merge``, if given)
        goes to the client."""
        return self.forwarding.forward(ctx, request, merge)

    def create_in_background(
        self,
        name: str,
        partitions: int,
        replication_factor: int,
        configs: Mapping[str, str],
        now_ms: int,
    ) -> None:
        """Ask the controller to create a topic, answering nobody (auto-creation)."""
        self.forwarding.create_topic(name, partitions, replication_factor, configs, now_ms)


def _node(registration: BrokerRegistration, listener: str) -> Node:
    address = registration.address(listener)
    assert address is not None
    host, port = address
    return Node(registration.broker_id, host, port, registration.rack)
