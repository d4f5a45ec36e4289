"""How fast the simulated world runs: ``python tests/sim/measure.py [SECONDS] [INTERVAL_MS]``.

A 3-broker world with one topic (replication factor 3); a client produces one record with
acks=all every INTERVAL_MS of simulated time for SECONDS simulated seconds. Prints simulated
events per real second and simulated seconds per real second. ``--profile`` prints the top
costs (cProfile, by own time).
"""

from __future__ import annotations

import cProfile
import pstats
import sys
import time

from refka.sim.world import SimCluster
from test_world import leader_of
from wire_client import PRODUCE, WireClient, create_topic

from conformance.records import Record, build_batch
from conformance.wire import build


def measure(seconds: int, interval_ms: int) -> str:
    world = SimCluster(1)
    world.start()
    client_id = world.add_client(WireClient())
    create_topic(world, client_id, "t")
    world.run_for(1_000)
    client = world.nodes[client_id].core
    assert isinstance(client, WireClient)
    leader = leader_of(world, "t")
    events, start_ms, started = world.events, world.now_ms, time.perf_counter()
    sent = 0
    while world.now_ms - start_ms < seconds * 1_000:
        batch = build_batch([Record(b"value-%d" % sent)], timestamp_ms=world.now_ms)
        data = [{"name": "t", "partition_data": [{"index": 0, "records": batch}]}]
        entity = build(PRODUCE, 9, transactional_id=None, acks=-1, timeout=10_000, topic_data=data)
        world.client_step(client_id, client.request(leader, entity), "produce")
        world.run_for(interval_ms)
        sent += 1
    real_s = time.perf_counter() - started
    done = sum(1 for a in client.answers if a.response is not None and a.api_key == PRODUCE)
    delivered = world.events - events
    return (
        f"{sent} produced ({done} answered), {delivered} events in {real_s:.2f} s: "
        f"{delivered / real_s:,.0f} events/s, {(world.now_ms - start_ms) / 1000 / real_s:,.0f}x "
        f"real time, {len(world.steps)} steps"
    )


if __name__ == "__main__":
    arguments = [a for a in sys.argv[1:] if not a.startswith("--")]
    seconds = int(arguments[0]) if arguments else 60
    interval_ms = int(arguments[1]) if len(arguments) > 1 else 10
    if "--profile" in sys.argv:
        profile = cProfile.Profile()
        print(profile.runcall(measure, seconds, interval_ms))
        pstats.Stats(profile).sort_stats("tottime").print_stats(20)
    else:
        print(measure(seconds, interval_ms))
