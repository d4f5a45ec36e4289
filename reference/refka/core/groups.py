"""The group coordinator as the core owns it: ``__consumer_offsets`` and the coordinator's effects.

The coordinator (``refka.group``) is a state machine that returns ``Append`` and ``Reply``
effects; this service carries them out in order. Every ``Append`` is a leader append to the
group's ``__consumer_offsets`` partition, and the replies of the same call wait in the purgatory
until the high watermark passes what was appended (``coordinator_write``): a commit is answered
once the ISR holds it, so it survives a change of leader. ``__consumer_offsets`` is created
(compacted, ``offsets.topic.num.partitions``, ``offsets.topic.replication.factor``) on first use.

This broker coordinates exactly the groups whose offsets partition it leads (Kafka's
``onElection`` / ``onResignation``): a newly led partition is replayed in bounded steps
(``coordinator_loader``), answering COORDINATOR_LOAD_IN_PROGRESS meanwhile; the groups of a
partition it does not lead get NOT_COORDINATOR. Replies become wire responses through
``responders`` (``refka.handlers.group.RESPONDERS``), given by the registry so the core does not
import the wire layer.

The coordinator is built on first use (a group request, or leading an offsets partition): until
then a ``DeferredCoordinator`` keeps the one timer an empty coordinator has, so the broker's
start does not import the group machinery (issue 15) and its deadlines are the same.

Each write's outcome goes back to the coordinator (``complete_write``) before its answers: an
OffsetCommit's offsets become visible to OffsetFetch only once replicated, and are dropped if
the write fails (Kafka's pending offset commits). Known limit: the group metadata (members,
generation, DescribeGroups) changes at once, and a failed write of it is not rolled back until
the partition is loaded again (on the next change of leader).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kio.schema.errors import ErrorCode

from refka.bugs import Bug
from refka.core.context import PENDING, RequestContext
from refka.core.coordinator_loader import CoordinatorLoader, PartitionLoad
from refka.core.coordinator_write import DelayedCoordinatorWrite, coordinator_error
from refka.core.partitions import Partitions
from refka.core.seeded import SeededRandom
from refka.core.topics import Node, Topics
from refka.group.config import GroupConfig, retention_check
from refka.metadata.image import MetadataImage

if TYPE_CHECKING:
    from refka.core.trace import Tracer
    from refka.group import messages as msg
    from refka.group.coordinator import GroupCoordinator

OFFSETS_TOPIC = "__consumer_offsets"

Responder = Callable[[int, Any], Any]  # (api version, coordinator result) -> response entity
E = ErrorCode


@dataclass(slots=True)
class DeferredCoordinator:
    """A group coordinator not built yet: what it is built from, and the offsets retention
    timer (the only state an empty coordinator changes), handed over when it is built."""

    config: GroupConfig
    seed: int
    node: int
    tracer: Tracer | None = None
    next_retention_check_ms: int | None = None

    def on_tick(self, now_ms: int) -> None:
        """What an empty coordinator's ``on_tick`` does: move the retention timer (a check
        of no offsets expires nothing)."""
        _, self.next_retention_check_ms = retention_check(
            self.next_retention_check_ms, now_ms, self.config.offsets_retention_check_interval_ms
        )

    def build(self) -> GroupCoordinator:
        from refka.group.coordinator import GroupCoordinator

        coordinator = GroupCoordinator(
            self.config,
            SeededRandom(self.seed),
            owned_partitions=frozenset(),
            tracer=self.tracer,
            node=self.node,
        )
        coordinator.next_retention_check_ms = self.next_retention_check_ms
        return coordinator


class GroupService:
    """The coordinator of this node's groups, with the partitions and topics it writes to."""

    def __init__(
        self,
        coordinator: GroupCoordinator | DeferredCoordinator,
        topics: Topics,
        partitions: Partitions,
        reply: Callable[[RequestContext, Any], None],
        responders: Mapping[int, Responder],
        commit_timeout_ms: int = 5_000,
        load_buffer_size: int = 5 << 20,
    ) -> None:
        self._coordinator = coordinator
        self._topics = topics
        self._partitions = partitions
        self._reply = reply
        self._responders = responders
        self._commit_timeout_ms = commit_timeout_ms
        self.loader = CoordinatorLoader(
            lambda p: partitions.replica(OFFSETS_TOPIC, p), partitions.read_bytes, load_buffer_size
        )

    @property
    def coordinator(self) -> GroupCoordinator:
        """The coordinator, built on first use."""
        if isinstance(self._coordinator, DeferredCoordinator):
            self._coordinator = self._coordinator.build()
        return self._coordinator

    @property
    def node(self) -> Node:
        return self._topics.node

    @property
    def image(self) -> MetadataImage:
        """The metadata image (KIP-848 heartbeats resolve subscriptions against it)."""
        return self._topics.image

    def hosted(self, topic: str, partition: int) -> bool:
        """Whether ``topic``-``partition`` exists on this node (OffsetCommit checks it first)."""
        known = self._topics.image.topics_by_name.get(topic)
        return known is not None and partition in known.partitions

    def topic_id(self, name: str) -> uuid.UUID | None:
        """The id of topic ``name`` (OffsetCommit and OffsetFetch v10 name topics by id)."""
        known = self._topics.image.topics_by_name.get(name)
        return None if known is None else known.topic_id

    def topic_name(self, topic_id: uuid.UUID | None) -> str | None:
        """The name of the topic with id ``topic_id``, None if there is none."""
        known = self._topics.image.topics_by_id.get(topic_id)  # type: ignore[arg-type]
        return None if known is None else known.name

    def run(self, ctx: RequestContext, effects: list[msg.Effect]) -> Any:
        """Append, then answer every request concerned once the appends are replicated; our
        own answer now if it need not wait, else PENDING."""
        own: Any = PENDING
        for other, response in self._carry_out(effects, ctx.now_ms):
            if other is ctx:
                own = response
            else:
                self._reply(other, response)
        return own

    def on_tick(self, now_ms: int) -> None:
        """Load a chunk of every loading partition, then fire the coordinator's timers."""
        for load in self.loader.step(now_ms):
            self._loaded(load)
        if isinstance(self._coordinator, DeferredCoordinator):
            self._coordinator.on_tick(now_ms)
            return
        for ctx, response in self._carry_out(self._coordinator.on_tick(now_ms), now_ms):
            self._reply(ctx, response)

    def next_deadline_ms(self) -> int | None:
        coordinator = self._coordinator
        own = (
            coordinator.next_retention_check_ms
            if isinstance(coordinator, DeferredCoordinator)
            else coordinator.next_deadline_ms()
        )
        deadlines = (own, self.loader.next_deadline_ms())
        return min((d for d in deadlines if d is not None), default=None)

    def coordinator_for(self, group_id: str, now_ms: int, listener: str = "") -> Node | None:
        """The broker that leads the group's ``__consumer_offsets`` partition (its endpoint of
        ``listener``), or None while there is none (the topic is asked for on first use, as
        Kafka creates it)."""
        topic = self._topics.image.topics_by_name.get(OFFSETS_TOPIC)
        if topic is None:
            self.ensure_offsets_topic(now_ms)
            return None
        registration = topic.partitions.get(self.coordinator.partition_for(group_id))
        if registration is None or registration.leader < 0:
            return None
        return self._topics.broker(registration.leader, listener)

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
        alive = max(1, self._topics.alive_broker_count())
        factor = min(config.offsets_topic_replication_factor, alive)
        self._topics.create_in_background(OFFSETS_TOPIC, partitions, factor, configs, now_ms)

    def on_metadata(self, image: MetadataImage, now_ms: int) -> None:
        """Coordinate exactly the groups whose offsets partition this broker leads: start
        loading a partition on becoming its leader (``onElection``), forget it on losing
        leadership (``onResignation``; waiting members are told NOT_COORDINATOR)."""
        topic = image.topics_by_name.get(OFFSETS_TOPIC)
        me = self._topics.node.node_id
        led = frozenset(p for p, r in (topic.partitions.items() if topic else ()) if r.leader == me)
        if isinstance(self._coordinator, DeferredCoordinator) and not led:
            return  # owns nothing, loads nothing, leads nothing: nothing changes
        coordinator = self.coordinator
        owned = coordinator.owned_partitions or frozenset()
        for partition in sorted((owned | self.loader.loading) - led):
            self.loader.cancel(partition)
            for effect in coordinator.unload(partition):
                self._answer(effect, E.none)
        for partition in sorted(led - owned - self.loader.loading):
            self.loader.start(partition, now_ms)
        coordinator.owned_partitions = owned & led
        coordinator.loading_partitions = self.loader.loading
        for load in self.loader.step(now_ms, chunks=0):  # nothing to replay: active at once
            self._loaded(load)

    def _loaded(self, load: PartitionLoad) -> None:
        coordinator, partition = self.coordinator, load.partition
        coordinator.load(partition, load.records)
        for producer_id, records in load.open_txns.items():
            coordinator.load_open_txn(partition, producer_id, records)
        coordinator.owned_partitions = (coordinator.owned_partitions or frozenset()) | {partition}
        coordinator.loading_partitions = self.loader.loading

    def on_txn_marker(self, topic: str, partition: int, producer_id: int, commit: bool) -> None:
        """A transaction's marker was written to ``topic``-``partition``: on an offsets
        partition, its transactional offsets are committed or dropped."""
        if topic == OFFSETS_TOPIC and not isinstance(self._coordinator, DeferredCoordinator):
            self._coordinator.complete_txn(partition, producer_id, commit)

    def _carry_out(
        self, effects: list[msg.Effect], now_ms: int
    ) -> Iterator[tuple[RequestContext, Any]]:
        """Append every ``Append``; the replies answer now if nothing needs replicating (or an
        append failed: with the mapped error), else when the ``DelayedCoordinatorWrite``
        completes. The coordinator learns each write's outcome first (``complete_write``):
        the offsets it commits become visible only once replicated."""
        from refka.group import messages as msg

        required: dict[tuple[str, int], int] = {}
        error = E.none
        replies: list[msg.Reply] = []
        writes: list[int] = []
        for effect in effects:
            if isinstance(effect, msg.Append):
                writes.append(effect.write_id)
                result = self._partitions.append_as_coordinator(
                    OFFSETS_TOPIC, effect.partition, effect.records, now_ms
                )
                if result.error_code != E.none:
                    error = error if error != E.none else result.error_code
                else:
                    required[(OFFSETS_TOPIC, effect.partition)] = result.last_offset + 1
            else:
                replies.append(effect)
        if error != E.none or not required or not replies:
            self._complete_writes(writes, error)
            for reply in replies:
                yield self._response(reply, coordinator_error(error))
            return
        done: list[ErrorCode] = []
        write = DelayedCoordinatorWrite(
            now_ms + self._commit_timeout_ms,
            required,
            lambda tp: self._partitions.replica(*tp),
            done.append,
        )
        if write.try_complete(now_ms, force=False) is not None:
            self._complete_writes(writes, done[0])
            for reply in replies:
                yield self._response(reply, done[0])
            return
        write.complete = lambda failed: self._answer_all(writes, replies, failed)
        self._partitions.watch(write)

    def _complete_writes(self, writes: list[int], error: ErrorCode) -> None:
        for write_id in writes:
            self.coordinator.complete_write(write_id, error)

    def _answer_all(self, writes: list[int], replies: list[msg.Reply], error: ErrorCode) -> None:
        self._complete_writes(writes, error)
        for reply in replies:
            self._answer(reply, error)

    def _answer(self, reply: msg.Effect, error: ErrorCode) -> None:
        from refka.group import messages as msg

        assert isinstance(reply, msg.Reply)
        self._reply(*self._response(reply, error))

    def _response(self, reply: msg.Reply, error: ErrorCode) -> tuple[RequestContext, Any]:
        from refka.group import messages as msg

        ctx: RequestContext = reply.request  # type: ignore[assignment]
        result = reply.result if error == E.none else msg.with_error(reply.result, error)
        return ctx, self._responders[ctx.api_key](ctx.api_version, result)


def make_group_service(
    topics: Topics,
    partitions: Partitions,
    random: SeededRandom,
    reply: Callable[[RequestContext, Any], None],
    responders: Mapping[int, Responder],
    tracer: Tracer | None = None,
) -> GroupService:
    """The group coordinator of this node; it coordinates the partitions it will lead."""
    config = topics.config
    values = {
        name: getattr(config, name)
        for name in GroupConfig.__dataclass_fields__
        if hasattr(config, name)
    }
    # bug switch: Bug.ZOMBIE_COMMIT (spec/bugs/ConsumerGroup_ZombieCommit.cfg)
    values["fence_offset_commits"] = Bug.ZOMBIE_COMMIT not in getattr(config, "bugs", ())
    # the seed is drawn now, as it was when the coordinator was built here
    coordinator = DeferredCoordinator(
        GroupConfig(**values), random.next_u64(), config.node_id, tracer
    )
    return GroupService(
        coordinator,
        topics,
        partitions,
        reply,
        responders,
        config.offsets_commit_timeout_ms,
        config.offsets_load_buffer_size,
    )
