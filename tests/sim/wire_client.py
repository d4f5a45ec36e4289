"""A test's client node for the simulated world: kio requests through a ``NetworkClient``.

It is a Core like any node: the world carries its ``SendRequest`` effects over the simulated
network and feeds it the answers; the decoded answers collect in ``answers``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from refka.core.effects import Effect, Wakeup
from refka.core.network_client import ClientResponse, NetworkClient, NodeAddress
from refka.core.seeded import SeededRandom
from refka.sim.world import BROKER_PORT, SimCluster

from conformance.records import Record, build_batch
from conformance.wire import build

CREATE_TOPICS, PRODUCE = 19, 0


class WireClient:
    def __init__(self, request_timeout_ms: int = 30_000) -> None:
        self.network = NetworkClient("sim-test", request_timeout_ms, 50, 1_000, SeededRandom(1))
        self.answers: list[ClientResponse] = []

    def request(self, node_id: int, entity: Any) -> Callable[[int], list[Effect]]:
        address = NodeAddress(node_id, f"node-{node_id}", BROKER_PORT)

        def call(now_ms: int) -> list[Effect]:
            assert self.network.send(address, entity, now_ms, self.answers.append)
            return self._effects()

        return call

    def on_connect(
        self, connection_id: int, now_ms: int, listener: str = "", client_host: str = ""
    ) -> list[Effect]:
        raise AssertionError("a client accepts no connections")

    def on_request(
        self, connection_id: int, frame: bytes | memoryview, now_ms: int
    ) -> list[Effect]:
        raise AssertionError("a client accepts no connections")

    def on_disconnect(self, connection_id: int, now_ms: int) -> list[Effect]:
        return []

    def on_response(
        self, node_id: int, frame: bytes | memoryview, now_ms: int, channel: str = ""
    ) -> list[Effect]:
        self.network.on_response(node_id, frame, now_ms)
        return self._effects()

    def on_unreachable(self, node_id: int, now_ms: int, channel: str = "") -> list[Effect]:
        self.network.on_unreachable(node_id, now_ms)
        return self._effects()

    def on_tick(self, now_ms: int) -> list[Effect]:
        self.network.on_tick(now_ms)
        return self._effects()

    def shutdown(self, now_ms: int) -> None:
        pass

    def _effects(self) -> list[Effect]:
        effects: list[Effect] = list(self.network.drain())
        deadline = self.network.next_deadline_ms()
        return effects + ([Wakeup(deadline)] if deadline is not None else [])


def ask(
    world: SimCluster, client_id: int, node_id: int, entity: Any, max_ms: int = 40_000
) -> ClientResponse:
    """Send one request from the client node and run until its answer (or failure)."""
    client = world.nodes[client_id].core
    assert isinstance(client, WireClient)
    before = len(client.answers)
    world.client_step(client_id, client.request(node_id, entity), f"{type(entity).__name__}")
    assert world.run_until(lambda: len(client.answers) > before, max_ms), "no answer"
    return client.answers[before]


def create_topics_request(topic: str, partitions: int = 1, replication: int = 3) -> Any:
    return build(
        CREATE_TOPICS,
        7,
        topics=[
            {
                "name": topic,
                "num_partitions": partitions,
                "replication_factor": replication,
                "assignments": [],
                "configs": [],
            }
        ],
        timeout=10_000,
        validate_only=False,
    )


def create_topic(
    world: SimCluster, client_id: int, topic: str, partitions: int = 1, replication: int = 3
) -> Any:
    entity = create_topics_request(topic, partitions, replication)
    answer = ask(world, client_id, world.broker_ids[0], entity)
    assert answer.response is not None, answer
    return answer.response


def produce(
    world: SimCluster,
    client_id: int,
    node_id: int,
    topic: str,
    values: list[bytes],
    acks: int = -1,
    partition: int = 0,
) -> ClientResponse:
    batch = build_batch([Record(v) for v in values], timestamp_ms=world.now_ms)
    entity = build(
        PRODUCE,
        9,
        transactional_id=None,
        acks=acks,
        timeout=10_000,
        topic_data=[{"name": topic, "partition_data": [{"index": partition, "records": batch}]}],
    )
    return ask(world, client_id, node_id, entity)


def partition_error(answer: ClientResponse) -> int:
    assert answer.response is not None, answer
    return int(answer.response.responses[0].partition_responses[0].error_code)
