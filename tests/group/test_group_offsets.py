"""CommitOffset, OffsetFetch, retention and the __consumer_offsets records, with a fake clock."""

from __future__ import annotations

from group_helpers import GROUP, Driver, make_coordinator
from kio.schema.errors import ErrorCode
from refka.group import records as rec
from refka.group.messages import Append, LeavingMember, OffsetCommitEntry
from refka.group.partitioner import java_string_hash, partition_for
from refka.group.state import GroupState

E = ErrorCode


def commit(
    d: Driver, member_id: str, generation: int, offset: int, metadata: str = ""
) -> ErrorCode:
    token = d.token()
    entries = [OffsetCommitEntry("t", 0, offset, 3, metadata)]
    d.apply(d.coordinator.commit_offsets(token, GROUP, member_id, generation, entries, d.now_ms))
    (result,) = d.replies[token].partitions  # type: ignore[attr-defined]
    return result.error  # type: ignore[no-any-return]


def fetched(d: Driver) -> tuple[int, str]:
    (o,) = d.coordinator.fetch_offsets(GROUP, [("t", [0])]).partitions
    return o.offset, o.metadata


def test_java_string_hash_and_partition_for() -> None:
    assert java_string_hash("hello") == 99162322
    assert java_string_hash("") == 0
    assert java_string_hash("polygenelubricants") == -(2**31)
    assert partition_for("polygenelubricants", 50) == 0
    assert partition_for("hello", 50) == 99162322 % 50


def test_member_commit_is_stored_and_a_zombie_commit_is_not() -> None:
    d = Driver()
    leader, follower = d.stable_group(2)
    generation = d.coordinator.groups[GROUP].generation_id
    assert commit(d, leader, generation, 10, "meta") == E.none
    assert fetched(d) == (10, "meta")
    # The follower leaves; the group moves to a new generation without it.
    d.apply(d.coordinator.leave_group(d.token(), GROUP, [LeavingMember(follower)], d.now_ms))
    d.join(member_id=leader)
    assert commit(d, leader, generation, 11) == E.illegal_generation
    assert commit(d, follower, generation, 12) == E.unknown_member_id
    assert fetched(d) == (10, "meta")


def test_commit_during_completing_rebalance_is_refused() -> None:
    d = Driver()
    result = d.join_result(d.new_member())
    assert commit(d, result.member_id, result.generation_id, 5) == E.rebalance_in_progress


def test_simple_commit_needs_an_empty_group() -> None:
    d = Driver()
    assert commit(d, "", -1, 7) == E.none
    assert d.coordinator.groups[GROUP].state is GroupState.EMPTY
    d.stable_group(1)
    assert commit(d, "", -1, 8) == E.unknown_member_id
    assert fetched(d) == (7, "")


def test_unknown_group_commit_with_a_generation_is_illegal() -> None:
    d = Driver()
    assert commit(d, "m", 3, 1) == E.illegal_generation
    assert fetched(d) == (-1, "")


def test_offsets_and_group_load_back_from_the_records_emitted() -> None:
    d = Driver()
    leader, follower = d.stable_group(2)
    generation = d.coordinator.groups[GROUP].generation_id
    assert commit(d, leader, generation, 42, "résumé") == E.none
    partition = d.coordinator.partition_for(GROUP)
    assert list(d.appended) == [partition]
    restarted = make_coordinator()
    for p, buffers in d.appended.items():
        restarted.load(p, [kv for b in buffers for kv in rec.iter_key_values(b)])
    group = restarted.groups[GROUP]
    assert group.state is GroupState.STABLE
    assert group.generation_id == generation
    assert group.leader_id == leader
    assert {m: group.members[m].assignment for m in group.members} == {
        leader: f"a-{leader}".encode(),
        follower: f"a-{follower}".encode(),
    }
    (o,) = restarted.fetch_offsets(GROUP, None).partitions
    assert (o.topic, o.partition, o.offset, o.leader_epoch, o.metadata) == ("t", 0, 42, 3, "résumé")


def test_loaded_members_that_never_come_back_expire_after_a_session() -> None:
    d = Driver()
    d.stable_group(1)
    restarted = Driver(coordinator=make_coordinator(), now_ms=100_000)
    restarted.coordinator.load(0, d.records())
    restarted.tick(0)
    restarted.tick(10_000)
    group = restarted.coordinator.groups[GROUP]
    assert group.state is GroupState.EMPTY
    assert not group.members


def test_deleted_offsets_stay_deleted_after_reload() -> None:
    d = Driver()
    assert commit(d, "", -1, 7) == E.none
    token = d.token()
    d.apply(d.coordinator.delete_offsets(token, GROUP, [("t", 0)], d.now_ms))
    assert d.replies[token].partitions[0].error == E.none  # type: ignore[attr-defined]
    restarted = make_coordinator()
    restarted.load(0, d.records())
    assert restarted.fetch_offsets(GROUP, None).partitions == ()


def test_offset_delete_refuses_a_subscribed_topic() -> None:
    d = Driver()
    subscription = b"\x00\x00" + b"\x00\x00\x00\x01" + b"\x00\x01t" + b"\x00\x00\x00\x00"
    token = d.new_member(protocols=(("range", subscription),))
    member = d.join_result(token).member_id
    d.sync(member, 1, ((member, b""),))
    token = d.token()
    d.apply(d.coordinator.delete_offsets(token, GROUP, [("t", 0), ("u", 0)], d.now_ms))
    errors = [p.error for p in d.replies[token].partitions]  # type: ignore[attr-defined]
    assert errors == [E.group_subscribed_to_topic, E.none]


def test_offsets_of_an_empty_group_expire_after_the_retention_and_the_group_goes() -> None:
    d = Driver(coordinator=make_coordinator(offsets_retention_minutes=1))
    d.tick(0)  # schedules the first retention check
    (only,) = d.stable_group(1)
    assert commit(d, only, 1, 5) == E.none
    d.apply(d.coordinator.leave_group(d.token(), GROUP, [LeavingMember(only)], d.now_ms))
    d.tick(30_000)
    d.coordinator.expire_offsets(d.now_ms)
    assert fetched(d) == (5, "")  # still within a minute of becoming Empty
    d.tick(31_000)
    d.coordinator.expire_offsets(d.now_ms)
    d.apply(list(d.coordinator.flush_records(d.now_ms)))
    assert fetched(d) == (-1, "")
    assert GROUP not in d.coordinator.groups
    tombstones = [rec.decode_key(k) for k, v in d.records() if v is None and k is not None]
    assert rec.OffsetCommitKey(GROUP, "t", 0) in tombstones
    assert rec.GroupMetadataKey(GROUP) in tombstones


def test_offsets_of_a_stable_group_do_not_expire() -> None:
    d = Driver(coordinator=make_coordinator(offsets_retention_minutes=1))
    (only,) = d.stable_group(1)
    assert commit(d, only, 1, 5) == E.none
    for _ in range(30):
        d.tick(5_000)
        d.heartbeat(only, 1)
    d.coordinator.expire_offsets(d.now_ms)
    assert fetched(d) == (5, "")


def test_record_formats_match_kafkas_layout() -> None:
    key = rec.encode_offset_commit_key(rec.OffsetCommitKey("g", "t", 1))
    assert key == b"\x00\x01" + b"\x00\x01g" + b"\x00\x01t" + b"\x00\x00\x00\x01"
    value = rec.encode_offset_commit_value(rec.OffsetCommitValue(5, 2, "m", 9))
    assert value == (
        b"\x00\x03"
        + (5).to_bytes(8, "big")
        + (2).to_bytes(4, "big")
        + b"\x00\x01m"
        + (9).to_bytes(8, "big")
    )
    assert rec.encode_group_metadata_key(rec.GroupMetadataKey("g")) == b"\x00\x02\x00\x01g"
    group_value = rec.GroupMetadataValue(
        "consumer",
        3,
        "range",
        "m1",
        77,
        (rec.MemberMetadata("m1", None, "c", "/h", 30, 10, b"s", b"a"),),
    )
    assert (
        rec.decode_group_metadata_value(rec.encode_group_metadata_value(group_value)) == group_value
    )
    legacy = rec.OffsetCommitValue(5, -1, "m", 9, 99)
    assert rec.decode_offset_commit_value(rec.encode_offset_commit_value(legacy)) == legacy


def pending_commit(d: Driver, offset: int) -> int:
    """A simple-group commit whose write the driver has not reported yet: its write id."""
    entries = [OffsetCommitEntry("t", 0, offset, 3, "")]
    (append, _) = d.coordinator.commit_offsets(d.token(), GROUP, "", -1, entries, d.now_ms)
    assert isinstance(append, Append)
    return append.write_id


def test_a_commit_is_visible_only_once_its_write_is_reported() -> None:
    """Pending vs committed offsets: OffsetFetch sees a commit only after ``complete_write``
    reports its append replicated; a failed write is dropped, the previous offset stays."""
    d = Driver()
    assert commit(d, "", -1, 5) == E.none
    first, second = pending_commit(d, 7), pending_commit(d, 8)
    assert fetched(d) == (5, "")
    d.coordinator.complete_write(first, E.request_timed_out)
    assert fetched(d) == (5, "")
    d.coordinator.complete_write(second, E.none)
    assert fetched(d) == (8, "")
    assert d.coordinator.pending_offsets == {}


def test_an_offset_deleted_while_pending_stays_deleted() -> None:
    d = Driver()
    write_id = pending_commit(d, 7)
    token = d.token()
    d.apply(d.coordinator.delete_offsets(token, GROUP, [("t", 0)], d.now_ms))
    d.coordinator.complete_write(write_id, E.none)
    assert fetched(d) == (-1, "")
