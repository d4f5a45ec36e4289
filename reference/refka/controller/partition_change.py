"""Kafka's ``PartitionChangeBuilder``: the next leader, ISR and ELR of one partition.

The controller never edits a partition in place: it asks this builder for the change a new
target ISR (an AlterPartition, a fenced broker, a controlled shutdown) or an election calls for,
and appends the resulting ``PartitionChangeRecord`` (or nothing, when nothing changes).
spec/Election.tla models the same decisions: ``ElectLeader`` (``CleanCandidates``: the
acceptable ISR, then the acceptable ELR; unclean: any acceptable replica), ``FenceBroker`` and
``HandleAlterPartition`` (``ElrAfter``), ``RegisterBroker`` (an unclean shutdown leaves the
ISR and the ELR).

Rules, as Kafka 4.x applies them (metadata version >= 3.6, ``eligible.leader.replicas.version``
on as for new clusters since 4.1):

- The current leader stays while it is acceptable (unfenced, not shutting down) and in the
  target ISR; else the first replica in ``replicas`` order that is in the target ISR and
  acceptable; if the ISR is empty, the first acceptable ELR member (KIP-966), whose election
  makes the ISR just that member; else, when unclean election is on, the first acceptable
  replica, with the ISR set to it and ``leader_recovery_state`` RECOVERING; else no leader.
- KIP-966: while the target ISR is below ``min.insync.replicas``, ISR members that leave it
  join the ELR (they hold every committed record: nothing commits below min ISR), except
  replicas that shut down uncleanly; at or above min ISR the ELR and last-known ELR are empty.
  With ELR on the ISR may become empty; with it off the last ISR member stays.
- Only a leader change bumps the leader epoch (the record's ``leader`` field set); any change
  bumps the partition epoch (``PartitionRegistration.merge``). ISR shrinks no longer bump the
  leader epoch (that was for metadata versions before 3.6, KAFKA-15021).

- KIP-455 reassignment (``PartitionReassignmentReplicas.maybeCompleteReassignment``): while
  ``adding`` or ``removing`` replicas are set, any change whose target ISR (less the removing
  replicas) is not empty and holds every adding replica completes the move: the replicas and
  the ISR lose the removing ones, ``adding``/``removing`` become empty. Removing a replica
  bumps the leader epoch even when the leader stays (Kafka's
  ``triggerLeaderEpochBumpForReplicaReassignmentIfNeeded``).

Not modelled: directories, the "balanced recovery" last-known-leader election of KIP-966
part 2.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Protocol

NO_LEADER = -1
NO_LEADER_CHANGE = -2
RECOVERED = 0
RECOVERING = 1


class Election(enum.Enum):
    """Kafka's ``PartitionChangeBuilder.Election``."""

    ONLINE = "online"  # keep or pick a leader from the ISR (then the ELR)
    PREFERRED = "preferred"  # the first replica if it can lead
    UNCLEAN = "unclean"  # as ONLINE, then any acceptable replica (data loss)


class PartitionState(Protocol):
    """What the builder reads of a ``PartitionRegistration``."""

    @property
    def replicas(self) -> tuple[int, ...]: ...
    @property
    def isr(self) -> tuple[int, ...]: ...
    @property
    def elr(self) -> tuple[int, ...]: ...
    @property
    def last_known_elr(self) -> tuple[int, ...]: ...
    @property
    def leader(self) -> int: ...
    @property
    def leader_recovery_state(self) -> int: ...
    @property
    def adding_replicas(self) -> tuple[int, ...]: ...
    @property
    def removing_replicas(self) -> tuple[int, ...]: ...


@dataclass(frozen=True, slots=True)
class PartitionChange:
    """The fields of a ``PartitionChangeRecord`` that change; ``None`` means unchanged."""

    leader: int = NO_LEADER_CHANGE
    isr: tuple[int, ...] | None = None
    eligible_leader_replicas: tuple[int, ...] | None = None
    last_known_elr: tuple[int, ...] | None = None
    leader_recovery_state: int | None = None
    replicas: tuple[int, ...] | None = None
    adding_replicas: tuple[int, ...] | None = None
    removing_replicas: tuple[int, ...] | None = None
    unclean: bool = False  # the leader came from outside the ISR and the ELR (not in the record)

    @property
    def is_empty(self) -> bool:
        return (
            self.leader == NO_LEADER_CHANGE
            and self.isr is None
            and self.eligible_leader_replicas is None
            and self.last_known_elr is None
            and self.leader_recovery_state is None
            and self.replicas is None
            and self.adding_replicas is None
            and self.removing_replicas is None
        )


@dataclass(frozen=True, slots=True)
class _Elected:
    node: int
    unclean: bool


@dataclass(frozen=True, slots=True)
class PartitionChangeBuilder:
    """One partition's change toward ``target_isr`` (default: its ISR) and an election."""

    partition: PartitionState
    is_acceptable_leader: Callable[[int], bool]
    min_isr: int
    target_isr: Sequence[int] | None = None
    election: Election = Election.ONLINE
    elr_enabled: bool = True
    unclean_shutdown_replicas: Collection[int] = ()
    target_leader_recovery_state: int | None = None
    target_replicas: Sequence[int] | None = None  # KIP-455 (default: the partition's)
    target_adding: Sequence[int] | None = None
    target_removing: Sequence[int] | None = None

    def build(self) -> PartitionChange | None:
        """The change, or ``None`` when the partition would stay as it is."""
        p = self.partition
        isr = tuple(p.isr if self.target_isr is None else self.target_isr)
        replicas, adding, removing = self._assignment()
        if adding or removing:  # completeReassignmentIfNeeded
            kept = tuple(r for r in isr if r not in removing)
            if kept and all(r in kept for r in adding):
                replicas = tuple(r for r in replicas if r not in removing)
                isr, adding, removing = kept, (), ()
        elr, last_known = self._target_elr(isr, replicas)
        elected = self._elect(isr, elr, replicas)
        leader = NO_LEADER_CHANGE
        new_isr: tuple[int, ...] | None = None
        recovery = self.target_leader_recovery_state
        if elected.node != p.leader:
            leader = elected.node
            if elected.node in elr:  # ElectLeader from the ELR: a new ISR of one
                isr = (elected.node,)
                elr = tuple(r for r in elr if r != elected.node)
            if elected.unclean:
                new_isr = (elected.node,)
                if p.leader_recovery_state != RECOVERING:
                    recovery = RECOVERING
        elif not set(p.replicas) <= set(replicas):  # a replica leaves: bump the leader epoch
            leader = p.leader
        if elected.unclean or not self.elr_enabled:
            elr, last_known = (), ()
        if new_isr is None and (isr or self.elr_enabled) and isr != tuple(p.isr):
            new_isr = isr
        change = PartitionChange(
            leader=leader,
            isr=new_isr,
            eligible_leader_replicas=None if elr == tuple(p.elr) else elr,
            last_known_elr=None if last_known == tuple(p.last_known_elr) else last_known,
            leader_recovery_state=None if recovery in (None, p.leader_recovery_state) else recovery,
            replicas=None if replicas == tuple(p.replicas) else replicas,
            adding_replicas=None if adding == tuple(p.adding_replicas) else adding,
            removing_replicas=None if removing == tuple(p.removing_replicas) else removing,
            unclean=elected.unclean,
        )
        return None if change.is_empty else change

    def _assignment(self) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
        """The target replicas, adding and removing replicas (default: the partition's)."""
        p = self.partition

        def pick(target: Sequence[int] | None, current: tuple[int, ...]) -> tuple[int, ...]:
            return tuple(current if target is None else target)

        return (
            pick(self.target_replicas, p.replicas),
            pick(self.target_adding, p.adding_replicas),
            pick(self.target_removing, p.removing_replicas),
        )

    # ------------------------------------------------------------------ ELR

    def _target_elr(
        self, isr: tuple[int, ...], replicas: tuple[int, ...]
    ) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """KIP-966 ``ElrAfter``: members leaving an ISR below min ISR become eligible."""
        p = self.partition
        if not self.elr_enabled:
            return tuple(p.elr), tuple(p.last_known_elr)
        if len(isr) >= self.min_isr:
            return (), ()
        candidates = (set(p.elr) | set(p.isr)) & set(replicas)
        unclean = set(self.unclean_shutdown_replicas)
        elr = tuple(sorted(r for r in candidates if r not in isr and r not in unclean))
        known = (candidates | set(p.last_known_elr)) - set(isr) - set(elr)
        return elr, tuple(sorted(known))

    # ------------------------------------------------------------- election

    def _elect(
        self, isr: tuple[int, ...], elr: tuple[int, ...], replicas: tuple[int, ...]
    ) -> _Elected:
        p = self.partition

        def valid(replica: int) -> bool:
            eligible = replica in isr or (not isr and replica in elr)
            return eligible and self.is_acceptable_leader(replica)

        if self.election is Election.PREFERRED and replicas and valid(replicas[0]):
            return _Elected(replicas[0], unclean=False)
        if p.leader != NO_LEADER and valid(p.leader):
            return _Elected(p.leader, unclean=False)
        for replica in replicas:
            if valid(replica):
                return _Elected(replica, unclean=False)
        if self.election is Election.UNCLEAN:
            for replica in replicas:
                if self.is_acceptable_leader(replica):
                    return _Elected(replica, unclean=True)
        return _Elected(NO_LEADER, unclean=False)
