"""Version-agnostic requests and results of the group APIs, and the coordinator's effects.

The wire layer (``refka.handlers.group``) turns kio entities of any version into these and
back; the coordinator sees only these.
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass

from kio.schema.errors import ErrorCode


@dataclass(frozen=True, slots=True)
class Reply:
    """Answer the request identified by the opaque token ``request`` with ``result``."""

    request: object
    result: object


@dataclass(frozen=True, slots=True)
class Append:
    """Append ``records`` (one v2 record batch) to ``__consumer_offsets`` partition ``partition``.

    The driver must make the append durable before it sends the replies that follow it in the
    same effect list (persist before acknowledging), and then report the outcome with
    ``GroupCoordinator.complete_write(write_id, error)``: offsets committed by the append become
    visible to OffsetFetch only when it succeeds.
    """

    partition: int
    records: bytes
    write_id: int = 0


Effect = Reply | Append


# -- JoinGroup / SyncGroup ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class JoinGroupRequest:
    group_id: str
    member_id: str
    group_instance_id: str | None
    protocol_type: str
    protocols: tuple[tuple[str, bytes], ...]
    session_timeout_ms: int
    rebalance_timeout_ms: int
    client_id: str = ""
    client_host: str = ""
    require_known_member_id: bool = True  # JoinGroup v4+ (KIP-394)


@dataclass(frozen=True, slots=True)
class JoinedMember:
    member_id: str
    group_instance_id: str | None
    metadata: bytes


@dataclass(frozen=True, slots=True)
class JoinGroupResult:
    error: ErrorCode
    member_id: str = ""
    generation_id: int = -1
    protocol_type: str | None = None
    protocol_name: str | None = None
    leader: str = ""
    members: tuple[JoinedMember, ...] = ()
    skip_assignment: bool = False


@dataclass(frozen=True, slots=True)
class SyncGroupRequest:
    group_id: str
    member_id: str
    generation_id: int
    group_instance_id: str | None = None
    protocol_type: str | None = None
    protocol_name: str | None = None
    assignments: tuple[tuple[str, bytes], ...] = ()


@dataclass(frozen=True, slots=True)
class SyncGroupResult:
    error: ErrorCode
    assignment: bytes = b""
    protocol_type: str | None = None
    protocol_name: str | None = None


# -- Heartbeat / LeaveGroup --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HeartbeatResult:
    error: ErrorCode


@dataclass(frozen=True, slots=True)
class LeavingMember:
    member_id: str
    group_instance_id: str | None = None


@dataclass(frozen=True, slots=True)
class LeftMember:
    member_id: str
    group_instance_id: str | None
    error: ErrorCode


@dataclass(frozen=True, slots=True)
class LeaveGroupResult:
    error: ErrorCode
    members: tuple[LeftMember, ...] = ()


# -- Offsets -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OffsetCommitEntry:
    topic: str
    partition: int
    offset: int
    leader_epoch: int = -1
    metadata: str | None = ""


@dataclass(frozen=True, slots=True)
class PartitionResult:
    topic: str
    partition: int
    error: ErrorCode


@dataclass(frozen=True, slots=True)
class OffsetCommitResult:
    """``topic_ids``: (name, id) of the topics an OffsetCommit v10+ named by id (KIP-848), for
    the answer to name them so again."""

    partitions: tuple[PartitionResult, ...]
    topic_ids: tuple[tuple[str, uuid.UUID], ...] = ()


@dataclass(frozen=True, slots=True)
class CommittedOffset:
    """One committed offset as OffsetFetch reports it (-1 and "" when none is stored)."""

    topic: str
    partition: int
    offset: int
    leader_epoch: int
    metadata: str
    error: ErrorCode = ErrorCode.none


@dataclass(frozen=True, slots=True)
class GroupOffsets:
    group_id: str
    error: ErrorCode
    partitions: tuple[CommittedOffset, ...] = ()


@dataclass(frozen=True, slots=True)
class OffsetDeleteResult:
    error: ErrorCode
    partitions: tuple[PartitionResult, ...] = ()


# -- Admin -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DescribedMember:
    member_id: str
    group_instance_id: str | None
    client_id: str
    client_host: str
    metadata: bytes
    assignment: bytes


@dataclass(frozen=True, slots=True)
class DescribedGroup:
    group_id: str
    error: ErrorCode
    state: str
    protocol_type: str
    protocol_name: str
    members: tuple[DescribedMember, ...] = ()


@dataclass(frozen=True, slots=True)
class ListedGroup:
    group_id: str
    protocol_type: str
    state: str
    group_type: str = "classic"


@dataclass(frozen=True, slots=True)
class DeletedGroup:
    group_id: str
    error: ErrorCode


def with_error(result: object, error: ErrorCode) -> object:
    """``result`` as answered when the write it waited for failed with ``error``: every part
    that had succeeded gets ``error`` (a part that had failed keeps its own error)."""
    if isinstance(result, OffsetCommitResult):
        failed = tuple(_failed_part(p, error) for p in result.partitions)
        return dataclasses.replace(result, partitions=failed)
    if isinstance(result, tuple):
        return tuple(
            DeletedGroup(g.group_id, error) if g.error == ErrorCode.none else g for g in result
        )
    if getattr(result, "error", None) == ErrorCode.none:
        return dataclasses.replace(result, error=error)  # type: ignore[type-var]
    return result


def _failed_part(part: PartitionResult, error: ErrorCode) -> PartitionResult:
    if part.error != ErrorCode.none:
        return part
    return PartitionResult(part.topic, part.partition, error)
