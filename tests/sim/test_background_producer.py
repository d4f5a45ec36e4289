"""``produce_every_ms``: a producer sends one record per period beside the schedule's
operations (a workload running under the faults, as Jepsen's generators do), until ``finish``
heals the cluster; the same schedule gives the same records."""

from __future__ import annotations

from dataclasses import replace

from refka.sim.schedule import Operation, SimConfig
from refka.sim.simulation import Simulation

CONFIG = SimConfig(brokers=2, partitions=1, replication_factor=2, consumers=0)


def _sends(config: SimConfig) -> list[object]:
    sim = Simulation(3, config)
    sim.apply(Operation.of("run", ms=1_000))
    report = sim.finish()
    assert report.ok, report.lines()
    return [(op.value, op.offset) for op in sim.history.ops if op.f == "send" and op.type == "ok"]


def test_a_record_per_period_and_none_without() -> None:
    sends = _sends(replace(CONFIG, produce_every_ms=100))
    assert 9 <= len(sends) <= 11  # 1,020 ms of operations, then none while the end settles
    assert [offset for _, offset in sends] == list(range(len(sends)))
    assert _sends(CONFIG) == []


def test_the_background_producer_is_deterministic() -> None:
    config = replace(CONFIG, produce_every_ms=100)
    assert _sends(config) == _sends(config)
