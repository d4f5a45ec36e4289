"""Rebuild the coordinator's state from a ``__consumer_offsets`` partition on start.

The log is replayed in order; the last record of each key wins and a tombstone (null value)
deletes, exactly what compaction would leave. A group with members comes back Stable with its
generation, leader and assignments (its members' sessions restart at the first tick, so members
that are gone expire after one session timeout); a group without members comes back Empty.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from refka.group import records as rec
from refka.group.classic_group import ClassicGroup
from refka.group.member import ClassicMember
from refka.group.state import GroupState

if TYPE_CHECKING:
    from refka.group.coordinator import GroupCoordinator


def load_partition(
    coordinator: GroupCoordinator, partition: int, records: Iterable[object]
) -> None:
    """``records``: objects with ``.key`` and ``.value`` bytes, or ``(key, value)`` pairs."""
    from refka.group.offsets import StoredOffset

    groups: dict[str, rec.GroupMetadataValue | None] = {}
    offsets: dict[rec.OffsetCommitKey, rec.OffsetCommitValue | None] = {}
    for record in records:
        key_bytes, value = (
            record if isinstance(record, tuple) else (record.key, record.value)  # type: ignore[attr-defined]
        )
        if key_bytes is None:
            continue
        key = rec.decode_key(bytes(key_bytes))
        if isinstance(key, rec.GroupMetadataKey):
            groups[key.group] = (
                None if value is None else rec.decode_group_metadata_value(bytes(value))
            )
        elif isinstance(key, rec.OffsetCommitKey):
            offsets[key] = None if value is None else rec.decode_offset_commit_value(bytes(value))
    for group_id, metadata in groups.items():
        if metadata is not None:
            coordinator.groups[group_id] = _group_from_record(group_id, metadata)
    for k, v in offsets.items():
        if v is None:
            continue
        stored = coordinator.offsets.setdefault(k.group, {})
        stored[(k.topic, k.partition)] = StoredOffset(
            v.offset, v.leader_epoch, v.metadata, v.commit_timestamp_ms, v.expire_timestamp_ms
        )
        if k.group not in coordinator.groups:
            coordinator.groups[k.group] = ClassicGroup(
                k.group, state_timestamp_ms=v.commit_timestamp_ms
            )


def _group_from_record(group_id: str, value: rec.GroupMetadataValue) -> ClassicGroup:
    group = ClassicGroup(
        group_id,
        state=GroupState.STABLE if value.members else GroupState.EMPTY,
        state_timestamp_ms=value.current_state_timestamp_ms,
        generation_id=value.generation,
        protocol_type=value.protocol_type or None,
        protocol_name=value.protocol,
        leader_id=value.leader,
    )
    for m in value.members:
        member = ClassicMember(
            member_id=m.member_id,
            group_instance_id=m.group_instance_id,
            client_id=m.client_id,
            client_host=m.client_host,
            session_timeout_ms=m.session_timeout_ms,
            rebalance_timeout_ms=m.rebalance_timeout_ms,
            protocol_type=value.protocol_type,
            protocols=((value.protocol or "", m.subscription),),
            assignment=m.assignment,
        )
        group.members[m.member_id] = member
        if m.group_instance_id is not None:
            group.static_members[m.group_instance_id] = m.member_id
    if group.leader_id not in group.members:
        group.leader_id = next(iter(group.members), None)
    return group
