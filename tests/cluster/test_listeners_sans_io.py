"""Several listeners per broker, in one process on the router (fake clock).

Brokers 1 and 2 advertise PLAINTEXT (clients) and REPLICATION (their
``inter.broker.listener.name``); broker 3 advertises PLAINTEXT only. Metadata, DescribeCluster
and FindCoordinator answer with the endpoints of the listener the request arrived on (Kafka's
rule: a broker without it is left out; a partition whose leader lacks it is LISTENER_NOT_FOUND
from Metadata v6), and a follower fetches from its leader's endpoint of its own
``inter.broker.listener.name``.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
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

ZERO_UUID = uuid.UUID(int=0)
START_MS = 1_700_000_000_000
CONTROLLER = 0
BROKERS = (1, 2, 3)
METADATA, FIND_COORDINATOR, CREATE_TOPICS, DESCRIBE_CLUSTER = 3, 10, 19, 60
COMMON = {
    "broker.heartbeat.interval.ms": "200",
    "broker.session.timeout.ms": "1500",
    "offsets.topic.num.partitions": "1",
}
TWO_LISTENERS = {
    "listeners": "PLAINTEXT://:9092,REPLICATION://:9094",
    "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,REPLICATION:PLAINTEXT",
    "inter.broker.listener.name": "REPLICATION",
}


def broker_config(n: int) -> BrokerConfig:
    listeners = TWO_LISTENERS if n != 3 else {"listeners": "PLAINTEXT://:9092"}
    advertised = f"PLAINTEXT://broker{n}:9092" + (f",REPLICATION://rep{n}:9094" if n != 3 else "")
    return BrokerConfig.model_validate(
        {
            "node.id": str(n),
            "process.roles": "broker",
            "log.dirs": "data",
            "advertised.listeners": advertised,
            "controller.quorum.voters": "0@controller:9093",
            **COMMON,
            **listeners,
        }
    )


class Cluster:
    def __init__(self) -> None:
        self.router = Router(START_MS)
        storages = {n: MemoryStorage() for n in (CONTROLLER, *BROKERS)}
        controller_config = BrokerConfig.model_validate(
            {"node.id": "0", "process.roles": "controller", "log.dirs": "data", **COMMON}
        )
        controller = make_controller(controller_config, storages[0], START_MS, 1)
        cluster_id = format_directory(storages[0], 0, SeededRandom(1)).cluster_id
        self.router.add_node(CONTROLLER, controller)
        self.brokers: dict[int, Broker] = {}
        for n in BROKERS:
            format_directory(storages[n], n, SeededRandom(n), cluster_id)
            address = NodeAddress(CONTROLLER, "controller", 9093)
            self.brokers[n] = make_broker(
                broker_config(n), storages[n], START_MS, n, controller=address
            )
            self.router.add_node(n, self.brokers[n])
        for n in (CONTROLLER, *BROKERS):
            self.router.tick(n)
        self.advance_until(lambda: all(b.ready for b in self.brokers.values()))
        self.correlation_id = 0
        self.connections: dict[tuple[int, str], int] = {}

    def advance_until(self, condition: Any, limit_ms: int = 20_000) -> None:
        deadline_ms = self.router.now_ms + limit_ms
        while not condition():
            assert self.router.now_ms < deadline_ms, "the condition never held"
            self.router.advance(10)

    def call(self, node: int, listener: str, api_key: int, version: int, **fields: Any) -> Any:
        """One request to ``node`` on a connection to its ``listener``; waits for the answer."""
        self.correlation_id += 1
        connection = self.connections.setdefault((node, listener), 100 + len(self.connections))
        request = codec.build(codec.request_class(api_key, version), **fields)
        frame = encode_request(request, self.correlation_id)
        self.router.client_request(node, connection, frame, listener)
        self.advance_until(lambda: bool(self.router.client_frames.get((node, connection))))
        answer = self.router.client_frames[(node, connection)].pop(0)
        response, _ = decode_response(answer, codec.response_class(api_key, version))
        return response

    def create_topic(self, name: str, replicas: tuple[int, ...]) -> None:
        m = codec.request_module(CREATE_TOPICS, 5)
        assignment = codec.build(
            m.CreatableReplicaAssignment, partition_index=0, broker_ids=replicas
        )
        topic = codec.build(
            m.CreatableTopic, name=name, num_partitions=-1, replication_factor=-1,
            assignments=(assignment,), configs=(),
        )  # fmt: skip
        r = self.call(1, "PLAINTEXT", CREATE_TOPICS, 5, topics=(topic,),
                      timeout=codec.millis(5000), validate_only=False)  # fmt: skip
        assert r.topics[0].error_code == ErrorCode.none
        self.advance_until(
            lambda: all(name in b.image.topics_by_name for b in self.brokers.values())
        )

    def metadata(self, node: int, listener: str, topic: str | None, version: int = 12) -> Any:
        m = codec.request_module(METADATA, version)
        wanted = None
        if topic is not None:
            wanted = (codec.build(m.MetadataRequestTopic, name=topic, topic_id=ZERO_UUID),)
        extra = {} if version < 4 else {"allow_auto_topic_creation": False}
        if version >= 10:
            extra |= {"include_topic_authorized_operations": False}
        return self.call(node, listener, METADATA, version, topics=wanted, **extra)


@pytest.fixture(scope="module")
def cluster() -> Cluster:
    cluster = Cluster()
    cluster.create_topic("on-three", (3,))  # led by the broker without REPLICATION
    cluster.create_topic("on-one", (1, 2, 3))  # led by broker 1, followed by 2 and 3
    return cluster


def endpoints(brokers: Any) -> list[tuple[int, str, int]]:
    return sorted((b.node_id, b.host, b.port) for b in brokers)


def test_metadata_answers_with_the_endpoints_of_the_requests_listener(cluster: Cluster) -> None:
    plain = cluster.metadata(1, "PLAINTEXT", None)
    assert endpoints(plain.brokers) == [(n, f"broker{n}", 9092) for n in BROKERS]
    replication = cluster.metadata(1, "REPLICATION", None)
    assert endpoints(replication.brokers) == [(1, "rep1", 9094), (2, "rep2", 9094)]
    unnamed = cluster.metadata(2, "", None)  # a driver that names no listener: the first
    assert endpoints(unnamed.brokers) == endpoints(plain.brokers)


def test_a_leader_without_the_listener_is_listener_not_found_from_v6(cluster: Cluster) -> None:
    on_replication = cluster.metadata(1, "REPLICATION", "on-three").topics[0].partitions[0]
    assert (on_replication.error_code, on_replication.leader_id) == (
        ErrorCode.listener_not_found,
        -1,
    )
    old = cluster.metadata(1, "REPLICATION", "on-three", version=5).topics[0].partitions[0]
    assert old.error_code == ErrorCode.leader_not_available
    on_plaintext = cluster.metadata(1, "PLAINTEXT", "on-three").topics[0].partitions[0]
    assert (on_plaintext.error_code, on_plaintext.leader_id) == (ErrorCode.none, 3)


def test_describe_cluster_and_find_coordinator_use_the_requests_listener(
    cluster: Cluster,
) -> None:
    described = cluster.call(2, "REPLICATION", DESCRIBE_CLUSTER, 0,
                             include_cluster_authorized_operations=False)  # fmt: skip
    assert sorted((b.broker_id, b.host, b.port) for b in described.brokers) == [
        (1, "rep1", 9094),
        (2, "rep2", 9094),
    ]

    def coordinator(listener: str) -> Any:
        return cluster.call(1, listener, FIND_COORDINATOR, 3, key="g", key_type=0)

    cluster.advance_until(lambda: coordinator("PLAINTEXT").error_code == ErrorCode.none)
    plain, replication = coordinator("PLAINTEXT"), coordinator("REPLICATION")
    assert plain.host == f"broker{plain.node_id}" and plain.port == 9092
    expected = (ErrorCode.none, f"rep{plain.node_id}", 9094)
    if plain.node_id == 3:  # broker 3 has no REPLICATION endpoint
        expected = (ErrorCode.coordinator_not_available, "", -1)
    assert (replication.error_code, replication.host, replication.port) == expected


def test_followers_fetch_from_the_leaders_inter_broker_endpoint(cluster: Cluster) -> None:
    """Broker 2's inter-broker listener is REPLICATION; broker 3's is PLAINTEXT (its only)."""
    cluster.advance_until(lambda: all(1 in b.replicas.fetchers for b in cluster.brokers.values()
                                      if b is not cluster.brokers[1]))  # fmt: skip
    assert cluster.brokers[2].replicas.fetchers[1].leader == NodeAddress(1, "rep1", 9094)
    assert cluster.brokers[3].replicas.fetchers[1].leader == NodeAddress(1, "broker1", 9092)


def test_describe_cluster_v2_lists_a_fenced_broker_when_asked() -> None:
    """DescribeCluster v2 (KIP-1073): a fenced broker is listed only when the request asks for
    fenced brokers, and then with ``is_fenced``; v1 never lists it."""
    cluster = Cluster()
    cluster.router.set_down(3)  # no more heartbeats: the controller fences it

    def described(version: int, include: bool) -> list[tuple[int, bool]]:
        answer = cluster.call(1, "PLAINTEXT", DESCRIBE_CLUSTER, version, endpoint_type=1,
                              include_cluster_authorized_operations=False,
                              include_fenced_brokers=include)  # fmt: skip
        return sorted((b.broker_id, getattr(b, "is_fenced", False)) for b in answer.brokers)

    assert described(2, True) == [(1, False), (2, False), (3, False)]
    cluster.advance_until(lambda: described(2, False) == [(1, False), (2, False)])
    assert described(2, True) == [(1, False), (2, False), (3, True)]
    assert described(1, True) == [(1, False), (2, False)]
