"""``roll``: one broker of a rolling restart. A clean stop moves the broker's leaderships away
(controlled shutdown, KIP-631) and flushes its logs, so an acks=1 record it alone holds
survives the restart; ``bounce`` (kill -9, start) loses it with the page cache."""

from __future__ import annotations

from refka.sim.schedule import Operation, SimConfig
from refka.sim.simulation import TOPIC, Simulation

CONFIG = SimConfig(
    brokers=2,
    partitions=1,
    replication_factor=2,
    min_insync_replicas=1,
    acks=1,
    idempotent=False,
    consumers=0,
)


def _after(fault: str) -> tuple[int, int, int]:
    """The leader before, the leader after, and the old leader's log end offset after one
    acks=1 record its follower never fetched (the follower's fetches are cut) and ``fault``."""
    sim = Simulation(1, CONFIG)
    sim.check()  # reads the controller's partition states
    leader = sim.states[(TOPIC, 0)].leader
    follower = next(b for b in sim.world.broker_ids if b != leader)
    for op in (
        Operation.of("cut", source=follower, target=leader),
        Operation.of("produce", client=0, partition=0),
        Operation.of("run", ms=200),
        Operation.of(fault, node=leader),
        Operation.of("run", ms=5_000),  # a bounced broker registers once its session expired
    ):
        sim.apply(op)
    broker = sim.world.broker(leader)
    assert broker is not None
    replica = broker.replicas.replicas[(TOPIC, 0)]
    return leader, sim.states[(TOPIC, 0)].leader, replica.log_end_offset


def test_roll_moves_leadership_and_keeps_the_unflushed_record() -> None:
    before, after, log_end = _after("roll")
    assert after != before  # controlled shutdown elected the follower
    assert log_end == 1  # flushed at the clean stop


def test_bounce_loses_the_unflushed_record() -> None:
    _, _, log_end = _after("bounce")
    assert log_end == 0
