"""Random interleavings of LeaderAppend, FollowerFetch, ElectLeader (clean, from the ISR),
broker stops and restarts, and time (ShrinkIsr / ExpandIsr) on three in-process replicas keep
the invariants of spec/Replication.tla and spec/Election.tla:

- ``LogMatching``: two logs that hold the same record hold the same records before it;
- ``LeaderCompleteness`` / ``NoAckedRecordLost``: the controller's leader, once it leads its
  epoch, holds every record that was ever committed (below a leader's high watermark);
- ``HighWatermarkMonotonic``: the high watermark a consumer is shown (KIP-207: only once the
  leader's HW reached its epoch start) never moves backwards.
"""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from refka.replica import ReplicaRole
from replication_helpers import TOPIC, Cluster, epochs_of

NODES = (1, 2, 3)


class ReplicationMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.cluster = Cluster(node_ids=NODES, min_isr=2, lag_ms=1_000)
        self.committed: set[tuple[int, int]] = set()  # <<offset, epoch>>, Replication.tla acked
        self.observed_hw = 0

    # ------------------------------------------------------------------ rules

    def _leader(self) -> int | None:
        leader = self.cluster.leader_of()
        if leader in self.cluster.down:
            return None
        replica = self.cluster.replica(leader)
        reg = self.cluster.registrations[(TOPIC, 0)]
        if replica.role is not ReplicaRole.LEADER or replica.leader_epoch != reg.leader_epoch:
            return None
        return leader

    @precondition(lambda self: self._leader() is not None)
    @rule(count=st.integers(1, 3), acks=st.sampled_from([1, -1]))
    def leader_append(self, count: int, acks: int) -> None:
        self.cluster.produce(count, acks=acks)

    @rule(rounds=st.integers(1, 3))
    def follower_fetch(self, rounds: int) -> None:
        self.cluster.run(rounds)

    @rule(ms=st.sampled_from([300, 600, 1_100]))
    def time_passes(self, ms: int) -> None:
        self.cluster.tick(ms)
        self.cluster.step()

    @rule(node=st.sampled_from(NODES))
    def elect_leader(self, node: int) -> None:
        """ElectLeader: a clean election of a live ISR member."""
        reg = self.cluster.registrations[(TOPIC, 0)]
        if node in reg.isr and node not in self.cluster.down and reg.leader_epoch < 8:
            self.cluster.elect(node)

    @rule(node=st.sampled_from(NODES))
    def stop_broker(self, node: int) -> None:
        if len(self.cluster.down) < 1:
            self.cluster.down.add(node)

    @rule()
    def restart_brokers(self) -> None:
        """The stopped broker comes back and catches up on metadata."""
        back = list(self.cluster.down)
        self.cluster.down.clear()
        self.cluster.publish([(TOPIC, 0)], nodes=back)

    # ------------------------------------------------------------- invariants

    @invariant()
    def record_commits(self) -> None:
        """Records below a leader's high watermark are committed (AdvanceHighWatermark)."""
        leader = self._leader()
        if leader is not None:
            replica = self.cluster.replica(leader)
            epochs = epochs_of(replica)
            self.committed |= {(o, epochs[o]) for o in range(replica.high_watermark)}

    @invariant()
    def log_matching(self) -> None:
        logs = [epochs_of(self.cluster.replica(n)) for n in NODES]
        for a in logs:
            for b in logs:
                for i in range(min(len(a), len(b))):
                    if a[i] == b[i]:
                        assert a[: i + 1] == b[: i + 1], (a, b)

    @invariant()
    def leader_completeness(self) -> None:
        """LeaderCompleteness / NoAckedRecordLost."""
        leader = self._leader()
        if leader is not None:
            epochs = epochs_of(self.cluster.replica(leader))
            for offset, epoch in self.committed:
                assert offset < len(epochs) and epochs[offset] == epoch, (leader, offset, epoch)

    @invariant()
    def high_watermark_monotonic(self) -> None:
        """ConsumerReadHighWatermark with KIP-207, then HighWatermarkMonotonic."""
        leader = self._leader()
        if leader is not None:
            replica = self.cluster.replica(leader)
            if replica.is_high_watermark_exposable:
                assert replica.high_watermark >= self.observed_hw
                self.observed_hw = replica.high_watermark

    def teardown(self) -> None:
        """Every broker back: the followers converge on the leader's log (truncation works,
        it is not just that fetches stop)."""
        self.restart_brokers()
        for _ in range(6):
            self.cluster.tick(200)
            self.cluster.run(3)
        leader = self._leader()
        assert leader is not None
        logs = {n: epochs_of(self.cluster.replica(n)) for n in NODES}
        assert all(log == logs[leader] for log in logs.values()), logs


ReplicationMachine.TestCase.settings = settings(
    max_examples=60, stateful_step_count=40, deadline=None
)
TestReplicationInvariants = ReplicationMachine.TestCase
