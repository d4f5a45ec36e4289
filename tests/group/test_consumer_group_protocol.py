"""KIP-848 consumer groups in the coordinator, sans-I/O: epochs, reconciliation (a partition
moves only after its previous owner revoked it: NoPartitionOwnedTwice of
spec/ConsumerGroupProtocol.tla), fencing, static membership, session expiry, the records
written to __consumer_offsets and their replay at failover."""

from __future__ import annotations

import dataclasses
import random
import uuid
from collections.abc import Iterable

import pytest
from kio.schema.errors import ErrorCode
from refka.group import consumer_records as crec
from refka.group.config import GroupConfig
from refka.group.consumer_messages import ConsumerHeartbeatRequest as Hb
from refka.group.consumer_messages import ConsumerHeartbeatResult
from refka.group.coordinator import GroupCoordinator
from refka.group.messages import Append, LeavingMember, Reply
from refka.group.records import iter_key_values

E = ErrorCode
T1, T2 = uuid.UUID(int=1), uuid.UUID(int=2)
SESSION_MS = 10_000


class Topics:
    def __init__(self, **counts: int) -> None:
        self.topics = {
            name: (uuid.UUID(int=i + 1), n) for i, (name, n) in enumerate(counts.items())
        }

    def lookup(self, name: str) -> tuple[uuid.UUID, int] | None:
        return self.topics.get(name)

    def names(self) -> Iterable[str]:
        return self.topics.keys()


def coordinator(**config: object) -> GroupCoordinator:
    values: dict[str, object] = {"group_consumer_session_timeout_ms": SESSION_MS} | config
    return GroupCoordinator(GroupConfig(**values), random.Random(0))  # type: ignore[arg-type]


class Member:
    """A client of the protocol: it owns what its last response assigned (revoking first)."""

    def __init__(self, c: GroupCoordinator, topics: Topics, member_id: str, **join: object) -> None:
        self.c, self.topics, self.member_id = c, topics, member_id
        self.epoch, self.owned = 0, frozenset[tuple[uuid.UUID, int]]()
        self.join = join
        self.log: list[Append] = []

    def heartbeat(self, now_ms: int = 0, **fields: object) -> ConsumerHeartbeatResult:
        first = self.epoch == 0
        values: dict[str, object] = {
            "group_id": "g",
            "member_id": self.member_id,
            "member_epoch": self.epoch,
            "rebalance_timeout_ms": 30_000 if first else -1,
            "owned": self.owned,
        }
        if first and "subscribed_topic_regex" not in self.join:
            values["subscribed_topic_names"] = ("t1",)
        values |= (self.join if first else {}) | fields
        req = Hb(**values)  # type: ignore[arg-type]
        effects = self.c.consumer_group_heartbeat("req", req, self.topics, now_ms)
        self.log += [e for e in effects if isinstance(e, Append)]
        (reply,) = [e for e in effects if isinstance(e, Reply)]
        result = reply.result
        assert isinstance(result, ConsumerHeartbeatResult)
        if result.error == E.none:
            self.epoch = result.member_epoch
            if result.assignment is not None:
                self.owned = result.assignment
        return result


def owned_once(*members: Member) -> None:
    seen: set[tuple[uuid.UUID, int]] = set()
    for m in members:
        assert not (seen & m.owned), "NoPartitionOwnedTwice"
        seen |= m.owned


def test_a_partition_moves_only_after_its_owner_revoked_it() -> None:
    c, topics = coordinator(), Topics(t1=4)
    a, b = Member(c, topics, "a"), Member(c, topics, "b")
    r = a.heartbeat()
    assert (r.member_epoch, len(a.owned)) == (1, 4)
    r = b.heartbeat()  # group epoch 2: the target gives b two of a's partitions
    assert r.member_epoch == 2 and b.owned == frozenset()  # a still holds them: UNRELEASED
    group = c.consumer_groups["g"]
    assert group.members["b"].state.name == "UNRELEASED_PARTITIONS"
    assert group.state == "Reconciling"
    r = a.heartbeat()  # a is told to revoke two, keeping its epoch
    assert r.member_epoch == 1 and len(a.owned) == 2
    assert group.members["a"].state.name == "UNREVOKED_PARTITIONS"
    b.heartbeat()
    assert b.owned == frozenset()  # still pending revocation by a
    owned_once(a, b)
    a.heartbeat()  # a reports it no longer owns them: it moves to epoch 2
    assert a.epoch == 2
    b.heartbeat()
    assert len(b.owned) == 2 and b.epoch == 2
    owned_once(a, b)
    assert group.state == "Stable" and (group.group_epoch, group.assignment_epoch) == (2, 2)


def test_leave_and_session_expiry_free_the_partitions() -> None:
    c, topics = coordinator(), Topics(t1=2)
    a, b = Member(c, topics, "a"), Member(c, topics, "b")
    a.heartbeat(), b.heartbeat(), a.heartbeat(), a.heartbeat(), b.heartbeat()
    assert len(a.owned) == len(b.owned) == 1
    r = b.heartbeat(member_epoch=-1)
    assert (r.error, r.member_epoch) == (E.none, -1)
    a.heartbeat()
    assert len(a.owned) == 2
    c2 = Member(c, topics, "c")
    c2.heartbeat(now_ms=1_000)
    a.heartbeat(now_ms=1_000), a.heartbeat(now_ms=1_000), c2.heartbeat(now_ms=1_000)
    assert len(c2.owned) == 1
    c2.heartbeat(now_ms=5_000)
    c.on_tick(1_000 + SESSION_MS)  # a's session (last heartbeat at 1000) expires
    assert "a" not in c.consumer_groups["g"].members
    assert c2.heartbeat(now_ms=1_000 + SESSION_MS).error == E.none
    assert len(c2.owned) == 2
    assert a.heartbeat(now_ms=1_000 + SESSION_MS).error == E.unknown_member_id


def test_fencing_by_epoch_and_instance_id() -> None:
    c, topics = coordinator(), Topics(t1=2)
    a = Member(c, topics, "a", instance_id="i1")
    a.heartbeat()
    assert a.heartbeat(member_epoch=a.epoch + 1).error == E.fenced_member_epoch
    other = Member(c, topics, "x", instance_id="i1")
    assert other.heartbeat().error == E.unreleased_instance_id
    assert Member(c, topics, "y").heartbeat(member_epoch=3).error == E.unknown_member_id
    assert Member(c, topics, "").heartbeat().error == E.invalid_request
    assert (
        Member(c, topics, "z", server_assignor="sticky").heartbeat().error == E.unsupported_assignor
    )
    bad = Member(c, topics, "r", subscribed_topic_regex="t(")
    assert bad.heartbeat().error == E.invalid_regular_expression


def test_a_static_member_comes_back_without_a_rebalance() -> None:
    c, topics = coordinator(), Topics(t1=2)
    a = Member(c, topics, "a", instance_id="i1")
    b = Member(c, topics, "b")
    a.heartbeat(), b.heartbeat(), a.heartbeat(), a.heartbeat(), b.heartbeat()
    group = c.consumer_groups["g"]
    epoch, a_owned = group.group_epoch, a.owned
    assert a.heartbeat(member_epoch=-2, instance_id="i1").member_epoch == -2
    again = Member(c, topics, "a2", instance_id="i1")
    r = again.heartbeat()
    assert r.error == E.none and again.owned == a_owned and group.group_epoch == epoch
    assert "a" not in group.members and group.static_members["i1"] == "a2"


def test_range_and_uniform_assignors() -> None:
    c, topics = coordinator(), Topics(t1=3, t2=3)
    names = ("t1", "t2")
    a = Member(c, topics, "a", server_assignor="range", subscribed_topic_names=names)
    b = Member(c, topics, "b", server_assignor="range", subscribed_topic_names=names)
    a.join.pop("subscribed_topic_names"), b.join.pop("subscribed_topic_names")
    a.heartbeat(subscribed_topic_names=names)
    b.heartbeat(subscribed_topic_names=names)
    group = c.consumer_groups["g"]
    assert group.target["a"] == {(T1, 0), (T1, 1), (T2, 0), (T2, 1)}
    assert group.target["b"] == {(T1, 2), (T2, 2)}
    assert c.consumer_group_describe(["g"])[0].assignor_name == "range"


def test_regex_subscription_follows_new_topics() -> None:
    c, topics = coordinator(), Topics(orders=2, payments=1)
    a = Member(c, topics, "a", subscribed_topic_regex="ord.*")
    a.heartbeat()
    assert {p for _, p in a.owned} == {0, 1}
    topics.topics["orders-eu"] = (uuid.UUID(int=9), 1)
    a.heartbeat()
    a.heartbeat()
    assert len(a.owned) == 3


def test_records_replay_to_the_same_group() -> None:
    c, topics = coordinator(), Topics(t1=4)
    a, b = Member(c, topics, "a", instance_id="i1"), Member(c, topics, "b")
    for m in (a, b, a, a, b):
        m.heartbeat()
    log = [kv for m in (a, b) for e in m.log for kv in iter_key_values(e.records)]
    assert {crec.decode_key(k).record_type for k, _ in log if k and crec.decode_key(k)} == {  # type: ignore[union-attr]
        3,
        5,
        6,
        7,
        8,
    }
    # replay in write order (the log of a and b interleaved as written)
    ordered = [
        kv
        for e in sorted(a.log + b.log, key=lambda e: e.write_id)
        for kv in iter_key_values(e.records)
    ]
    fresh = coordinator()
    fresh.load(c.partition_for("g"), ordered)
    before, after = c.consumer_groups["g"], fresh.consumer_groups["g"]
    assert (after.group_epoch, after.assignment_epoch) == (
        before.group_epoch,
        before.assignment_epoch,
    )
    assert after.target == before.target and after.static_members == {"i1": "a"}
    for member_id, m in before.members.items():
        loaded = after.members[member_id]
        assert (loaded.member_epoch, loaded.state, loaded.assigned) == (
            m.member_epoch,
            m.state,
            m.assigned,
        )
        assert loaded.subscribed_topic_names == ("t1",)
    assert "g" not in fresh.groups  # no classic group of the same id


@pytest.mark.parametrize("epoch_delta, error", [(0, E.none), (-1, E.stale_member_epoch)])
def test_offset_commit_checks_the_member_epoch(epoch_delta: int, error: ErrorCode) -> None:
    c, topics = coordinator(), Topics(t1=1)
    a = Member(c, topics, "a")
    a.heartbeat()
    from refka.group.messages import OffsetCommitEntry, OffsetCommitResult

    effects = c.commit_offsets(
        "commit", "g", "a", a.epoch + epoch_delta, [OffsetCommitEntry("t1", 0, 5, -1, "")], 0
    )
    (reply,) = [e for e in effects if isinstance(e, Reply)]
    assert isinstance(reply.result, OffsetCommitResult)
    assert reply.result.partitions[0].error == error


@pytest.mark.parametrize("regex", ["(?=x)t1", "(a)\\1", "a*+", "(?P<n>a)(?P=n)"])
def test_a_regex_outside_re2_syntax_is_refused(regex: str) -> None:
    c, topics = coordinator(), Topics(t1=1)
    r = Member(c, topics, "a", subscribed_topic_regex=regex).heartbeat()
    assert r.error == E.invalid_regular_expression


def test_list_join_and_delete_see_a_consumer_group() -> None:
    from refka.group.messages import JoinGroupRequest, JoinGroupResult

    c, topics = coordinator(), Topics(t1=1)
    a = Member(c, topics, "a")
    a.heartbeat()
    listed = c.list_groups((), ("consumer",))
    assert [(g.group_id, g.group_type, g.state) for g in listed] == [("g", "consumer", "Stable")]
    assert c.list_groups((), ("classic",)) == []
    classic = JoinGroupRequest("g", "", None, "connect", (("x", b""),), 10_000, 10_000)
    (reply,) = c.join_group("join", classic, 0)
    assert isinstance(reply, Reply) and isinstance(reply.result, JoinGroupResult)
    assert reply.result.error == E.inconsistent_group_protocol
    (reply,) = [e for e in c.delete_groups("del", ["g"], 0) if isinstance(e, Reply)]
    assert [d.error for d in reply.result] == [E.non_empty_group]  # type: ignore[attr-defined]
    a.heartbeat(member_epoch=-1)
    effects = c.delete_groups("del", ["g"], 0)
    (reply,) = [e for e in effects if isinstance(e, Reply)]
    assert [d.error for d in reply.result] == [E.none]  # type: ignore[attr-defined]
    assert "g" not in c.consumer_groups
    tombstones = [
        k
        for e in effects
        if isinstance(e, Append)
        for k, v in iter_key_values(e.records)
        if v is None
    ]
    assert {crec.decode_key(k).record_type for k in tombstones if k} == {3, 6}  # type: ignore[union-attr]


# -- classic members and the upgrade of a classic group (mixed_group) -------------------------


def classic_subscription(*topics: str) -> bytes:
    import io
    import struct

    from kio.schema.consumer_protocol_subscription.v1 import data as v1
    from kio.serial import entity_writer

    buffer = io.BytesIO()
    buffer.write(struct.pack(">h", 1))
    entity = v1.ConsumerProtocolSubscription(topics=topics, user_data=None, owned_partitions=())
    entity_writer(v1.ConsumerProtocolSubscription)(buffer, entity)
    return buffer.getvalue()


def classic_join(c: GroupCoordinator, topics: Topics, member_id: str) -> object:
    from refka.group.messages import JoinGroupRequest

    req = JoinGroupRequest(
        "g", member_id, None, "consumer", (("range", classic_subscription("t1")),), 10_000,
        10_000, require_known_member_id=False,
    )  # fmt: skip
    (reply,) = [e for e in c.join_group("join", req, 0, topics) if isinstance(e, Reply)]
    return reply.result


def test_a_consumer_member_upgrades_a_classic_group_and_classic_members_follow_epochs() -> None:
    from refka.group.consumer_protocol import decode_assignment, encode_assignment
    from refka.group.messages import JoinGroupResult, SyncGroupRequest, SyncGroupResult

    c, topics = coordinator(group_initial_rebalance_delay_ms=0), Topics(t1=2)
    joined = classic_join(c, topics, "")
    assert isinstance(joined, JoinGroupResult) and joined.error == E.none
    c.on_tick(0)
    plan = encode_assignment({"t1": frozenset({0, 1})})
    sync = SyncGroupRequest(
        "g", joined.member_id, joined.generation_id, assignments=((joined.member_id, plan),)
    )
    c.sync_group("sync", sync, 0)
    classic_id, generation = joined.member_id, joined.generation_id

    a = Member(c, topics, "a")
    r = a.heartbeat()  # the classic group becomes a consumer group; a waits for a partition
    assert r.error == E.none and "g" in c.consumer_groups and "g" not in c.groups
    group = c.consumer_groups["g"]
    assert group.group_epoch == generation + 1 and a.owned == frozenset()
    (hb,) = c.heartbeat("hb", "g", classic_id, generation, 0)
    assert isinstance(hb, Reply) and hb.result.error == E.rebalance_in_progress  # type: ignore[attr-defined]
    rejoined = classic_join(c, topics, classic_id)  # eager: it owns nothing now
    assert isinstance(rejoined, JoinGroupResult) and rejoined.generation_id == group.group_epoch
    (synced,) = c.sync_group("sync", SyncGroupRequest("g", classic_id, rejoined.generation_id), 0)
    assert isinstance(synced, Reply) and isinstance(synced.result, SyncGroupResult)
    classic_owned = {p for _, p in decode_assignment(synced.result.assignment)}
    assert len(classic_owned) == 1
    a.heartbeat()
    assert {p for _, p in a.owned} == {0, 1} - classic_owned
    assert group.state == "Stable"
    described = c.consumer_group_describe(["g"])[0]
    assert sorted(m.classic for m in described.members) == [False, True]
    (left,) = [
        e
        for e in c.leave_group("leave", "g", [LeavingMember(classic_id)], 0)
        if isinstance(e, Reply)
    ]
    assert [m.error for m in left.result.members] == [E.none]  # type: ignore[attr-defined]
    a.heartbeat()
    assert len(a.owned) == 2


def test_the_last_consumer_member_leaving_downgrades_to_a_classic_group() -> None:
    from refka.group.consumer_protocol import encode_assignment
    from refka.group.messages import JoinGroupResult, SyncGroupRequest
    from refka.group.state import GroupState

    c, topics = coordinator(group_initial_rebalance_delay_ms=0), Topics(t1=2)
    joined = classic_join(c, topics, "")
    assert isinstance(joined, JoinGroupResult)
    c.on_tick(0)
    plan = encode_assignment({"t1": frozenset({0, 1})})
    sync = SyncGroupRequest(
        "g", joined.member_id, joined.generation_id, assignments=((joined.member_id, plan),)
    )
    c.sync_group("sync", sync, 0)
    a = Member(c, topics, "a")
    a.heartbeat()
    epoch = c.consumer_groups["g"].group_epoch
    a.heartbeat(member_epoch=-1)
    assert "g" not in c.consumer_groups
    classic = c.groups["g"]
    assert classic.state is GroupState.PREPARING_REBALANCE
    assert classic.generation_id == epoch + 1 and list(classic.members) == [joined.member_id]
    (hb,) = c.heartbeat("hb", "g", joined.member_id, classic.generation_id, 0)
    assert isinstance(hb, Reply) and hb.result.error == E.rebalance_in_progress  # type: ignore[attr-defined]
    again = classic_join(c, topics, joined.member_id)  # completes the join at once: it is alone
    assert isinstance(again, JoinGroupResult) and again.error == E.none
    assert again.generation_id == epoch + 2 and again.leader == joined.member_id


def test_v0_lets_the_coordinator_choose_the_member_id() -> None:
    c, topics = coordinator(), Topics(t1=1)
    req = Hb(
        "g", "", 0, rebalance_timeout_ms=1_000, subscribed_topic_names=("t1",), owned=frozenset()
    )
    v0 = dataclasses.replace(req, coordinator_generates_id=True)
    (reply,) = [e for e in c.consumer_group_heartbeat("r", v0, topics, 0) if isinstance(e, Reply)]
    assert isinstance(reply, Reply) and isinstance(reply.result, ConsumerHeartbeatResult)
    assert reply.result.error == E.none and len(reply.result.member_id or "") == 22
    (refused,) = [
        e for e in c.consumer_group_heartbeat("r", req, topics, 0) if isinstance(e, Reply)
    ]
    assert refused.result.error == E.invalid_request  # type: ignore[attr-defined]


def test_offset_fetch_checks_a_named_member_and_its_epoch() -> None:
    c, topics = coordinator(), Topics(t1=1)
    a = Member(c, topics, "a")
    a.heartbeat()
    assert c.fetch_offsets("g", None, False, "a", a.epoch).error == E.none
    assert c.fetch_offsets("g", None, False, "a", a.epoch + 1).error == E.stale_member_epoch
    assert c.fetch_offsets("g", None, False, "x", a.epoch).error == E.unknown_member_id
    assert c.fetch_offsets("g", None).error == E.none  # an admin's fetch names no member


def test_uniform_is_balanced_and_sticky() -> None:
    from refka.group.assignors import uniform

    subs = {m: frozenset({T1}) for m in ("a", "b")}
    two = uniform(subs, {T1: 4}, {})
    assert sorted(len(p) for p in two.values()) == [2, 2]
    three = uniform({**subs, "c": frozenset({T1})}, {T1: 4}, two)
    assert sorted(len(p) for p in three.values()) == [1, 1, 2]
    assert all(three[m] <= two[m] for m in ("a", "b"))  # a and b only gave partitions up
    back = uniform(subs, {T1: 4}, three)
    assert sorted(len(p) for p in back.values()) == [2, 2]
    assert all(three[m] <= back[m] for m in ("a", "b"))
