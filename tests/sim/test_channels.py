"""A broker's channels to the controller (``refka.core.channels``), one connection each.

Kafka's ``BrokerServer`` talks to the controller over several ``NodeToControllerChannelManager``s
(heartbeat, alter-partition, forwarding) and KRaft's own client: a stuck connection holds up one
conversation only. These tests read the simulator's timeline, which names each frame's channel.
"""

from __future__ import annotations

from refka.sim.schedule import Operation, SimConfig
from refka.sim.simulation import Simulation
from refka.sim.timeline import Step

TWO = SimConfig(brokers=2, partitions=1, replication_factor=2, consumers=0, latency_ms=100)


def channel(step: Step) -> str:
    return step.state.split("channel=", 1)[1] if "channel=" in step.state else ""


def test_each_conversation_with_the_controller_has_its_own_connection() -> None:
    sim = Simulation(1, TWO)
    sim.apply(Operation.of("run", ms=2_000))
    sent = [s for s in sim.world.steps if s.kind == "send" and s.node == 1 and s.peer == 0]
    by_api = {(s.action.split(" ")[0], channel(s)) for s in sent}
    assert ("BrokerRegistration", "heartbeat") in by_api
    assert ("BrokerHeartbeat", "heartbeat") in by_api
    assert ("Fetch", "raft") in by_api  # the metadata log
    assert all(c for _, c in by_api), by_api  # nothing to the controller on the default one


def test_a_stuck_alter_partition_connection_holds_the_isr_change_not_the_session() -> None:
    """The leader's AlterPartition is stuck until request.timeout.ms (30 s) and then retried on
    a new connection with the broker epochs it was computed with; meanwhile the leader's
    heartbeats go on (it is never fenced)."""
    sim = Simulation(1, TWO)
    sim.apply(Operation.of("produce", client=0, partition=0))
    sim.apply(Operation.of("run", ms=1_000))
    sim.apply(Operation.of("stall", source=2, target=0, channel="alter-partition"))
    sim.apply(Operation.of("bounce", node=1))
    sim.apply(Operation.of("run", ms=40_000))
    steps = sim.world.steps
    sent = next(s for s in steps if s.kind == "trace" and s.action == "SendAlterPartition")
    assert "broker_epochs=[10,1]" in sent.state, sent.state
    handled = next(s for s in steps if s.kind == "trace" and s.action == "HandleAlterPartition")
    assert handled.at_ms - sent.at_ms >= 30_000
    assert "requested_isr=[1,2] error=NONE" in handled.state, handled.state
    fenced = [s for s in steps if s.action == "FenceBroker" and "broker=2 " in s.state]
    assert not fenced
    beats = [
        s.at_ms
        for s in steps
        if s.kind == "receive" and s.node == 0 and s.peer == 2 and "BrokerHeartbeat" in s.action
    ]
    assert sum(sent.at_ms < at < handled.at_ms for at in beats) > 30  # every 500 ms
    lost = [s for s in steps if s.kind == "drop" and channel(s) == "alter-partition"]
    assert lost and all(s.peer == 2 for s in lost)
