"""Random schedules for ``refka simulate``: each operation drawn from the seed.

The model tests draw their operations with Hypothesis (``model_tests/``), which also shrinks
them; ``refka simulate --seed N`` draws them here, from ``random.Random(N)``, so a seed alone
names a run. The mix: client operations most of the time, time passing, and one fault in
``FAULT_WEIGHT`` steps from the enabled fault kinds.
"""

from __future__ import annotations

import random

from refka.sim.schedule import Operation, SimConfig

FAULT_KINDS = ("crash", "pause", "partition", "network", "disk", "skew", "torn")
"""``--faults``: which faults a random schedule may hold."""

FAULT_WEIGHT = 6


def fault(rng: random.Random, config: SimConfig, kinds: frozenset[str]) -> Operation | None:
    """One fault of an enabled kind, or None when none is enabled."""
    nodes = list(range(config.brokers + 1))  # the controller is node 0
    choices = sorted(kinds & set(FAULT_KINDS) - {"torn"})
    if not choices:
        return None
    kind = rng.choice(choices)
    node = rng.choice(nodes)
    if kind == "crash":
        roll = rng.random()
        if roll < 0.35:
            return Operation.of("restart", node=node)
        if roll < 0.6:
            return Operation.of("bounce", node=node)
        torn = rng.choice((1, 17, 61)) if "torn" in kinds and rng.random() < 0.3 else 0
        return Operation.of("crash", node=node, torn_bytes=torn)
    if kind == "pause":
        name = "pause" if rng.random() < 0.5 else "resume"
        return Operation.of(name, node=node)
    if kind == "partition":
        roll = rng.random()
        if roll < 0.3:
            return Operation.of("heal")
        if roll < 0.6:
            return Operation.of("isolate", node=node)
        other = rng.choice([n for n in nodes if n != node])
        return Operation.of("cut", source=node, target=other)
    if kind == "network":
        if rng.random() < 0.4:
            return Operation.of("network", drop=0.0, duplicate=0.0, reorder=0.0, max_latency_ms=5)
        return Operation.of(
            "network",
            drop=rng.choice((0.0, 0.01, 0.05)),
            duplicate=rng.choice((0.0, 0.01, 0.05)),
            reorder=rng.choice((0.0, 0.05, 0.2)),
            max_latency_ms=rng.choice((5, 50, 500)),
        )
    if kind == "disk":
        return Operation.of("disk_full", node=node, full=rng.random() < 0.5)
    return Operation.of("skew", node=node, ms=rng.choice((-30_000, -500, 0, 500, 30_000)))


def operation(rng: random.Random, config: SimConfig, kinds: frozenset[str]) -> Operation:
    """The next operation of a random schedule."""
    if rng.randrange(FAULT_WEIGHT) == 0:
        chosen = fault(rng, config, kinds)
        if chosen is not None:
            return chosen
    roll = rng.random()
    producers, consumers = config.producers, config.consumers
    if roll < 0.45 and producers:
        return Operation.of(
            "produce", client=rng.randrange(producers), partition=rng.randrange(config.partitions)
        )
    if roll < 0.65 and consumers:
        return Operation.of("poll", client=producers + rng.randrange(consumers))
    if roll < 0.72 and consumers:
        return Operation.of("commit", client=producers + rng.randrange(consumers))
    if roll < 0.74 and consumers:
        return Operation.of("restart_client", client=producers + rng.randrange(consumers))
    return Operation.of("run", ms=rng.choice((50, 200, 1_000, 5_000)))
