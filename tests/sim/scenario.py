"""One busy simulated run, for the determinism tests: faults of every kind, clients producing.

``timeline(seed)`` returns the run's ``format_timeline`` text; ``python scenario.py SEED``
prints its SHA-256 (the tests run it under different ``PYTHONHASHSEED`` values).
"""

from __future__ import annotations

import hashlib
import sys

from refka.sim.network import NetworkFaults
from refka.sim.timeline import format_timeline
from refka.sim.world import SimCluster
from wire_client import WireClient, create_topic, produce

FAULTY = NetworkFaults(
    min_latency_ms=1, max_latency_ms=10, drop=0.002, duplicate=0.002, reorder=0.01, delay=0.01
)


def run(seed: int) -> SimCluster:
    world = SimCluster(seed, configs={"min.insync.replicas": "2"})
    world.start()
    client = world.add_client(WireClient(request_timeout_ms=5_000))
    for topic in ("events", "audit", "clicks", "zeta"):  # string sets would order these
        create_topic(world, client, topic, partitions=2)
    world.run_for(2_000)
    world.set_network(FAULTY)
    for i in range(5):
        for topic in ("events", "audit", "clicks", "zeta"):
            produce(world, client, 1 + i % 3, topic, [b"v%d" % i], acks=-1)
    world.crash(2, torn_bytes=7)
    world.run_for(3_000)
    world.restart(2)
    world.partition([(1, 3), (3, 1)])
    world.run_for(3_000)
    world.heal()
    world.pause(3)
    world.run_for(1_000)
    world.resume(3)
    world.skew(1, 2_500)
    world.crash(0)
    world.run_for(1_000)
    world.restart(0)
    world.run_for(10_000)
    return world


def timeline(seed: int) -> str:
    return format_timeline(run(seed).steps)


if __name__ == "__main__":
    print(hashlib.sha256(timeline(int(sys.argv[1])).encode()).hexdigest())
