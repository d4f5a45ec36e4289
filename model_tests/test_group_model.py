"""Random join/sync/heartbeat/leave/commit/time sequences against the group coordinator.

Invariants checked after every step (names as in spec/ConsumerGroup.tla):
- SingleOwnerPerGeneration: no partition is delivered (by SyncGroup) to two members in one
  generation;
- GenerationMonotonic: the group's generation id never goes back;
- each request is answered at most once, and appends come before replies in every effect list.
Clients behave as consumers do: they rejoin on REBALANCE_IN_PROGRESS, ILLEGAL_GENERATION and
UNKNOWN_MEMBER_ID; the leader assigns the partitions round-robin, from a random start, over
the members it got.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from kio.schema.errors import ErrorCode as E
from refka.group.config import GroupConfig
from refka.group.coordinator import GroupCoordinator
from refka.group.messages import (
    Append,
    Effect,
    HeartbeatResult,
    JoinGroupRequest,
    JoinGroupResult,
    LeaveGroupResult,
    LeavingMember,
    OffsetCommitEntry,
    OffsetCommitResult,
    Reply,
    SyncGroupRequest,
    SyncGroupResult,
)

GROUP = "g"
PARTITIONS = 6
CLIENTS = 3
SESSION_MS = 6_000
REBALANCE_MS = 10_000


@dataclass
class Client:
    member_id: str = ""
    generation_id: int = -1
    members: tuple[str, ...] = ()  # filled for the leader by its JoinGroup response
    pending: set[str] = field(default_factory=set)  # request tokens awaiting an answer
    joined: bool = False  # has a JoinGroup answer for generation_id, not yet synced
    reaction: str = ""  # what the client does next on its own: "join" or "sync"


def encode(partitions: list[int]) -> bytes:
    return bytes(partitions)


class GroupModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        config = GroupConfig(group_initial_rebalance_delay_ms=0)
        self.coordinator = GroupCoordinator(config, random.Random(0))
        self.now_ms = 0
        self.clients = [Client() for _ in range(CLIENTS)]
        self.owner_of: dict[str, int] = {}  # token -> client index
        self.answered: set[str] = set()
        self.delivered: dict[int, dict[str, set[int]]] = {}  # generation -> member -> parts
        self.max_generation = 0
        self.tokens = 0

    # -- plumbing ----------------------------------------------------------------------

    def token(self, client: int) -> str:
        self.tokens += 1
        t = f"t{self.tokens}"
        self.owner_of[t] = client
        self.clients[client].pending.add(t)
        return t

    def apply(self, effects: list[Effect]) -> None:
        self.deliver(effects)
        for _ in range(3 * CLIENTS):  # clients react (rejoin, sync) as consumers do
            ready = [i for i, c in enumerate(self.clients) if c.reaction and not c.pending]
            if not ready:
                break
            i = ready[0]
            reaction, self.clients[i].reaction = self.clients[i].reaction, ""
            if reaction == "join":
                self.send_join(i)
            else:
                self.send_sync(i, self.clients[i].generation_id)

    def deliver(self, effects: list[Effect]) -> None:
        seen_reply = False
        for effect in effects:
            if isinstance(effect, Append):
                assert not seen_reply, "append after a reply"
                self.coordinator.complete_write(effect.write_id, E.none)
                continue
            seen_reply = True
            assert isinstance(effect, Reply)
            token = effect.request
            assert isinstance(token, str)
            assert token not in self.answered, "a request answered twice"
            self.answered.add(token)
            client = self.clients[self.owner_of[token]]
            client.pending.discard(token)
            self.on_result(client, effect.result)

    def on_result(self, c: Client, result: object) -> None:
        if isinstance(result, JoinGroupResult):
            if result.error in (E.none, E.member_id_required):
                c.member_id = result.member_id
            if result.error == E.none:
                c.generation_id, c.joined = result.generation_id, True
                c.members = tuple(m.member_id for m in result.members)
                c.reaction = "sync"
            elif result.error in (E.unknown_member_id, E.fenced_instance_id):
                c.member_id, c.joined = "", False
            if result.error in (E.member_id_required, E.rebalance_in_progress):
                c.reaction = "join"
        elif isinstance(result, SyncGroupResult):
            c.joined = False
            if result.error == E.none:
                parts = set(result.assignment)
                self.delivered.setdefault(c.generation_id, {})[c.member_id] = parts
            elif result.error == E.unknown_member_id:
                c.member_id = ""
            if result.error != E.none:
                c.reaction = "join"
        elif isinstance(result, HeartbeatResult | OffsetCommitResult):
            errors = (
                [result.error]
                if isinstance(result, HeartbeatResult)
                else [p.error for p in result.partitions]
            )
            if E.unknown_member_id in errors:
                c.member_id = ""
            if any(
                e in errors
                for e in (E.unknown_member_id, E.illegal_generation, E.rebalance_in_progress)
            ):
                c.reaction = "join"
        elif isinstance(result, LeaveGroupResult):
            c.member_id, c.joined = "", False

    # -- rules: the client actions ----------------------------------------------------

    @rule(i=st.integers(0, CLIENTS - 1))
    def join(self, i: int) -> None:
        self.send_join(i)

    def send_join(self, i: int) -> None:
        c = self.clients[i]
        req = JoinGroupRequest(
            GROUP, c.member_id, None, "consumer", (("range", b"s"),), SESSION_MS, REBALANCE_MS
        )
        self.apply(self.coordinator.join_group(self.token(i), req, self.now_ms))

    @rule(i=st.integers(0, CLIENTS - 1), shift=st.integers(0, PARTITIONS - 1))
    def sync(self, i: int, shift: int) -> None:
        """A SyncGroup at any time, possibly stale or repeated, with any assignment start."""
        self.send_sync(i, shift)

    def send_sync(self, i: int, shift: int) -> None:
        c = self.clients[i]
        if not c.member_id:
            return
        assignments: tuple[tuple[str, bytes], ...] = ()
        if c.members:  # the leader assigns round-robin (from any start) over its members
            n = len(c.members)
            assignments = tuple(
                (m, encode([p for p in range(PARTITIONS) if (p + shift) % n == k]))
                for k, m in enumerate(c.members)
            )
        req = SyncGroupRequest(GROUP, c.member_id, c.generation_id, None, None, None, assignments)
        self.apply(self.coordinator.sync_group(self.token(i), req, self.now_ms))

    @rule(i=st.integers(0, CLIENTS - 1))
    def heartbeat(self, i: int) -> None:
        c = self.clients[i]
        effects = self.coordinator.heartbeat(
            self.token(i), GROUP, c.member_id, c.generation_id, self.now_ms
        )
        self.apply(effects)

    @rule(i=st.integers(0, CLIENTS - 1))
    def leave(self, i: int) -> None:
        c = self.clients[i]
        if c.member_id:
            effects = self.coordinator.leave_group(
                self.token(i), GROUP, [LeavingMember(c.member_id)], self.now_ms
            )
            self.apply(effects)

    @rule(i=st.integers(0, CLIENTS - 1), offset=st.integers(0, 100))
    def commit(self, i: int, offset: int) -> None:
        c = self.clients[i]
        entries = [OffsetCommitEntry("t", 0, offset)]
        effects = self.coordinator.commit_offsets(
            self.token(i), GROUP, c.member_id, c.generation_id, entries, self.now_ms
        )
        self.apply(effects)

    @rule(advance_ms=st.sampled_from([0, 500, 3_000, 7_000, 12_000]))
    def advance_time(self, advance_ms: int) -> None:
        target = self.now_ms + advance_ms
        while True:
            deadline = self.coordinator.next_deadline_ms()
            if deadline is None or deadline > target:
                break
            self.now_ms = max(self.now_ms, deadline)
            self.apply(self.coordinator.on_tick(self.now_ms))
        self.now_ms = target
        self.apply(self.coordinator.on_tick(self.now_ms))

    # -- invariants ------------------------------------------------------------------

    @invariant()
    def single_owner_per_generation(self) -> None:
        most = max(map(len, self.delivered.values()), default=0)
        event(f"members synced in one generation: {most}")
        for generation, by_member in self.delivered.items():
            seen: set[int] = set()
            for parts in by_member.values():
                assert not (seen & parts), f"generation {generation}: {by_member}"
                seen |= parts

    @invariant()
    def generation_monotonic(self) -> None:
        group = self.coordinator.groups.get(GROUP)
        if group is not None:
            assert group.generation_id >= self.max_generation
            self.max_generation = group.generation_id


GroupModel.TestCase.settings = settings(
    max_examples=200, stateful_step_count=60, deadline=None, print_blob=True
)
TestGroupModel = GroupModel.TestCase
