"""The group coordinator moving between brokers, in one process on the router (fake clock).

A controller (node 0) and three broker cores, each on its own ``MemoryStorage``. The group's
``__consumer_offsets`` partition (one partition, replication factor 3) is led by one broker;
when that broker goes down the controller elects another, which replays the partition in
chunks of ``offsets.load.buffer.size`` bytes, one chunk a tick: until the replay ends it answers
COORDINATOR_LOAD_IN_PROGRESS, while a broker that only follows the partition answers
NOT_COORDINATOR. A commit is answered only once the ISR holds it.
"""

from __future__ import annotations

from typing import Any

from kio.schema.errors import ErrorCode
from refka.broker.meta_properties import format_directory
from refka.config import BrokerConfig
from refka.core.broker import Broker
from refka.core.network_client import NodeAddress
from refka.core.seeded import SeededRandom
from refka.log.storage import MemoryStorage
from refka.node import make_broker, make_controller
from refka.protocol import codec
from refka.sim.router import Router

from conformance.wire import decode_response, encode_request

START_MS = 1_700_000_000_000
CONTROLLER = 0
BROKERS = (1, 2, 3)
GROUP, TOPIC = "g", "t"
OFFSETS = "__consumer_offsets"
COMMON = {
    "broker.heartbeat.interval.ms": "200",
    "broker.session.timeout.ms": "1500",
    "offsets.topic.num.partitions": "1",
    "offsets.topic.replication.factor": "3",
    "offsets.load.buffer.size": "1",  # one batch a chunk: the load takes a tick per commit
    "offsets.commit.timeout.ms": "5000",
}
E = ErrorCode


class Cluster:
    def __init__(self, **configs: str) -> None:
        self.router = Router(START_MS)
        self.storages = {n: MemoryStorage() for n in (CONTROLLER, *BROKERS)}
        controller_config = BrokerConfig.model_validate(
            {"node.id": "0", "process.roles": "controller", "log.dirs": "data", **COMMON}
        )
        controller = make_controller(controller_config, self.storages[0], START_MS, 1)
        cluster_id = format_directory(self.storages[0], 0, SeededRandom(1)).cluster_id
        self.router.add_node(CONTROLLER, controller, self._reader(CONTROLLER))
        self.brokers: dict[int, Broker] = {}
        for n in BROKERS:
            storage = self.storages[n]
            format_directory(storage, n, SeededRandom(n), cluster_id)
            config = BrokerConfig.model_validate(
                {
                    "node.id": str(n),
                    "process.roles": "broker",
                    "log.dirs": "data",
                    "advertised.listeners": f"PLAINTEXT://broker{n}:9092",
                    "controller.quorum.voters": "0@controller:9093",
                    **COMMON,
                    **configs,
                }
            )
            address = NodeAddress(CONTROLLER, "controller", 9093)
            self.brokers[n] = make_broker(config, storage, START_MS, n, controller=address)
            self.router.add_node(n, self.brokers[n], self._reader(n))
        for n in (CONTROLLER, *BROKERS):
            self.router.tick(n)
        self.advance_until(lambda: all(b.ready for b in self.brokers.values()))
        self.correlation_id = 0

    def _reader(self, node: int) -> Any:
        storage = self.storages[node]
        return lambda piece: storage.read(piece.path, piece.position, piece.size)

    # -- time ----------------------------------------------------------------------------

    def advance_until(self, condition: Any, limit_ms: int = 20_000) -> None:
        """Tick the cores in time order (as ``Router.advance``) until ``condition`` holds,
        checking it after every single tick."""
        router = self.router
        deadline_ms = router.now_ms + limit_ms
        while not condition():
            due = [
                (node.wakeup_ms, node_id)
                for node_id, node in router.nodes.items()
                if not node.down and node.wakeup_ms is not None
            ]
            assert due and min(due)[0] <= deadline_ms, "the condition never held"
            at_ms, node_id = min(due)
            router.now_ms = max(router.now_ms, at_ms)
            router.tick(node_id)

    # -- a client ------------------------------------------------------------------------

    def call(
        self, node: int, api_key: int, version: int, conn: int = 100, **fields: Any
    ) -> Any | None:
        """Send one request to ``node`` on connection ``conn + node``; its response, or None
        while it is pending (a connection answers in order: a second one reads past a wait)."""
        self.correlation_id += 1
        connection = conn + node
        request = codec.build(codec.request_class(api_key, version), **fields)
        self.router.client_request(node, connection, encode_request(request, self.correlation_id))
        return self.response(node, api_key, version, conn)

    def response(self, node: int, api_key: int, version: int, conn: int = 100) -> Any | None:
        frames = self.router.client_frames.get((node, conn + node), [])
        if not frames:
            return None
        response, _ = decode_response(frames.pop(0), codec.response_class(api_key, version))
        return response

    def coordinator(self, via: int) -> tuple[int, int]:
        """(error, node id) of FindCoordinator v3 for the group."""
        r = self.call(via, 10, 3, key=GROUP, key_type=0)
        return r.error_code, r.node_id

    def commit(self, node: int, offset: int) -> Any | None:
        m = codec.request_module(8, 8)
        partition = codec.build(
            m.OffsetCommitRequestPartition,
            partition_index=0,
            committed_offset=offset,
            committed_leader_epoch=-1,
            committed_metadata="",
        )
        topic = codec.build(m.OffsetCommitRequestTopic, name=TOPIC, partitions=(partition,))
        return self.call(
            node, 8, 8, group_id=GROUP, generation_id_or_member_epoch=-1, member_id="",
            group_instance_id=None, topics=(topic,),
        )  # fmt: skip

    def fetch(self, node: int, conn: int = 100) -> tuple[int, int]:
        """(group error, committed offset of t-0) by OffsetFetch v8."""
        m = codec.request_module(9, 8)
        wanted = codec.build(m.OffsetFetchRequestTopics, name=TOPIC, partition_indexes=(0,))
        group = codec.build(
            m.OffsetFetchRequestGroup, group_id=GROUP, member_id=None, member_epoch=-1,
            topics=(wanted,),
        )  # fmt: skip
        r = self.call(node, 9, 8, conn, groups=(group,), require_stable=False)
        answered = r.groups[0]
        offset = answered.topics[0].partitions[0].committed_offset if answered.topics else -1
        return answered.error_code, offset

    def create_topic(self) -> None:
        m = codec.request_module(19, 5)
        topic = codec.build(
            m.CreatableTopic, name=TOPIC, num_partitions=1, replication_factor=3,
            assignments=(), configs=(),
        )  # fmt: skip
        r = self.call(1, 19, 5, topics=(topic,), timeout=codec.millis(5000), validate_only=False)
        if r is None:
            self.advance_until(lambda: self.answered(1))
            r = self.response(1, 19, 5)
        assert r.topics[0].error_code == E.none

    def answered(self, node: int) -> bool:
        """A response waits on the test's connection to ``node``."""
        return bool(self.router.client_frames.get((node, 100 + node)))

    def offsets_registration(self) -> Any:
        """``__consumer_offsets-0`` as the controller's image has it (None before creation)."""
        controller = self.router.nodes[CONTROLLER].core
        topic = controller.image.topics_by_name.get(OFFSETS)
        return None if topic is None else topic.partitions[0]

    def offsets_leader(self) -> int:
        registration = self.offsets_registration()
        return -1 if registration is None else registration.leader

    def full_isr(self) -> bool:
        registration = self.offsets_registration()
        return registration is not None and len(registration.isr) == 3


def leading_cluster(**configs: str) -> tuple[Cluster, int]:
    """A cluster with topic ``t`` and the offsets partition led by a broker, ISR full."""
    cluster = Cluster(**configs)
    cluster.create_topic()
    assert cluster.coordinator(1)[0] == E.coordinator_not_available  # asks for the topic
    cluster.advance_until(lambda: cluster.offsets_leader() > 0 and cluster.full_isr())
    error, leader = cluster.coordinator(2)
    assert (error, leader) == (E.none, cluster.offsets_leader())
    cluster.advance_until(lambda: not cluster.brokers[leader].groups.loader.loading)
    return cluster, leader


def test_a_follower_of_the_offsets_partition_answers_not_coordinator() -> None:
    cluster, leader = leading_cluster()
    follower = next(n for n in BROKERS if n != leader)
    assert cluster.fetch(follower) == (E.not_coordinator, -1)
    answer = cluster.commit(follower, 5)
    assert answer is not None
    assert answer.topics[0].partitions[0].error_code == E.not_coordinator
    assert cluster.fetch(leader) == (E.none, -1)


def test_the_new_leader_loads_in_chunks_and_answers_load_in_progress() -> None:
    cluster, leader = leading_cluster()
    for offset in range(1, 6):  # five commits: five batches in __consumer_offsets-0
        answer = cluster.commit(leader, offset)
        if answer is None:  # waits for the followers' next fetch
            cluster.advance_until(lambda: cluster.answered(leader))
            answer = cluster.response(leader, 8, 8)
        assert answer.topics[0].partitions[0].error_code == E.none
    cluster.advance_until(lambda: cluster.brokers[leader].replicas.replica(OFFSETS, 0)
                          .high_watermark == 5)  # fmt: skip

    cluster.router.set_down(leader)
    new = {}

    def loading() -> bool:
        for n, broker in cluster.brokers.items():
            if n != leader and broker.groups.loader.loading:
                new["leader"] = n
                return True
        return False

    cluster.advance_until(loading)
    coordinator = new["leader"]
    follower = next(n for n in BROKERS if n not in (leader, coordinator))
    assert cluster.coordinator(follower) == (E.none, coordinator)
    assert cluster.fetch(coordinator) == (E.coordinator_load_in_progress, -1)
    answer = cluster.commit(coordinator, 99)
    assert answer.topics[0].partitions[0].error_code == E.coordinator_load_in_progress
    assert cluster.fetch(follower) == (E.not_coordinator, -1)

    ticks = 0
    while cluster.brokers[coordinator].groups.loader.loading:
        cluster.router.tick(coordinator)
        ticks += 1
    assert ticks == 5  # one batch (one commit) a tick
    assert cluster.fetch(coordinator) == (E.none, 5)


def test_a_commit_is_answered_once_the_isr_holds_it() -> None:
    """With a follower down (still in the ISR) the HW stops: the commit waits, and after
    ``offsets.commit.timeout.ms`` is answered COORDINATOR_NOT_AVAILABLE (REQUEST_TIMED_OUT,
    mapped as Kafka maps it). Once the controller fences the follower and the ISR shrinks, a
    commit is answered at once."""
    cluster, leader = leading_cluster(**{"offsets.commit.timeout.ms": "1000"})
    follower = next(n for n in BROKERS if n != leader)
    cluster.router.set_down(follower)
    start_ms = cluster.router.now_ms
    assert cluster.commit(leader, 7) is None
    cluster.advance_until(lambda: cluster.answered(leader))
    assert cluster.router.now_ms - start_ms == 1000
    answer = cluster.response(leader, 8, 8)
    assert answer.topics[0].partitions[0].error_code == E.coordinator_not_available

    cluster.advance_until(lambda: len(cluster.offsets_registration().isr) == 2)
    cluster.advance_until(lambda: cluster.brokers[leader].replicas.replica(OFFSETS, 0)
                          .high_watermark == cluster.brokers[leader].replicas.replica(OFFSETS, 0)
                          .log_end_offset)  # fmt: skip
    answer = cluster.commit(leader, 8)
    assert answer is not None and answer.topics[0].partitions[0].error_code == E.none
    assert cluster.fetch(leader) == (E.none, 8)


def committed(cluster: Cluster, leader: int, offset: int) -> None:
    """Commit ``offset`` and wait for its answer, which must be a success."""
    answer = cluster.commit(leader, offset)
    if answer is None:
        cluster.advance_until(lambda: cluster.answered(leader))
        answer = cluster.response(leader, 8, 8)
    assert answer.topics[0].partitions[0].error_code == E.none


OTHER = 200  # a second client connection: its OffsetFetch is not queued behind a waiting commit


def test_offset_fetch_does_not_see_a_commit_waiting_for_the_isr() -> None:
    """OffsetFetch answers committed offsets only (Kafka's pending offset commits): while a
    commit waits for a follower that is down but still in the ISR, the previous offset; once
    the ISR shrinks and the commit is answered, the new one."""
    cluster, leader = leading_cluster()
    committed(cluster, leader, 5)
    follower = next(n for n in BROKERS if n != leader)
    cluster.router.set_down(follower)
    assert cluster.commit(leader, 7) is None
    assert cluster.fetch(leader, OTHER) == (E.none, 5)
    cluster.advance_until(lambda: cluster.answered(leader))
    answer = cluster.response(leader, 8, 8)
    assert answer.topics[0].partitions[0].error_code == E.none
    assert cluster.fetch(leader, OTHER) == (E.none, 7)


def test_a_failed_commit_leaves_the_previous_offset() -> None:
    """A commit that times out waiting for the ISR is dropped from memory: OffsetFetch answers
    the previous offset, during the wait and after the COORDINATOR_NOT_AVAILABLE answer."""
    cluster, leader = leading_cluster(**{"offsets.commit.timeout.ms": "1000"})
    committed(cluster, leader, 5)
    follower = next(n for n in BROKERS if n != leader)
    cluster.router.set_down(follower)
    assert cluster.commit(leader, 7) is None
    assert cluster.fetch(leader, OTHER) == (E.none, 5)
    cluster.advance_until(lambda: cluster.answered(leader))
    answer = cluster.response(leader, 8, 8)
    assert answer.topics[0].partitions[0].error_code == E.coordinator_not_available
    assert cluster.fetch(leader, OTHER) == (E.none, 5)
    assert cluster.fetch(leader) == (E.none, 5)
