"""Bug switch ZOMBIE_COMMIT (spec/bugs/ConsumerGroup_ZombieCommit.cfg): with it the coordinator
stores an OffsetCommit whatever the member id and generation; without it (Kafka) a zombie of
an ended generation gets ILLEGAL_GENERATION / UNKNOWN_MEMBER_ID and nothing is stored."""

from __future__ import annotations

import pytest
from group_helpers import GROUP, Driver, make_coordinator
from kio.schema.errors import ErrorCode
from refka.group.messages import LeavingMember, OffsetCommitEntry


def commit(d: Driver, member_id: str, generation: int, offset: int) -> ErrorCode:
    token = d.token()
    entries = [OffsetCommitEntry("t", 0, offset, 3, "")]
    d.apply(d.coordinator.commit_offsets(token, GROUP, member_id, generation, entries, d.now_ms))
    (result,) = d.replies[token].partitions  # type: ignore[attr-defined]
    return result.error  # type: ignore[no-any-return]


def committed(d: Driver) -> int:
    (o,) = d.coordinator.fetch_offsets(GROUP, [("t", [0])]).partitions
    return int(o.offset)


@pytest.mark.parametrize("fence", [True, False])
def test_a_zombie_of_an_ended_generation_commits_only_under_the_switch(fence: bool) -> None:
    d = Driver(coordinator=make_coordinator(fence_offset_commits=fence))
    leader, zombie = d.stable_group(2)
    generation = d.coordinator.groups[GROUP].generation_id
    assert commit(d, zombie, generation, 10) == ErrorCode.none
    # the zombie's session ends: it leaves, the leader rejoins in a new generation
    d.apply(d.coordinator.leave_group(d.token(), GROUP, [LeavingMember(zombie)], d.now_ms))
    d.join(member_id=leader)
    assert d.coordinator.groups[GROUP].generation_id == generation + 1
    stale_generation = commit(d, leader, generation, 11)
    unknown_member = commit(d, zombie, generation, 12)
    if fence:
        assert stale_generation == ErrorCode.illegal_generation
        assert unknown_member == ErrorCode.unknown_member_id
        assert committed(d) == 10
    else:
        assert stale_generation == unknown_member == ErrorCode.none
        assert committed(d) == 12


@pytest.mark.parametrize("fence", [True, False])
def test_a_commit_with_a_generation_to_an_unknown_group(fence: bool) -> None:
    d = Driver(coordinator=make_coordinator(fence_offset_commits=fence))
    error = commit(d, "zombie", 3, 5)
    assert error == (ErrorCode.illegal_generation if fence else ErrorCode.none)
    if not fence:
        assert committed(d) == 5
