"""Replicas over in-memory storage, and a tiny in-process cluster: each node's ReplicaManager,
a fake controller that applies AlterPartition and publishes metadata deltas, and a fake network
that carries the fetchers' requests (encoded and decoded by kio, as on the wire) to the
leader's ReplicaManager entry points."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from kio.schema.errors import ErrorCode
from refka.core.context import RequestContext
from refka.core.network_client import ClientResponse, NodeAddress
from refka.core.purgatory import Purgatory
from refka.handlers import offset_for_leader_epoch
from refka.log.config import LogConfig
from refka.log.log_manager import LogManager
from refka.log.partition_log import PartitionLog
from refka.log.storage import MemoryStorage
from refka.protocol import codec
from refka.protocol.records import NewRecord, build_batch
from refka.replica import Replica
from refka.replication.fetcher_config import FetcherConfig
from refka.replication.replica_manager import ReplicaManager, ReplicationConfig

TOPIC = "t"
CONTROLLER_ID = 3000


def client_batch(count: int = 1, value: bytes = b"v", timestamp_ms: int = 0) -> bytes:
    """A producer's batch of ``count`` records (offsets and epoch assigned by the leader)."""
    records = [NewRecord(None, value, (), timestamp_ms) for _ in range(count)]
    return build_batch(records, base_offset=0, partition_leader_epoch=-1)


def make_replica(
    node_id: int = 1, min_isr: int = 1, storage: MemoryStorage | None = None
) -> Replica:
    storage = storage or MemoryStorage()
    log = PartitionLog.open(
        storage, f"{TOPIC}-0", TOPIC, 0, LogConfig(min_insync_replicas=min_isr), 0
    )
    return Replica(log, node_id, 0)


def epochs_of(replica: Replica) -> list[int]:
    """The log as Replication.tla sees it: the leader epoch of every offset, in order."""
    out: list[int] = []
    slices = replica.log.read(replica.log_start_offset, 1 << 30, replica.log_end_offset, True)
    from refka.protocol.batch_header import iter_headers

    for header in iter_headers(replica.log.read_bytes(slices)):
        out.extend([header.partition_leader_epoch] * (header.last_offset_delta + 1))
    return out


# ----------------------------------------------------------------- metadata fakes


@dataclass(frozen=True)
class Registration:
    replicas: tuple[int, ...]
    isr: tuple[int, ...]
    leader: int
    leader_epoch: int = 0
    partition_epoch: int = 0


@dataclass(frozen=True)
class Broker:
    broker_id: int
    broker_epoch: int
    fenced: bool = False
    in_controlled_shutdown: bool = False

    def address(self, listener: str = "PLAINTEXT") -> tuple[str, int]:
        return ("node", 9000 + self.broker_id)


@dataclass(frozen=True)
class Topic:
    name: str
    topic_id: uuid.UUID
    partitions: dict[int, Registration]


@dataclass(frozen=True)
class Image:
    brokers: dict[int, Broker]
    topics_by_name: dict[str, Topic]


@dataclass(frozen=True)
class Delta:
    changed_partitions: dict[tuple[str, int], Registration]
    deleted_topics: frozenset[str] = frozenset()


# ----------------------------------------------------------------------- network


@dataclass
class Message:
    source: int
    target: NodeAddress
    request: Any
    on_complete: Callable[[ClientResponse], None]


class FakeClient:
    def __init__(self, cluster: Cluster, node_id: int) -> None:
        self.cluster, self.node_id = cluster, node_id

    def ready(self, node_id: int, now_ms: int) -> bool:
        return True

    def send(self, node: NodeAddress, request: Any, now_ms: int, on_complete: Any) -> bool:
        self.cluster.queue.append(Message(self.node_id, node, request, on_complete))
        return True


def wire(entity: Any) -> Any:
    """Encode and decode, so every request and response is valid on the wire."""
    decoded, _ = codec.decode(type(entity), codec.encode(entity))
    return decoded


@dataclass
class Cluster:
    """Nodes replicating partitions of TOPIC through a fake network and a fake controller."""

    node_ids: tuple[int, ...] = (1, 2, 3)
    partitions: int = 1
    min_isr: int = 1
    lag_ms: int = 30_000
    fetch_version: int = 12
    now_ms: int = 0
    queue: list[Message] = field(default_factory=list)
    down: set[int] = field(default_factory=set)
    switches: dict[str, Any] = field(default_factory=dict)  # ReplicationConfig bug switches
    fetcher_switches: dict[str, Any] = field(default_factory=dict)  # FetcherConfig ones

    def __post_init__(self) -> None:
        self.topic_id = uuid.UUID(int=7)
        self.broker_epochs = {n: 100 + n for n in self.node_ids}
        self.storages = {n: MemoryStorage() for n in self.node_ids}
        self.managers: dict[int, ReplicaManager] = {}
        self.completed: dict[int, list[tuple[RequestContext, object]]] = {}
        for n in self.node_ids:
            self._start(n)
        self.registrations = {
            (TOPIC, p): Registration(self.node_ids, self.node_ids, self.node_ids[0])
            for p in range(self.partitions)
        }
        self.publish(list(self.registrations))

    def _start(self, n: int) -> None:
        config = ReplicationConfig(
            replica_lag_time_max_ms=self.lag_ms,
            fetcher=FetcherConfig(
                replica_fetch_backoff_ms=100,
                fetch_version=self.fetch_version,
                **self.fetcher_switches,
            ),
            **self.switches,
        )
        done = self.completed.setdefault(n, [])
        manager = ReplicaManager(
            n,
            LogManager(self.storages[n], self.now_ms),
            lambda _t: LogConfig(min_insync_replicas=self.min_isr),
            Purgatory(),
            FakeClient(self, n),
            broker_epoch=lambda n=n: self.broker_epochs[n],  # type: ignore[misc]
            controller=lambda: NodeAddress(CONTROLLER_ID, "controller", 9093),
            config=config,
        )
        manager.completed = done
        self.managers[n] = manager

    def restart(self, n: int, clean: bool = True) -> None:
        """Node ``n`` stops (clean: HW checkpoint, then the logs close, as a broker's shutdown)
        and starts again on its storage; it learns its roles at the next ``publish``."""
        old = self.managers[n]
        if clean:
            old.checkpoint_high_watermarks()
            old.logs.close()
        self._start(n)

    # -------------------------------------------------------------- metadata

    def image(self) -> Image:
        topic = Topic(TOPIC, self.topic_id, {p: r for (_, p), r in self.registrations.items()})
        brokers = {n: Broker(n, self.broker_epochs[n]) for n in self.node_ids}
        return Image(brokers, {TOPIC: topic})

    def publish(self, tps: list[tuple[str, int]], nodes: list[int] | None = None) -> None:
        image = self.image()
        delta = Delta({tp: self.registrations[tp] for tp in tps})
        for n in nodes if nodes is not None else self.node_ids:
            if n not in self.down:
                self.managers[n].apply_delta(image, delta, n, self.now_ms)

    def elect(self, leader: int, partition: int = 0, isr: tuple[int, ...] | None = None) -> None:
        """ElectLeader: a new leader epoch, published to every live node."""
        tp = (TOPIC, partition)
        reg = self.registrations[tp]
        self.registrations[tp] = replace(
            reg,
            leader=leader,
            isr=reg.isr if isr is None else isr,
            leader_epoch=reg.leader_epoch + 1,
            partition_epoch=reg.partition_epoch + 1,
        )
        self.publish([tp])

    # --------------------------------------------------------------- driving

    def replica(self, n: int, partition: int = 0) -> Replica:
        found = self.managers[n].replica(TOPIC, partition)
        assert found is not None
        return found

    def leader_of(self, partition: int = 0) -> int:
        return self.registrations[(TOPIC, partition)].leader

    def produce(self, count: int = 1, partition: int = 0, acks: int = -1) -> Any:
        leader = self.managers[self.leader_of(partition)]
        return leader.append_records(TOPIC, partition, client_batch(count), acks, self.now_ms)

    def step(self) -> int:
        """Every live node polls; every queued message is delivered. Returns how many."""
        for n in self.node_ids:
            if n not in self.down:
                self.managers[n].poll(self.now_ms)
        messages, self.queue = self.queue, []
        for message in messages:
            self._deliver(message)
        return len(messages)

    def run(self, rounds: int = 20) -> None:
        for _ in range(rounds):
            self.step()

    def tick(self, ms: int) -> None:
        self.now_ms += ms
        for n in self.node_ids:
            if n not in self.down:
                self.managers[n].on_tick(self.now_ms)

    def _deliver(self, message: Message) -> None:
        target = message.target.node_id
        key = message.request.__api_key__
        if message.source in self.down or (target != CONTROLLER_ID and target in self.down):
            message.on_complete(ClientResponse(target, key, None, disconnected=True))
            return
        request = wire(message.request)
        if key == 56:
            response = self._alter_partition(request)
        else:
            response = self._serve(self.managers[target], message.source, request)
        message.on_complete(ClientResponse(target, key, wire(response)))

    def _serve(self, manager: ReplicaManager, source: int, request: Any) -> Any:
        key, version = request.__api_key__, request.__version__
        if key == 23:
            ctx = RequestContext(0, 0, key, version, "fetcher", self.now_ms, 0)
            return offset_for_leader_epoch.handle(manager, ctx, request)
        if key == 2:
            return _list_offsets(manager, request, version)
        assert key == 1
        return _fetch(manager, request, version, self.now_ms)

    def _alter_partition(self, request: Any) -> Any:
        """The controller's HandleAlterPartition: INVALID_UPDATE_VERSION on a stale partition
        epoch, FENCED_LEADER_EPOCH on a stale leader epoch, else a new partition epoch."""
        m = codec.response_module(56, request.__version__)
        answers = []
        changed = []
        for topic in request.topics:
            for p in topic.partitions:
                tp = (TOPIC, p.partition_index)
                reg = self.registrations[tp]
                error = ErrorCode.none
                if p.leader_epoch != reg.leader_epoch:
                    error = ErrorCode.fenced_leader_epoch
                elif p.partition_epoch != reg.partition_epoch:
                    error = ErrorCode.invalid_update_version
                else:
                    isr = tuple(b.broker_id for b in p.new_isr_with_epochs)
                    reg = self.registrations[tp] = replace(
                        reg, isr=isr, partition_epoch=reg.partition_epoch + 1
                    )
                    changed.append(tp)
                answers.append(
                    m.PartitionData(
                        partition_index=p.partition_index,
                        error_code=error,
                        leader_id=reg.leader,
                        leader_epoch=reg.leader_epoch,
                        isr=reg.isr,
                        partition_epoch=reg.partition_epoch,
                    )
                )
        return m.AlterPartitionResponse(
            throttle_time=codec.millis(0),
            error_code=ErrorCode.none,
            topics=(m.TopicData(topic_id=self.topic_id, partitions=tuple(answers)),),
        )


def _list_offsets(manager: ReplicaManager, request: Any, version: int) -> Any:
    m = codec.response_module(2, version)
    topics = []
    for topic in request.topics:
        parts = []
        for p in topic.partitions:
            replica = manager.replica(topic.name, p.partition_index)
            error = ErrorCode.none if replica is not None else ErrorCode.not_leader_or_follower
            offset = -1
            if replica is not None:  # LATEST (-1): the HW; EARLIEST: the log start offset
                offset = replica.high_watermark if p.timestamp == -1 else replica.log_start_offset
            parts.append(
                codec.build(
                    m.ListOffsetsPartitionResponse,
                    partition_index=p.partition_index,
                    error_code=error,
                    timestamp=-1,
                    offset=offset,
                    leader_epoch=-1,
                )
            )
        topics.append(
            codec.build(m.ListOffsetsTopicResponse, name=topic.name, partitions=tuple(parts))
        )
    return codec.build(m.ListOffsetsResponse, throttle_time=codec.millis(0), topics=tuple(topics))


def _fetch(manager: ReplicaManager, request: Any, version: int, now_ms: int) -> Any:
    """The leader's side of a follower Fetch, as the Fetch handler will call it."""
    m = codec.response_module(1, version)
    replica_id = getattr(request, "replica_id", None)
    broker_epoch = -1
    if replica_id is None:  # v15+: ReplicaState
        replica_id = request.replica_state.replica_id
        broker_epoch = request.replica_state.replica_epoch
    topics = []
    for topic in request.topics:
        name = getattr(topic, "topic", TOPIC)  # v13+ names topics by id; the cluster has one
        parts = []
        for p in topic.partitions:
            read = manager.fetch_for_follower(
                name,
                p.partition,
                replica_id,
                p.current_leader_epoch,
                p.fetch_offset,
                p.last_fetched_epoch,
                p.partition_max_bytes,
                True,
                now_ms,
                broker_epoch,
                p.log_start_offset,
            )
            replica = manager.replica(name, p.partition)
            records = b""
            if read.read is not None and read.read.slices and replica is not None:
                records = replica.log.read_bytes(read.read.slices)
            diverging = m.EpochEndOffset()
            if read.diverging_epoch is not None:
                diverging = m.EpochEndOffset(
                    epoch=read.diverging_epoch[0], end_offset=read.diverging_epoch[1]
                )
            parts.append(
                codec.build(
                    m.PartitionData,
                    partition_index=p.partition,
                    error_code=read.error_code,
                    high_watermark=-1 if read.read is None else read.read.high_watermark,
                    last_stable_offset=-1 if read.read is None else read.read.last_stable_offset,
                    log_start_offset=-1 if read.read is None else read.read.log_start_offset,
                    diverging_epoch=diverging,
                    aborted_transactions=None,
                    preferred_read_replica=-1,
                    records=records,
                )
            )
        topics.append(
            codec.build(
                m.FetchableTopicResponse,
                topic=name,
                topic_id=getattr(topic, "topic_id", None),
                partitions=tuple(parts),
            )
        )
    return codec.build(
        m.FetchResponse,
        throttle_time=codec.millis(0),
        error_code=ErrorCode.none,
        session_id=0,
        responses=tuple(topics),
    )
