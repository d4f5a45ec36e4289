"""Each transition of the classic group state machine, driven with a fake clock."""

from __future__ import annotations

import pytest
from group_helpers import GROUP, REBALANCE_MS, SESSION_MS, Driver, make_coordinator
from kio.schema.errors import ErrorCode
from refka.group.classic_group import ClassicGroup
from refka.group.messages import JoinGroupRequest, LeavingMember
from refka.group.state import GroupState, IllegalStateTransition

E = ErrorCode


def state(d: Driver, group: str = GROUP) -> GroupState:
    return d.coordinator.groups[group].state


def test_first_join_gets_member_id_required_and_the_group_stays_empty() -> None:
    d = Driver()
    result = d.join_result(d.join())
    assert result.error == E.member_id_required
    assert result.member_id.startswith("c-")
    assert state(d) is GroupState.EMPTY


def test_single_member_join_completes_a_generation_with_itself_as_leader() -> None:
    d = Driver()
    result = d.join_result(d.new_member())
    assert result.error == E.none
    assert result.generation_id == 1
    assert result.leader == result.member_id
    assert [m.member_id for m in result.members] == [result.member_id]
    assert result.protocol_name == "range"
    assert state(d) is GroupState.COMPLETING_REBALANCE


def test_leader_gets_every_members_metadata_and_followers_get_none() -> None:
    d = Driver()
    first = d.join_result(d.new_member(protocols=(("range", b"one"),)))
    assert first.generation_id == 1
    d.sync(first.member_id, 1, ((first.member_id, b"x"),))
    assert state(d) is GroupState.STABLE
    second_token = d.new_member(protocols=(("range", b"two"),))
    assert second_token not in d.replies  # waits for the leader to rejoin
    assert state(d) is GroupState.PREPARING_REBALANCE
    assert d.heartbeat(first.member_id, 1) == E.rebalance_in_progress
    leader_token = d.join(member_id=first.member_id, protocols=(("range", b"one"),))
    leader, follower = d.join_result(leader_token), d.join_result(second_token)
    assert leader.generation_id == follower.generation_id == 2
    assert leader.leader == follower.leader == first.member_id
    assert {m.member_id: m.metadata for m in leader.members} == {
        first.member_id: b"one",
        follower.member_id: b"two",
    }
    assert follower.members == ()


def test_follower_sync_waits_for_the_leaders_assignment() -> None:
    d = Driver()
    t1, t2 = d.new_member(), d.new_member()
    # With no initial delay the first member completes generation 1 alone; the second
    # member's join starts generation 2, which needs the first to rejoin.
    first = d.join_result(t1)
    d.sync(first.member_id, 1, ((first.member_id, b""),))
    assert t2 not in d.replies
    d.apply([])
    t1b = d.join(member_id=first.member_id)
    leader, follower = d.join_result(t1b), d.join_result(t2)
    follower_sync = d.sync(follower.member_id, 2)
    assert follower_sync not in d.replies
    assert state(d) is GroupState.COMPLETING_REBALANCE
    leader_sync = d.sync(
        leader.member_id, 2, ((leader.member_id, b"L"), (follower.member_id, b"F"))
    )
    assert d.sync_result(follower_sync).assignment == b"F"
    assert d.sync_result(leader_sync).assignment == b"L"
    assert state(d) is GroupState.STABLE


def test_three_members_one_round_each_owns_its_assignment() -> None:
    d = Driver(coordinator=make_coordinator(group_initial_rebalance_delay_ms=3_000))
    tokens = [d.new_member() for _ in range(3)]
    assert all(t not in d.replies for t in tokens)  # the initial delay holds the join
    d.tick(3_000)
    results = [d.join_result(t) for t in tokens]
    assert {r.generation_id for r in results} == {1}
    assert len({r.member_id for r in results}) == 3
    leader = results[0].leader
    syncs = {r.member_id: d.sync(r.member_id, 1) for r in results if r.member_id != leader}
    d.sync(leader, 1, tuple((r.member_id, r.member_id.encode()) for r in results))
    for member_id, token in syncs.items():
        assert d.sync_result(token).assignment == member_id.encode()


def test_initial_rebalance_delay_is_extended_by_new_members_up_to_the_rebalance_timeout() -> None:
    d = Driver(coordinator=make_coordinator(group_initial_rebalance_delay_ms=3_000))
    t1 = d.new_member(rebalance_ms=5_000)
    d.tick(2_000)
    t2 = d.new_member(rebalance_ms=5_000)
    d.tick(2_000)  # 4 s: the second join pushed the end to 5 s (capped by the 5 s timeout)
    assert t1 not in d.replies and t2 not in d.replies
    d.tick(1_000)
    assert d.join_result(t1).generation_id == d.join_result(t2).generation_id == 1


def test_heartbeat_errors() -> None:
    d = Driver()
    leader, follower = d.stable_group(2)
    generation = d.coordinator.groups[GROUP].generation_id
    assert d.heartbeat(leader, generation) == E.none
    assert d.heartbeat(follower, generation - 1) == E.illegal_generation
    assert d.heartbeat("nobody", generation) == E.unknown_member_id


def test_session_timeout_evicts_a_silent_member_and_the_group_rebalances() -> None:
    d = Driver()
    leader, follower = d.stable_group(2)
    generation = d.coordinator.groups[GROUP].generation_id
    for _ in range(3):
        d.tick(SESSION_MS // 2)
        assert d.heartbeat(leader, generation) in (E.none, E.rebalance_in_progress)
    group = d.coordinator.groups[GROUP]
    assert follower not in group.members
    assert group.state is GroupState.PREPARING_REBALANCE
    rejoin = d.join(member_id=leader)
    result = d.join_result(rejoin)
    assert result.generation_id == generation + 1
    assert [m.member_id for m in result.members] == [leader]


def test_rebalance_timeout_drops_members_that_do_not_rejoin() -> None:
    d = Driver()
    leader, follower = d.stable_group(2)
    newcomer = d.new_member()
    leader_rejoin = d.join(member_id=leader)
    assert leader_rejoin not in d.replies
    # The follower heartbeats (so its session stays alive) but never rejoins.
    for _ in range(REBALANCE_MS // 5_000):
        d.tick(5_000)
        if follower in d.coordinator.groups[GROUP].members:
            d.heartbeat(follower, 1)
    result = d.join_result(leader_rejoin)
    assert result.error == E.none
    assert {m.member_id for m in result.members} == {leader, d.join_result(newcomer).member_id}
    assert d.heartbeat(follower, result.generation_id) == E.unknown_member_id


def test_sync_timeout_removes_members_that_never_sync() -> None:
    d = Driver()
    token = d.new_member()
    member = d.join_result(token).member_id
    d.tick(REBALANCE_MS)
    group = d.coordinator.groups[GROUP]
    assert member not in group.members
    assert group.state is GroupState.EMPTY
    assert group.generation_id == 2


def test_leave_group_rebalances_the_rest() -> None:
    d = Driver()
    leader, follower = d.stable_group(2)
    token = d.token()
    d.apply(d.coordinator.leave_group(token, GROUP, [_leaving(follower)], d.now_ms))
    assert d.replies[token].error == E.none  # type: ignore[attr-defined]
    assert state(d) is GroupState.PREPARING_REBALANCE
    result = d.join_result(d.join(member_id=leader))
    assert [m.member_id for m in result.members] == [leader]
    token = d.token()
    d.apply(d.coordinator.leave_group(token, GROUP, [_leaving("ghost")], d.now_ms))
    assert d.replies[token].members[0].error == E.unknown_member_id  # type: ignore[attr-defined]


def test_after_the_leader_leaves_a_late_follower_sync_gets_the_new_generations_share() -> None:
    """The sequence under a flaky client run: of three members the leader leaves; the other
    two hear REBALANCE_IN_PROGRESS, rejoin, and the follower's SyncGroup arrives after the
    leader's. Each is answered with its own share of the new generation; the old is fenced."""
    d = Driver()
    leaving, new_leader, follower = d.stable_group(3)
    old = d.coordinator.groups[GROUP].generation_id
    d.apply(d.coordinator.leave_group(d.token(), GROUP, [_leaving(leaving)], d.now_ms))
    assert d.heartbeat(new_leader, old) == d.heartbeat(follower, old) == E.rebalance_in_progress
    follower_join, leader_join = d.join(member_id=follower), d.join(member_id=new_leader)
    joined = d.join_result(leader_join)
    assert joined.leader == new_leader
    assert joined.generation_id == d.join_result(follower_join).generation_id == old + 1
    assert {m.member_id for m in joined.members} == {new_leader, follower}
    assert d.sync_result(d.sync(follower, old)).error == E.illegal_generation
    shares = ((new_leader, b"L"), (follower, b"F"))
    assert d.sync_result(d.sync(new_leader, old + 1, shares)).assignment == b"L"
    assert d.heartbeat(follower, old + 1) == E.none
    assert d.sync_result(d.sync(follower, old + 1)).assignment == b"F"


def test_last_member_leaving_empties_the_group_with_a_new_generation() -> None:
    d = Driver()
    (only,) = d.stable_group(1)
    d.apply(d.coordinator.leave_group(d.token(), GROUP, [_leaving(only)], d.now_ms))
    group = d.coordinator.groups[GROUP]
    assert group.state is GroupState.EMPTY
    assert group.generation_id == 2


def test_static_member_rejoin_keeps_its_assignment_and_fences_the_old_id() -> None:
    d = Driver()
    first = d.join_result(d.join(instance_id="i-1"))
    assert first.error == E.none  # static members skip MEMBER_ID_REQUIRED
    d.sync(first.member_id, 1, ((first.member_id, b"mine"),), instance_id="i-1")
    again = d.join_result(d.join(instance_id="i-1"))
    assert again.error == E.none
    assert again.member_id != first.member_id
    assert again.generation_id == 1  # no rebalance
    assert state(d) is GroupState.STABLE
    assert d.sync_result(d.sync(again.member_id, 1, instance_id="i-1")).assignment == b"mine"
    old = d.sync_result(d.sync(first.member_id, 1, instance_id="i-1"))
    assert old.error == E.fenced_instance_id


def test_delete_groups() -> None:
    d = Driver()
    d.stable_group(1)
    token = d.token()
    d.apply(d.coordinator.delete_groups(token, [GROUP, "missing"], d.now_ms))
    assert [r.error for r in d.replies[token]] == [E.non_empty_group, E.group_id_not_found]  # type: ignore[attr-defined]
    (only,) = d.coordinator.groups[GROUP].members
    d.apply(d.coordinator.leave_group(d.token(), GROUP, [_leaving(only)], d.now_ms))
    token = d.token()
    d.apply(d.coordinator.delete_groups(token, [GROUP], d.now_ms))
    assert [r.error for r in d.replies[token]] == [E.none]  # type: ignore[attr-defined]
    assert GROUP not in d.coordinator.groups
    assert d.records()[-1][1] is None  # the group metadata tombstone


def test_inconsistent_protocols_are_refused() -> None:
    d = Driver()
    d.stable_group(1)
    result = d.join_result(d.join(protocols=(("roundrobin", b""),)))
    assert result.error == E.inconsistent_group_protocol


def test_session_timeout_outside_the_brokers_bounds_is_refused() -> None:
    d = Driver()
    result = d.join_result(d.join(session_ms=10))
    assert result.error == E.invalid_session_timeout


def test_protocol_selection_takes_the_most_preferred_common_protocol() -> None:
    c = make_coordinator(group_initial_rebalance_delay_ms=1_000)
    for i, protocols in enumerate(
        [(("sticky", b""), ("range", b"")), (("range", b""), ("sticky", b"")), (("range", b""),)]
    ):
        req = JoinGroupRequest(GROUP, "", f"i{i}", "consumer", protocols, SESSION_MS, REBALANCE_MS)
        c.join_group(f"t{i}", req, 0)
    assert c.groups[GROUP].select_protocol() == "range"


def test_illegal_transition_raises_and_leaves_state_unchanged() -> None:
    group = ClassicGroup("g")
    with pytest.raises(IllegalStateTransition):
        group.transition_to(GroupState.STABLE, 5)
    assert group.state is GroupState.EMPTY
    assert group.state_timestamp_ms == -1
    group.transition_to(GroupState.PREPARING_REBALANCE, 6)
    with pytest.raises(IllegalStateTransition):
        group.transition_to(GroupState.STABLE, 7)
    assert group.state is GroupState.PREPARING_REBALANCE


def _leaving(member_id: str) -> LeavingMember:
    return LeavingMember(member_id)
