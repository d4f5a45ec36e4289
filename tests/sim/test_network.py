"""The simulated network's faults, seen by a wire-protocol client and the brokers."""

from __future__ import annotations

from kio.schema.errors import ErrorCode
from refka.core.seeded import SeededRandom
from refka.sim.network import TO_SOURCE, TO_TARGET, Network, NetworkFaults
from refka.sim.world import SimCluster
from test_world import TOPIC, log_end_offset, with_topic
from wire_client import WireClient, partition_error, produce


def client_of(world: SimCluster, client: int) -> WireClient:
    core = world.nodes[client].core
    assert isinstance(core, WireClient)
    return core


def test_a_duplicated_request_is_handled_twice() -> None:
    world, client, leader = with_topic()
    world.set_network(NetworkFaults(duplicate=1.0))
    answer = produce(world, client, leader, TOPIC, [b"a"], acks=1)
    world.set_network(NetworkFaults())
    world.run_for(1_000)
    assert partition_error(answer) == ErrorCode.none
    assert log_end_offset(world, leader) == 2  # no idempotence: the record is in twice
    assert any(s.state == "duplicated" for s in world.steps)


def test_a_dropped_request_times_out_and_the_client_reconnects() -> None:
    world, client, leader = with_topic(request_timeout_ms=5_000)
    wire = client_of(world, client)
    assert partition_error(produce(world, client, leader, TOPIC, [b"a"], acks=1)) == 0
    world.set_network(NetworkFaults(drop=1.0))
    sent_ms = world.now_ms
    failed = produce(world, client, leader, TOPIC, [b"a"], acks=1)
    world.set_network(NetworkFaults())
    assert failed.timed_out and failed.disconnected
    assert failed.now_ms == sent_ms + 5_000
    world.run_for(1_000)  # the FIN reaches the broker; the client's backoff passes
    disconnects = [s for s in world.steps if s.action == "disconnected" and s.node == leader]
    assert disconnects and "timed out" in disconnects[-1].state
    again = produce(world, client, leader, TOPIC, [b"b"], acks=1)
    assert partition_error(again) == ErrorCode.none
    assert len(wire.answers) == 4  # CreateTopics, two Produce answers, one timeout


def test_one_connection_is_fifo_unless_a_frame_is_reordered() -> None:
    network = Network(SeededRandom(3), NetworkFaults(min_latency_ms=1, max_latency_ms=50))
    conn = network.open(1, 2, 0, 0)
    arrivals = [network.route(conn, TO_TARGET, now_ms).arrivals[0] for now_ms in range(200)]
    assert arrivals == sorted(arrivals)
    network.faults = NetworkFaults(min_latency_ms=1, max_latency_ms=50, reorder=1.0)
    later = [network.route(conn, TO_TARGET, 200 + t).arrivals[0] for t in range(200)]
    assert later != sorted(later)


def test_a_drop_stalls_its_direction_until_the_connection_is_replaced() -> None:
    network = Network(SeededRandom(3), NetworkFaults(drop=1.0))
    conn = network.open(1, 2, 0, 0)
    assert network.route(conn, TO_TARGET, 0).note.startswith("dropped")
    network.faults = NetworkFaults()
    assert network.route(conn, TO_TARGET, 1).arrivals == ()  # stalled: TCP has a hole
    assert network.route(conn, TO_SOURCE, 1).arrivals != ()  # the other direction flows
    fresh = network.open(1, 2, 0, 0)
    assert network.route(fresh, TO_TARGET, 2).arrivals != ()


def test_a_cut_holds_frames() -> None:
    network = Network(SeededRandom(3), NetworkFaults())
    network.cuts.add((2, 1))
    conn = network.open(1, 2, 0, 0)
    assert network.route(conn, TO_SOURCE, 0).held
    assert network.route(conn, TO_TARGET, 0).arrivals != ()
