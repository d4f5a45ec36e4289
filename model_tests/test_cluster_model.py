"""The cluster state machine on Kafka's behaviour (no bug switched on): client operations and
faults at random, the spec's invariants after every step, the history checker on the healed
cluster at the end. A failure prints the invariant and the schedule file to replay.

The default run is bounded (a few minutes in CI); ``--model-examples N`` runs a longer one.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test
from refka.sim.generate import FAULT_KINDS
from refka.sim.machine import cluster_machine
from refka.sim.schedule import SimConfig

CONFIGS = {
    # acks=all + idempotence, commit after processing: no loss, no duplicates, no skips
    "exactly-once-ish": SimConfig(),
    # acks=1: may lose what the leader acknowledged alone; commit before: may skip
    "acks1-at-most-once": SimConfig(acks=1, idempotent=False, commit="before"),
}


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_cluster_model(name: str, tmp_path, request) -> None:
    examples = request.config.getoption("--model-examples")
    machine = cluster_machine(CONFIGS[name], frozenset(FAULT_KINDS), name, tmp_path)
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=examples,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
