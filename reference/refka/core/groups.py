"""The group coordinator as the core owns it: ``__consumer_offsets`` and the coordinator's effects.

The coordinator (``refka.group``) is a state machine that returns ``Append`` and ``Reply``
effects; this service carries them out in order, every ``Append`` before any reply (persist,
then acknowledge). It creates ``__consumer_offsets`` (compacted,
``offsets.topic.num.partitions``) on first use and replays it into the coordinator at start-up.
Replies become wire responses through ``responders`` (``refka.handlers.group.RESPONDERS``), given
by the registry so the core does not import the wire layer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from refka.core.context import PENDING, RequestContext
from refka.core.partitions import Partitions
from refka.core.seeded import SeededRandom
from refka.core.topics import Node, Topics
from refka.group import messages as msg
from refka.group.config import GroupConfig
from refka.group.coordinator import GroupCoordinator
from refka.metadata.image import MetadataImage
from refka.protocol.records import iter_batch_records
from refka.replica import FetchIsolation

OFFSETS_TOPIC = "__consumer_offsets"

Responder = Callable[[int, Any], Any]  # (api version, coordinator result) -> response entity


class GroupService:
    """The coordinator of this node's groups, with the partitions and topics it writes to."""

    def __init__(
        self,
        coordinator: GroupCoordinator,
        topics: Topics,
        partitions: Partitions,
        reply: Callable[[RequestContext, Any], None],
        responders: Mapping[int, Responder],
    ) -> None:
        self.coordinator = coordinator
        self._topics = topics
        self._partitions = partitions
        self._reply = reply
        self._responders = responders

    @property
    def node(self) -> Node:
        return self._topics.node

    def hosted(self, topic: str, partition: int) -> bool:
        """Whether ``topic``-``partition`` exists on this node (OffsetCommit checks it first)."""
        known = self._topics.image.topics_by_name.get(topic)
        return known is not None and partition in known.partitions

    def run(self, ctx: RequestContext, effects: list[msg.Effect]) -> Any:
        """Append, then answer every other request concerned; our own answer or PENDING."""
        own: Any = PENDING
        for other, response in self._carry_out(effects, ctx.now_ms):
            if other is ctx:
                own = response
            else:
                self._reply(other, response)
        return own

    def on_tick(self, now_ms: int) -> None:
        for ctx, response in self._carry_out(self.coordinator.on_tick(now_ms), now_ms):
            self._reply(ctx, response)

    def next_deadline_ms(self) -> int | None:
        return self.coordinator.next_deadline_ms()

    def coordinator_for(self, group_id: str, now_ms: int) -> Node | None:
        """The broker that leads the group's ``__consumer_offsets`` partition, or None while
        there is none (the topic is asked for on first use, as Kafka creates it)."""
        topic = self._topics.image.topics_by_name.get(OFFSETS_TOPIC)
        if topic is None:
            self.ensure_offsets_topic(now_ms)
            return None
        registration = topic.partitions.get(self.coordinator.partition_for(group_id))
        if registration is None or registration.leader < 0:
            return None
        return self._topics.broker(registration.leader)

    def ensure_offsets_topic(self, now_ms: int) -> None:
        """Ask the controller for ``__consumer_offsets`` (compacted,
        ``offsets.topic.num.partitions``) on first use. Its replication factor is
        ``offsets.topic.replication.factor``, capped at the live brokers so that a single
        node can have one (Kafka would wait for enough brokers)."""
        if OFFSETS_TOPIC in self._topics.image.topics_by_name:
            return
        config = self._topics.config
        configs = {"cleanup.policy": "compact"}
        segment_bytes = getattr(config, "offsets_topic_segment_bytes", None)
        if segment_bytes is not None:  # below segment.bytes' 1 MiB floor: Kafka's internal key
            key = "segment.bytes" if segment_bytes >= 1 << 20 else "internal.segment.bytes"
            configs[key] = str(segment_bytes)
        partitions = self.coordinator.config.offsets_topic_num_partitions
        alive = max(1, len(self._topics.alive_brokers()))
        factor = min(config.offsets_topic_replication_factor, alive)
        self._topics.create_in_background(OFFSETS_TOPIC, partitions, factor, configs, now_ms)

    def on_metadata(self, image: MetadataImage, now_ms: int) -> None:
        """Coordinate exactly the groups whose offsets partition this broker leads: load a
        partition on becoming its leader, forget it on losing leadership (Kafka's
        ``onElection`` / ``onResignation``)."""
        topic = image.topics_by_name.get(OFFSETS_TOPIC)
        me = self._topics.node.node_id
        led = frozenset(p for p, r in (topic.partitions.items() if topic else ()) if r.leader == me)
        owned = self.coordinator.owned_partitions or frozenset()
        for partition in sorted(owned - led):
            self.coordinator.unload(partition)
        for partition in sorted(led - owned):
            self.coordinator.load(partition, _read_partition(self._partitions, partition))
        self.coordinator.owned_partitions = led

    def _carry_out(
        self, effects: list[msg.Effect], now_ms: int
    ) -> Iterator[tuple[RequestContext, Any]]:
        for effect in effects:
            if isinstance(effect, msg.Append):
                self._partitions.append_internal(
                    OFFSETS_TOPIC, effect.partition, effect.records, now_ms
                )
            else:
                ctx: RequestContext = effect.request  # type: ignore[assignment]
                yield ctx, self._responders[ctx.api_key](ctx.api_version, effect.result)


def make_group_service(
    topics: Topics,
    partitions: Partitions,
    random: SeededRandom,
    reply: Callable[[RequestContext, Any], None],
    responders: Mapping[int, Responder],
) -> GroupService:
    """The group coordinator of this node, with ``__consumer_offsets`` replayed into it."""
    config = topics.config
    values = {
        name: getattr(config, name)
        for name in GroupConfig.__dataclass_fields__
        if hasattr(config, name)
    }
    coordinator = GroupCoordinator(
        GroupConfig(**values), SeededRandom(random.next_u64()), owned_partitions=frozenset()
    )
    return GroupService(coordinator, topics, partitions, reply, responders)


def _read_partition(partitions: Partitions, partition: int) -> Iterator[Any]:
    replica = partitions.replica(OFFSETS_TOPIC, partition)
    if replica is None:
        return
    offset = replica.log_start_offset
    while offset < replica.log_end_offset:
        result = replica.read_records(offset, 1 << 20, True, FetchIsolation.LOG_END)
        data = partitions.read_bytes(result.slices)
        if not data:
            return
        for header, records in iter_batch_records(data):
            offset = header.next_offset
            yield from records
