"""The simulated world: a controller and three brokers on a virtual clock, with faults.

Each test drives the same cores the asyncio server runs, through the simulated network, with a
test client node (``wire_client.WireClient``) speaking the wire protocol.
"""

from __future__ import annotations

from kio.schema.errors import ErrorCode
from refka.broker.clean_shutdown import CLEAN_SHUTDOWN_FILE
from refka.replica import Replica
from refka.sim.world import SimCluster
from wire_client import WireClient, create_topic, create_topics_request, partition_error, produce

TOPIC = "t"


def started(
    seed: int = 1, request_timeout_ms: int = 30_000, **kwargs: object
) -> tuple[SimCluster, int]:
    world = SimCluster(seed, **kwargs)  # type: ignore[arg-type]  # the caller's keywords
    world.start()
    return world, world.add_client(WireClient(request_timeout_ms))


def replica(world: SimCluster, node: int, topic: str = TOPIC) -> Replica | None:
    broker = world.broker(node)
    return None if broker is None else broker.replicas.replicas.get((topic, 0))


def ready(world: SimCluster, node: int) -> bool:
    broker = world.broker(node)
    return broker is not None and broker.ready


def high_watermark(world: SimCluster, node: int, topic: str = TOPIC) -> int:
    r = replica(world, node, topic)
    return -1 if r is None else r.high_watermark


def log_end_offset(world: SimCluster, node: int, topic: str = TOPIC) -> int:
    r = replica(world, node, topic)
    return -1 if r is None else r.log_end_offset


def leader_of(world: SimCluster, topic: str = TOPIC) -> int:
    for node in world.broker_ids:
        r = replica(world, node, topic)
        if r is not None and r.is_leader:
            return node
    return -1


def with_topic(
    seed: int = 1, request_timeout_ms: int = 30_000, **kwargs: object
) -> tuple[SimCluster, int, int]:
    world, client = started(seed, request_timeout_ms, **kwargs)
    response = create_topic(world, client, TOPIC)
    assert response.topics[0].error_code == ErrorCode.none, response
    assert world.run_until(
        lambda: (
            leader_of(world) > 0 and all(replica(world, n) is not None for n in world.broker_ids)
        ),
        10_000,
    )
    return world, client, leader_of(world)


def test_the_brokers_register_and_catch_up() -> None:
    world, _ = started()
    assert all(ready(world, n) for n in world.broker_ids)
    assert world.controller() is not None
    assert world.events > 0 and world.steps


def test_acks_all_advances_the_high_watermark_on_every_replica() -> None:
    world, client, leader = with_topic()
    answer = produce(world, client, leader, TOPIC, [b"a", b"b", b"c"])
    assert partition_error(answer) == ErrorCode.none
    assert world.run_until(
        lambda: all(high_watermark(world, n) == 3 for n in world.broker_ids),
        5_000,
    )


def test_a_crashed_leader_is_replaced() -> None:
    world, client, leader = with_topic()
    assert partition_error(produce(world, client, leader, TOPIC, [b"a"])) == ErrorCode.none
    world.crash(leader)
    assert not world.alive(leader)
    assert world.run_until(lambda: leader_of(world) not in (-1, leader), 30_000)
    dropped = [s for s in world.steps if s.kind == "drop" and s.node == leader]
    assert dropped and all(s.state == "connection closed" for s in dropped)
    new_leader = leader_of(world)
    assert partition_error(produce(world, client, new_leader, TOPIC, [b"b"])) == ErrorCode.none


def test_a_crash_loses_unflushed_bytes_and_the_restart_recovers() -> None:
    world, client, leader = with_topic()
    assert partition_error(produce(world, client, leader, TOPIC, [b"a", b"b"])) == ErrorCode.none
    follower = next(n for n in world.broker_ids if n != leader)
    assert world.storage(follower).unflushed_bytes() > 0
    world.crash(follower)
    assert world.storage(follower).unflushed_bytes() == 0
    world.restart(follower)
    assert world.run_until(
        lambda: log_end_offset(world, follower) == 2 and ready(world, follower),
        30_000,
    )


def test_the_controller_crashes_and_recovers_its_metadata_log() -> None:
    world, client, _ = with_topic()
    world.crash(world.controller_id)
    assert world.controller() is None
    world.run_for(1_000)
    world.restart(world.controller_id)
    controller = world.controller()
    assert controller is not None and TOPIC in controller.image.topics_by_name
    world.run_for(20_000)
    assert all(ready(world, n) for n in world.broker_ids)
    assert partition_error(produce(world, client, leader_of(world), TOPIC, [b"x"])) == 0


def test_a_full_disk_answers_kafka_storage_error_then_the_broker_halts() -> None:
    world, client, leader = with_topic()
    world.disk_full(leader)
    answer = produce(world, client, leader, TOPIC, [b"a"])
    assert partition_error(answer) == ErrorCode.kafka_storage_error
    assert not world.alive(leader)
    [halt] = [s for s in world.steps if s.action == "halt"]
    assert halt.node == leader and "have failed" in halt.state
    assert world.run_until(lambda: leader_of(world) not in (-1, leader), 30_000)
    world.disk_full(leader, False)
    world.restart(leader)
    assert world.run_until(lambda: ready(world, leader), 30_000)


def isr(world: SimCluster, leader: int) -> frozenset[int]:
    r = replica(world, leader)
    return frozenset() if r is None else r.isr


def test_a_paused_follower_leaves_the_isr_and_returns_after_resume() -> None:
    world, client, leader = with_topic()
    follower = next(n for n in world.broker_ids if n != leader)
    world.pause(follower)
    assert partition_error(produce(world, client, leader, TOPIC, [b"a"], acks=1)) == 0
    world.run_for(50_000)  # lag 30 s, checked every 15 s
    assert follower not in isr(world, leader)
    assert log_end_offset(world, follower) == 0  # it got nothing while paused
    world.resume(follower)
    [resumed] = [s for s in world.steps if s.action == "resume"]
    assert resumed.state != "parked=0"  # what came for it while paused is delivered now
    assert world.run_until(lambda: follower in isr(world, leader), 30_000)
    assert log_end_offset(world, follower) == 1


def test_a_partition_holds_frames_and_heal_lets_them_through() -> None:
    world, client, leader = with_topic()
    follower = next(n for n in world.broker_ids if n != leader)
    world.partition([(leader, follower), (follower, leader)])
    assert partition_error(produce(world, client, leader, TOPIC, [b"a"], acks=1)) == 0
    world.run_for(50_000)  # ISR checks run every 15 s
    assert follower not in isr(world, leader)
    assert any(s.state == "held: link cut" for s in world.steps)
    world.heal()
    assert world.run_until(lambda: follower in isr(world, leader), 30_000)
    assert log_end_offset(world, follower) == 1


def test_an_isolated_leader_is_fenced_and_replaced() -> None:
    world, _, leader = with_topic()
    world.isolate(leader)
    assert world.run_until(lambda: leader_of_by_controller(world) not in (-1, leader), 60_000)
    world.heal()
    assert world.run_until(lambda: ready(world, leader), 60_000)


def leader_of_by_controller(world: SimCluster) -> int:
    controller = world.controller()
    assert controller is not None
    topic = controller.image.topics_by_name[TOPIC]
    return topic.partitions[0].leader


def test_a_skewed_node_sees_its_own_clock() -> None:
    world, client, leader = with_topic()
    world.skew(client, 5_000)
    answer = produce(world, client, leader, TOPIC, [b"a"], acks=1)
    assert answer.now_ms == world.now_ms + 5_000
    world.skew(leader, 60_000)  # its timers run on its own clock: it keeps heartbeating
    world.run_for(30_000)
    assert ready(world, leader) and leader_of(world) == leader
    world.skew(leader, 59_000)  # a step back shorter than the heartbeat interval
    world.run_for(30_000)
    assert ready(world, leader) and leader_of(world) == leader


def test_a_full_controller_disk_halts_the_controller_and_a_restart_recovers() -> None:
    world, client, _ = with_topic()
    world.disk_full(world.controller_id)
    create_topic_anyway(world, client, "u")
    assert world.run_until(lambda: not world.alive(world.controller_id), 10_000)
    [halt] = [s for s in world.steps if s.action == "halt"]
    assert halt.node == world.controller_id and "metadata log" in halt.state
    world.disk_full(world.controller_id, False)
    world.restart(world.controller_id)
    controller = world.controller()
    assert controller is not None and TOPIC in controller.image.topics_by_name
    assert world.run_until(lambda: all(ready(world, n) for n in world.broker_ids), 30_000)


def create_topic_anyway(world: SimCluster, client: int, topic: str) -> None:
    """A CreateTopics whose answer may never come (the controller dies handling it)."""
    wire = world.nodes[client].core
    assert isinstance(wire, WireClient)
    entity = create_topics_request(topic)
    world.client_step(client, wire.request(world.broker_ids[0], entity), "CreateTopics")


def previous_broker_epoch(world: SimCluster, node: int) -> int:
    broker = world.broker(node)
    assert broker is not None
    return broker.lifecycle.registration.previous_broker_epoch


def test_a_crash_restarts_unclean_and_a_stop_restarts_clean() -> None:
    world, _, leader = with_topic()
    world.crash(leader)
    world.restart(leader)
    assert previous_broker_epoch(world, leader) == -1  # KIP-966: no clean-shutdown file
    assert world.run_until(lambda: ready(world, leader), 30_000)
    assert world.stop(leader)
    assert not world.alive(leader) and leader_of(world) != leader
    world.restart(leader)
    assert previous_broker_epoch(world, leader) > 0
    assert world.run_until(lambda: ready(world, leader), 30_000)


def test_a_stop_on_a_full_disk_exits_without_the_clean_shutdown_file() -> None:
    world, _, leader = with_topic()
    follower = next(n for n in world.broker_ids if n != leader)
    world.disk_full(follower)
    world.stop(follower)  # its high watermark checkpoint cannot be written
    assert not world.alive(follower)
    assert not world.storage(follower).exists(CLEAN_SHUTDOWN_FILE)
    world.disk_full(follower, False)
    world.restart(follower)
    assert previous_broker_epoch(world, follower) == -1  # an unclean start (KIP-966)
    assert world.run_until(lambda: ready(world, follower), 30_000)


def test_tracing_gives_every_core_the_worlds_tracer_and_none_without_it() -> None:
    traced = SimCluster(1, trace=True)
    cores = [traced.broker(n) for n in traced.broker_ids] + [traced.controller()]
    assert all(c is not None and c.tracer == traced.tracer for c in cores)
    traced.crash(1)
    traced.restart(1)
    restarted = traced.broker(1)
    assert restarted is not None and restarted.tracer == traced.tracer
    plain = SimCluster(1)
    assert all(b is not None and b.tracer is None for b in map(plain.broker, plain.broker_ids))
