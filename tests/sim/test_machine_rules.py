"""The campaign's macro rules aim at the first partition's roles and write plain schedule
operations; a scenario with uniform rules draws each step among its rules in one Hypothesis
rule; and scenarios that name none of the new rules keep the rules (so the draws) they had."""

from __future__ import annotations

from dataclasses import replace

from refka.bugs import Bug
from refka.core.channels import ALTER_PARTITION
from refka.sim import machine
from refka.sim.campaign import SCENARIOS
from refka.sim.schedule import Operation, SimConfig
from refka.sim.simulation import Simulation

TWO = SimConfig(brokers=2, partitions=1, replication_factor=2, min_insync_replicas=1, consumers=0)
RULES = frozenset(machine.LEADER_CHANGES)


def _rule_names(cls: type[machine.ClusterMachine]) -> set[str]:
    return {r.function.__name__ for r in cls.setup_state().rules}


def _machine(**options: object) -> machine.ClusterMachine:
    cls = machine.cluster_machine(
        TWO, frozenset({"crash", "partition", "stall"}), rules=RULES,
        run_ms=(1_000,), awaits=("BecomeLeader",), stall_channels=(ALTER_PARTITION,),
        **options,  # type: ignore[arg-type]
    )  # fmt: skip
    m = cls()
    m.sim = Simulation(3, TWO)
    m.sim.check()
    return m


def test_macro_rules_aim_at_the_leader_and_the_follower() -> None:
    m = _machine()
    assert m.sim is not None
    leader = m.sim.states[("sim", 0)].leader
    follower = 3 - leader
    m.cut_from_controller()
    m.cut_follower()
    m.bounce_follower()
    assert m.sim.schedule.operations == (
        Operation.of("cut", source=follower, target=0),
        Operation.of("cut", source=follower, target=leader),
        Operation.of("bounce", node=follower),
    )


def test_a_leader_bounced_until_it_leads_again_is_a_bounce_and_a_run_until() -> None:
    from hypothesis import given
    from hypothesis import strategies as st

    @given(st.data())
    def bounce(data: st.DataObject) -> None:
        m = _machine()
        assert m.sim is not None
        leader = m.sim.states[("sim", 0)].leader
        m.bounce_leader_until(data)
        m.stall_leader(data)
        assert m.sim.schedule.operations[:2] == (
            Operation.of("bounce", node=leader),
            Operation.of("run_until", action="BecomeLeader", node=-1, max_ms=1_000),
        )
        stall = m.sim.schedule.operations[2]
        assert stall.name == "stall" and stall.arg("channel") == ALTER_PARTITION
        assert stall.arg("source") == m._by_role()[0] != 0
        leaders: list[int] = []  # the leader the controller names before each operation
        apply = m.apply
        m.apply = lambda op: (leaders.append(m._by_role()[0]), apply(op))[1]  # type: ignore[method-assign]
        m.bounce_leader_at(data)
        assert m.sim.schedule.operations[3:] == (
            Operation.of("run_until", action="BecomeLeader", node=-1, max_ms=1_000),
            Operation.of("bounce", node=leaders[1]),
        )

    bounce()


def test_uniform_rules_leave_hypothesis_one_rule_that_draws_among_the_scenarios() -> None:
    cls = machine.cluster_machine(TWO, rules=RULES, uniform_rules=True)
    assert issubclass(cls, machine.UniformRuleMachine)
    m = cls()
    valid = [
        r.function.__name__ for r in cls.setup_state().rules if all(p(m) for p in r.preconditions)
    ]
    assert valid == ["step"]  # the rules themselves hold only inside ``step``
    m.dispatching = True
    assert m.enabled("bounce_follower") and not m.enabled("produce")


def test_the_other_scenarios_keep_their_rules_and_so_their_draws() -> None:
    plain = _rule_names(machine.ClusterMachine)
    timed = _rule_names(machine.TimedFaultMachine)
    assert timed - plain == machine.TIMED_FAULTS
    transactions = _rule_names(machine.TransactionMachine)
    assert transactions - plain == machine.TXN_RULES
    for bug, scenario in SCENARIOS.items():
        config = replace(scenario.config, bugs=(bug.short_name,))
        cls = machine.cluster_machine(
            config, scenario.kinds, rules=scenario.rules, uniform_rules=scenario.uniform_rules
        )
        if scenario.rules & machine.LEADER_CHANGES:
            assert bug in (Bug.STALE_EPOCH_FETCH, Bug.STALE_BROKER_EPOCH)
        elif scenario.rules & machine.TIMED_FAULTS:
            assert _rule_names(cls) == timed, bug
        elif config.txn_producers:
            assert bug in (Bug.LATE_WRITE_AFTER_ABORT, Bug.READ_UNCOMMITTED)
            assert _rule_names(cls) - {"step"} == transactions, bug
        else:
            assert _rule_names(cls) == plain, bug
