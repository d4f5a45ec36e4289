"""A node restarted on a full disk goes down again, as a Kafka process that cannot write its log
directory exits: the controller at once (its metadata log), the broker at its first write (the
high watermark checkpoint); once the disk has room the node starts."""

from __future__ import annotations

from refka.sim.world import SimCluster


def test_a_node_restarted_on_a_full_disk_stays_down_until_there_is_room() -> None:
    world = SimCluster(seed=3, brokers=1)
    world.start()
    for node in (0, 1):
        world.crash(node)
        world.disk_full(node, True)
        world.restart(node)
        assert world.run_until(lambda n=node: not world.alive(n), 10_000)
        assert [s for s in world.steps if s.node == node][-1].action.startswith("halt")
        world.disk_full(node, False)
        world.restart(node)
        assert world.alive(node)
    assert world.run_until(lambda: bool((b := world.broker(1)) and b.ready), 30_000)
