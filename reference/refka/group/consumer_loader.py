"""Rebuild KIP-848 consumer groups from a ``__consumer_offsets`` partition at failover.

The last record of each key wins and a tombstone deletes (what compaction leaves). A group
comes back with its group and assignment epochs, its target assignment and each member's
subscription and current assignment (epoch, state, assigned, pending revocation); members'
sessions restart at the first tick. The subscribed topics are read again from the metadata
image at the next heartbeat (``ConsumerGroup.topics`` is None until then).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from refka.group import consumer_records as crec
from refka.group.consumer_group import ConsumerGroup
from refka.group.consumer_member import ClassicInfo, ConsumerMember, MemberState, flatten

if TYPE_CHECKING:
    from refka.group.coordinator import GroupCoordinator

Latest = dict[crec.ConsumerKey, bytes | None]


def load_consumer_groups(coordinator: GroupCoordinator, records: Iterable[object]) -> None:
    """``records``: objects with ``.key`` and ``.value`` bytes, or ``(key, value)`` pairs."""
    latest: Latest = {}
    for record in records:
        key_bytes, value = (
            record if isinstance(record, tuple) else (record.key, record.value)  # type: ignore[attr-defined]
        )
        if key_bytes is None:
            continue
        key = crec.decode_key(bytes(key_bytes))
        if key is not None:
            latest[key] = None if value is None else bytes(value)
    groups: dict[str, ConsumerGroup] = {}
    for key, value in latest.items():
        if value is None:
            continue
        group = groups.setdefault(key.group, ConsumerGroup(key.group))
        _apply(group, key, value)
    for group_id, group in groups.items():
        for member_id in [m for m, x in group.members.items() if not x.member_id]:
            del group.members[member_id]  # a member without its metadata record
        coordinator.consumer_groups[group_id] = group
        coordinator.groups.pop(group_id, None)  # not a classic group (offsets stay)


def _apply(group: ConsumerGroup, key: crec.ConsumerKey, value: bytes) -> None:
    if key.record_type == crec.GROUP_METADATA:
        group.group_epoch = crec.decode_epoch(value)
        return
    if key.record_type == crec.TARGET_METADATA:
        group.assignment_epoch = crec.decode_epoch(value)
        return
    if key.member is None:
        return
    member = group.members.setdefault(key.member, ConsumerMember(""))
    if key.record_type == crec.MEMBER_METADATA:
        v = crec.decode_member_metadata(value)
        member.member_id, member.instance_id, member.rack_id = key.member, v.instance_id, v.rack_id
        member.client_id, member.client_host = v.client_id, v.client_host
        member.subscribed_topic_names = v.subscribed_topic_names
        member.subscribed_topic_regex = v.subscribed_topic_regex
        member.rebalance_timeout_ms, member.server_assignor = (
            v.rebalance_timeout_ms,
            v.server_assignor,
        )
        if v.instance_id is not None:
            group.static_members[v.instance_id] = key.member
        if v.classic is not None:
            member.classic = ClassicInfo(v.classic[0], v.classic[1])
    elif key.record_type == crec.TARGET_MEMBER:
        group.target[key.member] = flatten(crec.decode_target_member(value))
    elif key.record_type == crec.CURRENT_ASSIGNMENT:
        v2 = crec.decode_current_assignment(value)
        member.member_epoch, member.previous_member_epoch = (
            v2.member_epoch,
            v2.previous_member_epoch,
        )
        member.state = MemberState(v2.state) if v2.state in (0, 1, 2) else MemberState.UNKNOWN
        member.assigned, member.revoking = flatten(dict(v2.assigned)), flatten(dict(v2.revoking))
