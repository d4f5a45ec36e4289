"""Drive a GroupCoordinator with a fake clock and request tokens, no sockets."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from kio.schema.errors import ErrorCode
from refka.group.config import GroupConfig
from refka.group.coordinator import GroupCoordinator
from refka.group.messages import (
    Append,
    Effect,
    JoinGroupRequest,
    JoinGroupResult,
    Reply,
    SyncGroupRequest,
    SyncGroupResult,
)
from refka.group.records import iter_key_values

GROUP = "g"
SESSION_MS = 10_000
REBALANCE_MS = 30_000


def make_coordinator(**overrides: int) -> GroupCoordinator:
    settings = {"group_initial_rebalance_delay_ms": 0, **overrides}
    return GroupCoordinator(GroupConfig(**settings), random.Random(7))


@dataclass
class Driver:
    """A coordinator, a clock, the replies it sent and every record it asked to append."""

    coordinator: GroupCoordinator = field(default_factory=make_coordinator)
    now_ms: int = 0
    replies: dict[object, object] = field(default_factory=dict)
    appended: dict[int, list[bytes]] = field(default_factory=dict)
    _next_token: int = 0

    def token(self) -> str:
        self._next_token += 1
        return f"req-{self._next_token}"

    def apply(self, effects: list[Effect]) -> None:
        seen_reply = False
        for effect in effects:
            if isinstance(effect, Append):
                assert not seen_reply, "an append came after a reply: persist before acknowledging"
                self.appended.setdefault(effect.partition, []).append(effect.records)
                self.coordinator.complete_write(effect.write_id, ErrorCode.none)
            else:
                assert isinstance(effect, Reply)
                seen_reply = True
                assert effect.request not in self.replies, "a request was answered twice"
                self.replies[effect.request] = effect.result

    def join(
        self,
        member_id: str = "",
        protocols: tuple[tuple[str, bytes], ...] = (("range", b"m"),),
        instance_id: str | None = None,
        group: str = GROUP,
        session_ms: int = SESSION_MS,
        rebalance_ms: int = REBALANCE_MS,
    ) -> str:
        token = self.token()
        req = JoinGroupRequest(
            group, member_id, instance_id, "consumer", protocols, session_ms, rebalance_ms, "c"
        )
        self.apply(self.coordinator.join_group(token, req, self.now_ms))
        return token

    def sync(
        self,
        member_id: str,
        generation_id: int,
        assignments: tuple[tuple[str, bytes], ...] = (),
        instance_id: str | None = None,
    ) -> str:
        token = self.token()
        req = SyncGroupRequest(
            GROUP, member_id, generation_id, instance_id, None, None, assignments
        )
        self.apply(self.coordinator.sync_group(token, req, self.now_ms))
        return token

    def heartbeat(self, member_id: str, generation_id: int) -> ErrorCode:
        token = self.token()
        self.apply(self.coordinator.heartbeat(token, GROUP, member_id, generation_id, self.now_ms))
        return self.replies[token].error  # type: ignore[attr-defined,no-any-return]

    def tick(self, advance_ms: int) -> None:
        self.now_ms += advance_ms
        self.apply(self.coordinator.on_tick(self.now_ms))

    def join_result(self, token: str) -> JoinGroupResult:
        result = self.replies[token]
        assert isinstance(result, JoinGroupResult)
        return result

    def sync_result(self, token: str) -> SyncGroupResult:
        result = self.replies[token]
        assert isinstance(result, SyncGroupResult)
        return result

    def new_member(self, **kwargs: object) -> str:
        """First join (MEMBER_ID_REQUIRED) and the rejoin with the id; returns the rejoin token."""
        first = self.join(**kwargs)  # type: ignore[arg-type]
        result = self.join_result(first)
        assert result.error == ErrorCode.member_id_required
        return self.join(member_id=result.member_id, **kwargs)  # type: ignore[arg-type]

    def records(self) -> list[tuple[bytes | None, bytes | None]]:
        return [
            kv for bufs in self.appended.values() for buf in bufs for kv in iter_key_values(buf)
        ]

    def stable_group(self, n: int) -> list[str]:
        """n members through one join/sync round; returns member ids, leader first.

        Without an initial delay the first member completes a generation alone; the others'
        joins start new ones, so members already answered rejoin until one generation has all.
        """
        tokens = [self.new_member() for _ in range(n)]
        for _ in range(n):
            if all(t in self.replies for t in tokens):
                break
            tokens = [
                self.join(member_id=self.join_result(t).member_id) if t in self.replies else t
                for t in tokens
            ]
        results = [self.join_result(t) for t in tokens]
        assert len({r.generation_id for r in results}) == 1
        leader = results[0].leader
        ids = [r.member_id for r in results]
        generation = results[0].generation_id
        ordered = [leader] + [m for m in ids if m != leader]
        assignments = tuple((m, f"a-{m}".encode()) for m in ordered)
        for m in ordered[1:]:
            self.sync(m, generation)
        self.sync(leader, generation, assignments)
        return ordered
