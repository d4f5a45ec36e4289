"""Transactions on Kafka's behaviour (no bug switched on), under faults: a transactional
producer commits or aborts at random while the transaction coordinator's broker dies or
stops mid-transaction (its ``__transaction_state`` partition fails over and is loaded
elsewhere), answers are lost, and a transaction lasts past ``transaction.timeout.ms`` (the
coordinator aborts and fences it). After every step: ReadCommittedSeesNoAborted (G1a) and
NoTornTransaction for the read_committed reader, and the replication invariants; on the
healed cluster: NoCommittedTransactionLost.

No delay past the request timeout here: at transaction version 1 a write that arrives after
its transaction ended is verified only where the coordinator is the partition's leader
(docs/transactions.md), so a late write to another broker may land in a hanging
transaction; the LateWriteAfterAbort scenario of the campaign hunts that on one broker.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test
from refka.sim.machine import cluster_machine
from refka.sim.schedule import SimConfig

CONFIG = SimConfig(
    partitions=2,
    producers=0,
    consumers=0,
    txn_producers=1,
    readers=2,
    transaction_timeout_ms=3_000,
)
RULES = frozenset(
    {"txn", "read", "run", "crash", "restart", "bounce", "crash_coordinator", "lose_answers",
     "slow_txn"}
)  # fmt: skip


def test_transactions_under_faults(tmp_path, request) -> None:
    examples = request.config.getoption("--model-examples")
    machine = cluster_machine(
        CONFIG, frozenset({"crash", "network"}), "transactions", tmp_path, rules=RULES,
        run_ms=(200, 1_000, 5_000),
    )  # fmt: skip
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=examples,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
