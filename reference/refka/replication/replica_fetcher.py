"""Kafka's ``ReplicaFetcherThread`` as a sans-I/O state machine: one per leader node.

Each partition this node follows from that leader has a fetch state:

    TRUNCATING --OffsetsForLeaderEpoch answer agrees on an epoch--> FETCHING
    TRUNCATING --answer names an epoch we lack--> TRUNCATING (truncated a step, ask again)
    FETCHING --diverging_epoch in a Fetch answer--> TRUNCATING-like truncation, then FETCHING
    FETCHING --OFFSET_OUT_OF_RANGE--> RESETTING --leader's log start ahead of us--> FETCHING
                                      RESETTING --otherwise--> TRUNCATING
    any --FENCED_LEADER_EPOCH--> removed (a newer BecomeFollower adds it back)

Truncation is KIP-279's loop (Replication.tla ``Kip279Offset``, the ``BecomeFollower``
truncation): ask the leader for the end offset of our latest epoch; if its answer names an epoch
we hold, truncate to min(its end offset, ours for that epoch, our LEO) and start fetching; if it
names an epoch we lack, truncate to the end of our largest epoch below it and ask again. One
round only (KIP-101 as first shipped) lets logs diverge after fast leader changes
(``spec/bugs/Replication_FastLeaderChange.cfg``).

Fetches (FollowerFetch) carry our replica id (v15+: ReplicaState with the broker epoch) and our
``current_leader_epoch`` (KIP-320); their records are appended unchanged
(``Replica.append_as_follower``) and the follower's HW becomes min(leader HW, own LEO).
Errors back off ``replica.fetch.backoff.ms``. One request is in flight at a time.

Bug switches (``refka.bugs``) bring back the older protocols (``FetcherConfig.truncation``,
``fence_epochs``): truncate to the own high watermark (before KIP-101), one
OffsetsForLeaderEpoch round (KIP-101 before KIP-279), no ``current_leader_epoch`` (before
KIP-320). The three send no ``last_fetched_epoch`` (it came with Kafka 2.7), so the leader
never answers a diverging epoch.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NamedTuple

from kio.schema.errors import ErrorCode

from refka.core.network_client import Client, ClientResponse, NodeAddress
from refka.log.leader_epoch_cache import UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET
from refka.protocol import codec
from refka.replica import Replica
from refka.replication.fetcher_config import FetcherConfig, TruncationMode

TopicPartition = tuple[str, int]

FETCH_KEY = 1
LIST_OFFSETS_KEY = 2
OFFSET_FOR_LEADER_EPOCH_KEY = 23
EARLIEST_TIMESTAMP = -2
LATEST_TIMESTAMP = -1


class FetchState(enum.Enum):
    TRUNCATING = "Truncating"
    FETCHING = "Fetching"
    RESETTING = "Resetting"  # OFFSET_OUT_OF_RANGE: asking the leader for its log start


@dataclass(slots=True)
class PartitionFetchState:
    topic_id: uuid.UUID | None
    leader_epoch: int
    state: FetchState = FetchState.TRUNCATING
    fetch_offset: int = 0
    delayed_until_ms: int = 0
    reset_to_latest: bool = False  # truncating to the HW: ahead of the leader, ask its latest
    traced: bool = False  # BecomeFollower emitted for this epoch (only with a tracer)


ReplicaLookup = Callable[[TopicPartition], Replica | None]


class _Wanted(NamedTuple):
    """What a Fetch asks of one partition."""

    tp: TopicPartition
    topic_id: uuid.UUID | None
    current_leader_epoch: int
    fetch_offset: int
    last_fetched_epoch: int
    log_start_offset: int
    high_watermark: int  # v18 (KIP-1166)


class ReplicaFetcher:
    """Fetches every partition this node follows from one leader node."""

    def __init__(
        self,
        leader: NodeAddress,
        local_id: int,
        broker_epoch: Callable[[], int],
        replicas: ReplicaLookup,
        client: Client,
        config: FetcherConfig | None = None,
    ) -> None:
        self.leader = leader
        self.local_id = local_id
        self.broker_epoch = broker_epoch
        self.replicas = replicas
        self.client = client
        self.config = config or FetcherConfig()
        self.partitions: dict[TopicPartition, PartitionFetchState] = {}
        self.in_flight = False
        self._last_poll_ms = 0
        self._sent: dict[TopicPartition, tuple[int, int]] = {}  # tp -> (epoch, fetch offset)
        self._last_fetch: tuple[Any, Any] | None = None  # (what it asked, the FetchRequest)

    # ------------------------------------------------------------ partitions

    def add_partition(
        self, tp: TopicPartition, topic_id: uuid.UUID | None, leader_epoch: int
    ) -> None:
        """BecomeFollower: (re)start ``tp`` at ``leader_epoch`` by truncating first (KIP-279)."""
        state = self.partitions[tp] = PartitionFetchState(topic_id, leader_epoch)
        replica = self.replicas(tp)
        if self.config.truncation is TruncationMode.HIGH_WATERMARK and replica is not None:
            self._truncate_to_high_watermark(state, replica)

    # bug switch: Bug.TRUNCATE_TO_HIGH_WATERMARK (spec/bugs/Replication_TruncateToHighWatermark.cfg)
    def _truncate_to_high_watermark(self, state: PartitionFetchState, replica: Replica) -> None:
        """Before KIP-101 (Replication.tla TruncationMode "HighWatermark"): a follower that
        starts following (or restarts) drops everything above its own high watermark."""
        replica.truncate_to(min(replica.high_watermark, replica.log_end_offset))
        state.state = FetchState.FETCHING
        state.fetch_offset = replica.log_end_offset
        if replica.tracer is not None:  # the truncation is the spec's BecomeFollower
            self._trace_truncated(state, replica)

    def _epoch_field(self, state: PartitionFetchState) -> int:
        """``current_leader_epoch`` (KIP-320), or -1 (none), as followers sent before it."""
        # bug switch: Bug.STALE_EPOCH_FETCH (spec/bugs/Replication_StaleEpochFetch.cfg)
        return state.leader_epoch if self.config.fence_epochs else -1

    def remove_partition(self, tp: TopicPartition) -> None:
        self.partitions.pop(tp, None)

    def state_of(self, tp: TopicPartition) -> FetchState | None:
        found = self.partitions.get(tp)
        return None if found is None else found.state

    # ---------------------------------------------------------------- polling

    def poll(self, now_ms: int) -> None:
        """Send the next request if none is in flight: truncation first, then resets, then
        a Fetch for every partition ready to fetch."""
        self._last_poll_ms = now_ms
        if self.in_flight or not self.client.ready(self.leader.node_id, now_ms):
            return
        for state, build in (
            (FetchState.TRUNCATING, self._offsets_for_leader_epoch_request),
            (FetchState.RESETTING, self._list_offsets_request),
            (FetchState.FETCHING, self._fetch_request),
        ):
            ready = self._ready(state, now_ms)
            if ready:
                request, on_response = build(ready)
                self._send(request, on_response, now_ms)
                return

    def next_deadline_ms(self) -> int | None:
        """When a delayed partition may be tried again (None if nothing waits on time)."""
        if self.in_flight:
            return None
        delays = [p.delayed_until_ms for p in self.partitions.values()]
        return min((d for d in delays if d > self._last_poll_ms), default=None)

    def _ready(self, state: FetchState, now_ms: int) -> list[TopicPartition]:
        return [
            tp
            for tp, p in self.partitions.items()
            if p.state is state and p.delayed_until_ms <= now_ms and self.replicas(tp) is not None
        ]

    def _send(self, request: Any, on_response: Callable[[Any, int], None], now_ms: int) -> None:
        def complete(response: ClientResponse) -> None:
            self.in_flight = False
            if response.disconnected or response.timed_out or response.response is None:
                self._delay_all(now_ms)
                return
            on_response(response.response, now_ms)

        self.in_flight = self.client.send(self.leader, request, now_ms, complete)

    def _delay(self, tp: TopicPartition, now_ms: int) -> None:
        found = self.partitions.get(tp)
        if found is not None:
            found.delayed_until_ms = now_ms + self.config.replica_fetch_backoff_ms

    def _delay_all(self, now_ms: int) -> None:
        for tp in self._sent:
            self._delay(tp, now_ms)
        self._sent = {}

    def _current(
        self, tp: TopicPartition, state: FetchState
    ) -> tuple[PartitionFetchState, Replica] | None:
        """The partition's state and replica if the answer still applies to them (the
        partition was not removed or restarted at another epoch while the request flew)."""
        found = self.partitions.get(tp)
        replica = self.replicas(tp)
        sent = self._sent.get(tp)
        if found is None or replica is None or found.state is not state or sent is None:
            return None
        if sent[0] != found.leader_epoch:
            return None
        return found, replica

    # --------------------------------------------------- OffsetsForLeaderEpoch

    def _offsets_for_leader_epoch_request(
        self, tps: list[TopicPartition]
    ) -> tuple[Any, Callable[[Any, int], None]]:
        v = self.config.offset_for_leader_epoch_version
        m = codec.request_module(OFFSET_FOR_LEADER_EPOCH_KEY, v)
        by_topic: dict[str, list[Any]] = {}
        self._sent = {}
        for tp in tps:
            replica = self.replicas(tp)
            assert replica is not None
            state = self.partitions[tp]
            latest = replica.epoch_cache.latest_epoch
            self._sent[tp] = (state.leader_epoch, -1)
            by_topic.setdefault(tp[0], []).append(
                codec.build(
                    m.OffsetForLeaderPartition,
                    partition=tp[1],
                    current_leader_epoch=self._epoch_field(state),
                    leader_epoch=UNDEFINED_EPOCH if latest is None else latest,
                )
            )
        request = codec.build(
            m.OffsetForLeaderEpochRequest,
            replica_id=self.local_id,
            topics=tuple(
                codec.build(m.OffsetForLeaderTopic, topic=t, partitions=tuple(ps))
                for t, ps in by_topic.items()
            ),
        )
        return request, self._on_offsets_for_leader_epoch

    def _on_offsets_for_leader_epoch(self, body: Any, now_ms: int) -> None:
        for topic in body.topics:
            for answer in topic.partitions:
                tp = (topic.topic, answer.partition)
                current = self._current(tp, FetchState.TRUNCATING)
                if current is None:
                    continue
                state, replica = current
                if answer.error_code == ErrorCode.fenced_leader_epoch:
                    self.remove_partition(tp)
                elif answer.error_code != ErrorCode.none:
                    self._delay(tp, now_ms)
                else:
                    self._truncate(state, replica, answer.leader_epoch, answer.end_offset)
        self._sent = {}

    def _truncate(
        self, state: PartitionFetchState, replica: Replica, leader_epoch: int, end_offset: int
    ) -> None:
        """One step of KIP-279's loop (Kip279Offset): truncate, and either fetch or ask again.
        Under the bug switch, KIP-101's single round (Kip101Offset)."""
        if self.config.truncation is TruncationMode.KIP101:
            target, done = kip101_truncation_offset(replica, end_offset), True
        else:
            target, done = truncation_offset(replica, leader_epoch, end_offset)
        replica.truncate_to(target)
        if done:
            state.state = FetchState.FETCHING
            state.fetch_offset = replica.log_end_offset
            if replica.tracer is not None:
                self._trace_truncated(state, replica)

    @staticmethod
    def _trace_truncated(state: PartitionFetchState, replica: Replica) -> None:
        """The first completed truncation of an epoch ends BecomeFollower; a later one (a
        diverging epoch in a Fetch answer) is Election.tla's truncating FollowerFetch."""
        assert replica.tracer is not None
        if state.traced:
            replica.trace_follower_fetch(replica.log_end_offset, ())
            return
        from refka.core import trace  # only a traced core loads the events (issue 15)

        state.traced = True
        replica.tracer(
            trace.BecomeFollower(
                replica.replica_id,
                replica.topic,
                replica.partition,
                replica.leader_id,
                replica.leader_epoch,
                replica.log_end_offset,
                replica.high_watermark,
            )
        )

    # -------------------------------------------------------------- ListOffsets

    def _list_offsets_request(
        self, tps: list[TopicPartition]
    ) -> tuple[Any, Callable[[Any, int], None]]:
        m = codec.request_module(LIST_OFFSETS_KEY, self.config.list_offsets_version)
        by_topic: dict[str, list[Any]] = {}
        self._sent = {}
        for tp in tps:
            state = self.partitions[tp]
            self._sent[tp] = (state.leader_epoch, state.fetch_offset)
            by_topic.setdefault(tp[0], []).append(
                codec.build(
                    m.ListOffsetsPartition,
                    partition_index=tp[1],
                    current_leader_epoch=self._epoch_field(state),
                    timestamp=LATEST_TIMESTAMP if state.reset_to_latest else EARLIEST_TIMESTAMP,
                    max_num_offsets=1,
                )
            )
        request = codec.build(
            m.ListOffsetsRequest,
            replica_id=self.local_id,
            isolation_level=0,
            topics=tuple(
                codec.build(m.ListOffsetsTopic, name=t, partitions=tuple(ps))
                for t, ps in by_topic.items()
            ),
        )
        return request, self._on_list_offsets

    def _on_list_offsets(self, body: Any, now_ms: int) -> None:
        """OFFSET_OUT_OF_RANGE: behind the leader's log start, start there; otherwise we are
        ahead of the leader, which the epoch loop resolves."""
        for topic in body.topics:
            for answer in topic.partitions:
                tp = (topic.name, answer.partition_index)
                current = self._current(tp, FetchState.RESETTING)
                if current is None:
                    continue
                state, replica = current
                if answer.error_code == ErrorCode.fenced_leader_epoch:
                    self.remove_partition(tp)
                elif answer.error_code != ErrorCode.none:
                    self._delay(tp, now_ms)
                elif state.reset_to_latest:  # truncating to the HW, ahead of the leader
                    state.reset_to_latest = False
                    replica.truncate_to(min(answer.offset, replica.log_end_offset))
                    state.fetch_offset = replica.log_end_offset
                    state.state = FetchState.FETCHING
                elif state.fetch_offset < answer.offset:
                    replica.truncate_fully_and_start_at(answer.offset)
                    state.fetch_offset = answer.offset
                    state.state = FetchState.FETCHING
                elif self.config.truncation is TruncationMode.HIGH_WATERMARK:
                    state.reset_to_latest = True  # ask the leader where its log ends
                else:
                    state.state = FetchState.TRUNCATING
        self._sent = {}

    # -------------------------------------------------------------------- Fetch

    def _fetch_request(self, tps: list[TopicPartition]) -> tuple[Any, Callable[[Any, int], None]]:
        """The Fetch of ``tps``: the previous request again when each partition asks the same
        (a caught-up follower of idle partitions sends the same Fetch every
        ``replica.fetch.wait.max.ms``), so that its encoded body is reused."""
        self._sent = {}
        wanted = []
        sends_last_fetched_epoch = self.config.sends_last_fetched_epoch
        for tp in tps:
            state = self.partitions[tp]
            replica = self.replicas(tp)
            assert replica is not None
            state.fetch_offset = replica.log_end_offset
            latest = replica.epoch_cache.latest_epoch
            if latest is None or not sends_last_fetched_epoch:
                latest = UNDEFINED_EPOCH
            self._sent[tp] = (state.leader_epoch, state.fetch_offset)
            wanted.append(
                _Wanted(
                    tp,
                    state.topic_id,
                    self._epoch_field(state),
                    state.fetch_offset,
                    latest,
                    replica.log_start_offset,
                    replica.high_watermark,
                )
            )
        key = (tuple(wanted), self.broker_epoch())
        if self._last_fetch is None or self._last_fetch[0] != key:
            self._last_fetch = (key, self._build_fetch(*key))
        return self._last_fetch[1], self._on_fetch

    def _build_fetch(self, wanted: tuple[_Wanted, ...], broker_epoch: int) -> Any:
        """The FetchRequest, its body assembled from remembered pieces (``codec.fill_arrays``):
        after a produce, only the partitions whose offsets moved are encoded again."""
        c = self.config
        by_topic: dict[tuple[str, uuid.UUID | None], list[_Wanted]] = {}
        first_ids: dict[str, uuid.UUID | None] = {}
        for w in wanted:  # a topic's partitions together, under its first partition's id
            topic_id = first_ids.setdefault(w.tp[0], w.topic_id)
            by_topic.setdefault((w.tp[0], topic_id), []).append(w)
        topics = tuple(by_topic)
        common = (c.fetch_version, c.replica_fetch_max_bytes)
        request = _fetch_entity(
            c,
            self.local_id,
            broker_epoch,
            tuple(tuple(_fetch_partition(*common, w) for w in ws) for ws in by_topic.values()),
            topics,
        )
        codec.remember(
            request,
            codec.fill_arrays(
                _fetch_skeleton(c, self.local_id, broker_epoch, topics),
                [codec.encode(_stand_in(c.fetch_version, i)) for i in range(len(topics))],
                [[_fetch_partition_bytes(*common, w) for w in ws] for ws in by_topic.values()],
                codec.is_flexible(FETCH_KEY, c.fetch_version),
            ),
        )
        return request

    def _on_fetch(self, body: Any, now_ms: int) -> None:
        if body.error_code != ErrorCode.none:
            self._delay_all(now_ms)
            return
        names = {p.topic_id: tp[0] for tp, p in self.partitions.items()}
        for topic in body.responses:
            name = getattr(topic, "topic", None) or names.get(getattr(topic, "topic_id", None))
            for answer in topic.partitions:
                tp = (str(name), answer.partition_index)
                current = self._current(tp, FetchState.FETCHING)
                if current is None or self._sent[tp][1] != current[0].fetch_offset:
                    continue
                self._apply_fetched(tp, current[0], current[1], answer, now_ms)
        self._sent = {}

    def _apply_fetched(
        self,
        tp: TopicPartition,
        state: PartitionFetchState,
        replica: Replica,
        answer: Any,
        now_ms: int,
    ) -> None:
        error = answer.error_code
        if error == ErrorCode.none:
            diverging = getattr(answer, "diverging_epoch", None)
            if diverging is not None and diverging.epoch >= 0:
                self._truncate(state, replica, diverging.epoch, diverging.end_offset)
                if state.state is FetchState.TRUNCATING:
                    return
            elif answer.records:
                try:
                    replica.append_as_follower(answer.records, now_ms)
                except ValueError:
                    self._delay(tp, now_ms)
                    return
            replica.update_high_watermark_from_leader(answer.high_watermark)
            replica.follow_log_start_offset(answer.log_start_offset)
            state.fetch_offset = replica.log_end_offset
        elif error == ErrorCode.offset_out_of_range:
            state.state = FetchState.RESETTING
        elif error == ErrorCode.fenced_leader_epoch:
            self.remove_partition(tp)
        else:  # UNKNOWN_LEADER_EPOCH, NOT_LEADER_OR_FOLLOWER, UNKNOWN_TOPIC_OR_PARTITION ...
            self._delay(tp, now_ms)


def truncation_offset(replica: Replica, leader_epoch: int, end_offset: int) -> tuple[int, bool]:
    """Where to truncate on the leader's (epoch, end offset) answer, and whether truncation is
    complete (Kafka's ``getOffsetTruncationState``; Replication.tla ``Kip279Offset``)."""
    leo = replica.log_end_offset
    if end_offset == UNDEFINED_EPOCH_OFFSET:  # the leader knows no epoch <= ours
        return min(replica.high_watermark, leo), True
    if leader_epoch == UNDEFINED_EPOCH:
        return min(end_offset, leo), True
    follower_epoch, follower_end = replica.end_offset_for_epoch(leader_epoch)
    if follower_epoch == UNDEFINED_EPOCH:  # every epoch we hold is larger: cut there
        return min(end_offset, leo), True
    if follower_epoch != leader_epoch:  # we lack the leader's epoch: cut a step, ask again
        return min(follower_end, leo), False
    return min(follower_end, end_offset, leo), True


def kip101_truncation_offset(replica: Replica, end_offset: int) -> int:
    """KIP-101 as first shipped (Replication.tla ``Kip101Offset``): the leader's end offset for
    our latest epoch, whatever epoch it names; our HW when it knows none (Kafka 0.11)."""
    # bug switch: Bug.FAST_LEADER_CHANGE (spec/bugs/Replication_FastLeaderChange.cfg)
    leo = replica.log_end_offset
    if end_offset == UNDEFINED_EPOCH_OFFSET:
        return min(replica.high_watermark, leo)
    return min(end_offset, leo)


def _fetch_entity(
    c: FetcherConfig,
    local_id: int,
    broker_epoch: int,
    partitions: tuple[tuple[Any, ...], ...],
    topics: tuple[tuple[str, uuid.UUID | None], ...],
) -> Any:
    """A follower's FetchRequest: topic ``i`` asks for ``partitions[i]``."""
    m = codec.request_module(FETCH_KEY, c.fetch_version)
    return codec.build(
        m.FetchRequest,
        replica_id=local_id,
        replica_state=_replica_state(m, local_id, broker_epoch),
        max_wait=codec.millis(c.replica_fetch_wait_max_ms),
        min_bytes=c.replica_fetch_min_bytes,
        max_bytes=c.replica_fetch_response_max_bytes,
        isolation_level=0,
        session_id=0,
        session_epoch=-1,
        topics=tuple(
            codec.build(m.FetchTopic, topic=t, topic_id=topic_id, partitions=ps)
            for (t, topic_id), ps in zip(topics, partitions, strict=True)
        ),
        forgotten_topics_data=(),
        rack_id="",
    )


@lru_cache(maxsize=256)
def _fetch_skeleton(
    c: FetcherConfig,
    local_id: int,
    broker_epoch: int,
    topics: tuple[tuple[str, uuid.UUID | None], ...],
) -> bytes:
    """The request with stand-in ``i`` as topic ``i``'s only partition."""
    stand_ins = tuple((_stand_in(c.fetch_version, i),) for i in range(len(topics)))
    return codec.encode(_fetch_entity(c, local_id, broker_epoch, stand_ins, topics))


@lru_cache(maxsize=64)
def _stand_in(version: int, index: int) -> Any:
    """A partition no follower asks for: its fetch offset spells "refka" and the index."""
    m = codec.request_module(FETCH_KEY, version)
    return codec.build(
        m.FetchPartition,
        partition=-1,
        current_leader_epoch=-1,
        fetch_offset=_STAND_IN_OFFSET + index,
        last_fetched_epoch=-1,
        log_start_offset=-1,
        partition_max_bytes=-1,
    )


_STAND_IN_OFFSET = int.from_bytes(b"refka\x00\x00\x00", "big")


@lru_cache(maxsize=4096)
def _fetch_partition(version: int, max_bytes: int, w: _Wanted) -> Any:
    m = codec.request_module(FETCH_KEY, version)
    return codec.build(
        m.FetchPartition,
        partition=w.tp[1],
        current_leader_epoch=w.current_leader_epoch,
        fetch_offset=w.fetch_offset,
        last_fetched_epoch=w.last_fetched_epoch,
        log_start_offset=w.log_start_offset,
        partition_max_bytes=max_bytes,
        high_watermark=w.high_watermark,
    )


@lru_cache(maxsize=4096)
def _fetch_partition_bytes(version: int, max_bytes: int, w: _Wanted) -> bytes:
    return codec.encode(_fetch_partition(version, max_bytes, w))


def _replica_state(m: Any, replica_id: int, broker_epoch: int) -> Any:
    cls = getattr(m, "ReplicaState", None)
    return None if cls is None else cls(replica_id=replica_id, replica_epoch=broker_epoch)
