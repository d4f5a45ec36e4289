"""A controller (node 0) and three brokers on the in-process router (fake clock), every core
given one tracer that collects its trace events (``refka.core.trace``) in order."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kio.schema.errors import ErrorCode
from refka.broker.meta_properties import format_directory
from refka.config import BrokerConfig
from refka.core.broker import Broker
from refka.core.network_client import NodeAddress
from refka.core.seeded import SeededRandom
from refka.core.trace import TraceEvent
from refka.log.storage import MemoryStorage
from refka.node import make_broker, make_controller
from refka.protocol import codec
from refka.protocol.records import NewRecord, build_batch
from refka.sim.router import Router

from conformance.wire import decode_response, encode_request

START_MS = 1_700_000_000_000
CONTROLLER = 0
BROKERS = (1, 2, 3)
TOPIC = "t"
COMMON = {
    "broker.heartbeat.interval.ms": "200",
    "broker.session.timeout.ms": "3000",
    "replica.lag.time.max.ms": "1000",
    "replica.fetch.backoff.ms": "100",
}


def batch(count: int = 1) -> bytes:
    records = [NewRecord(None, b"v", (), START_MS) for _ in range(count)]
    return build_batch(records, base_offset=0, partition_leader_epoch=-1)


class TracedCluster:
    def __init__(self, traced: bool = True, **configs: str) -> None:
        self.events: list[TraceEvent] = []
        tracer = self.events.append if traced else None
        self.router = Router(START_MS)
        self.storages = {n: MemoryStorage() for n in (CONTROLLER, *BROKERS)}
        common = {**COMMON, **configs}
        controller_config = BrokerConfig.model_validate(
            {"node.id": "0", "process.roles": "controller", "log.dirs": "data", **common}
        )
        self.controller = make_controller(
            controller_config, self.storages[0], START_MS, 1, tracer=tracer
        )
        cluster_id = format_directory(self.storages[0], 0, SeededRandom(1)).cluster_id
        self.router.add_node(CONTROLLER, self.controller, self._reader(CONTROLLER))
        self.brokers: dict[int, Broker] = {}
        self.configs: dict[int, BrokerConfig] = {}
        self.tracer = tracer
        for n in BROKERS:
            format_directory(self.storages[n], n, SeededRandom(n), cluster_id)
            config = BrokerConfig.model_validate(
                {
                    "node.id": str(n),
                    "process.roles": "broker",
                    "log.dirs": "data",
                    "advertised.listeners": f"PLAINTEXT://broker{n}:9092",
                    "controller.quorum.voters": "0@controller:9093",
                    **common,
                }
            )
            self.configs[n] = config
            self.brokers[n] = self._broker(n)
            self.router.add_node(n, self.brokers[n], self._reader(n))
        for n in (CONTROLLER, *BROKERS):
            self.router.tick(n)
        self.advance_until(lambda: all(b.ready for b in self.brokers.values()))
        self.correlation_id = 0

    def _broker(self, n: int, seed: int | None = None) -> Broker:
        """The core of broker ``n``; a restarted one needs another seed (its incarnation id)."""
        address = NodeAddress(CONTROLLER, "controller", 9093)
        return make_broker(
            self.configs[n],
            self.storages[n],
            self.router.now_ms,
            n if seed is None else seed,
            controller=address,
            tracer=self.tracer,
        )

    def crash_and_restart(self, n: int) -> None:
        """Broker ``n`` loses what it had not flushed and starts again on its storage."""
        self.router.set_down(n)
        self.storages[n].crash()
        self.brokers[n] = self._broker(n, seed=self.router.now_ms + n)
        self.router.nodes[n].core = self.brokers[n]
        self.router.set_down(n, False)
        self.router.tick(n)

    def _reader(self, node: int) -> Any:
        storage = self.storages[node]
        return lambda piece: storage.read(piece.path, piece.position, piece.size)

    def advance_until(self, condition: Callable[[], bool], limit_ms: int = 30_000) -> None:
        """Tick the cores in time order until ``condition`` holds (checked after each tick)."""
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

    def call(self, node: int, api_key: int, version: int, **fields: Any) -> Any:
        """One request to ``node``; waits (in simulated time) for its response."""
        self.correlation_id += 1
        request = codec.build(codec.request_class(api_key, version), **fields)
        self.router.client_request(node, 100 + node, encode_request(request, self.correlation_id))
        frames = self.router.client_frames
        self.advance_until(lambda: bool(frames.get((node, 100 + node))))
        response, _ = decode_response(
            frames[(node, 100 + node)].pop(0), codec.response_class(api_key, version)
        )
        return response

    def create_topic(self, **configs: str) -> None:
        m = codec.request_module(19, 5)
        topic = codec.build(
            m.CreatableTopic,
            name=TOPIC,
            num_partitions=1,
            replication_factor=3,
            assignments=(),
            configs=tuple(
                codec.build(m.CreatableTopicConfig, name=k, value=v) for k, v in configs.items()
            ),
        )
        r = self.call(1, 19, 5, topics=(topic,), timeout=codec.millis(5000), validate_only=False)
        assert r.topics[0].error_code == ErrorCode.none
        self.advance_until(lambda: self.registration() is not None and self.in_sync())

    def produce(self, node: int, acks: int = -1, count: int = 1) -> Any:
        """Produce ``count`` records to t-0 on ``node``; the partition's answer."""
        m = codec.request_module(0, 9)
        data = codec.build(m.PartitionProduceData, index=0, records=batch(count))
        topic = codec.build(m.TopicProduceData, name=TOPIC, partition_data=(data,))
        r = self.call(
            node, 0, 9,
            transactional_id=None, acks=acks, timeout=codec.millis(10_000), topic_data=(topic,),
        )  # fmt: skip
        return r.responses[0].partition_responses[0]

    # -- state -----------------------------------------------------------------------------

    def registration(self) -> Any:
        topic = self.controller.image.topics_by_name.get(TOPIC)
        return None if topic is None else topic.partitions[0]

    def leader(self) -> int:
        return int(self.registration().leader)

    def in_sync(self) -> bool:
        """Every replica of t-0 is in the ISR and has caught up with the leader's log."""
        reg = self.registration()
        if reg is None or len(reg.isr) != 3 or reg.leader < 0:
            return False
        replicas = [self.brokers[n].replicas.replica(TOPIC, 0) for n in BROKERS]
        leader = self.brokers[reg.leader].replicas.replica(TOPIC, 0)
        return (
            leader is not None
            and leader.is_leader
            and leader.leader_epoch == reg.leader_epoch
            and all(r is not None for r in replicas)
            and all(r.log_end_offset == leader.log_end_offset for r in replicas if r is not None)
            and all(r.leader_epoch == reg.leader_epoch for r in replicas if r is not None)
        )

    def of(self, kind: type[TraceEvent]) -> list[Any]:
        return [e for e in self.events if type(e) is kind]
