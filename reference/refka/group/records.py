"""The records of ``__consumer_offsets`` as Kafka writes them, and the batches that carry them.

Key and value are both prefixed with an int16 schema version; strings are int16-length UTF-8
(-1 for null), bytes int32-length. The key version tells the record's kind:

    OffsetCommitKey v1       version=1  group: string  topic: string  partition: int32
    OffsetCommitValue v3     version=3  offset: int64  leaderEpoch: int32  metadata: string
                                        commitTimestamp: int64
    OffsetCommitValue v1     version=1  offset: int64  metadata: string
                                        commitTimestamp: int64  expireTimestamp: int64
                                        (written only when a commit carried a retention time)
    GroupMetadataKey v2      version=2  group: string
    GroupMetadataValue v3    version=3  protocolType: string  generation: int32
                                        protocol: string?  leader: string?
                                        currentStateTimestamp: int64  members: [MemberMetadata]
      MemberMetadata         memberId: string  groupInstanceId: string?  clientId: string
                             clientHost: string  rebalanceTimeout: int32  sessionTimeout: int32
                             subscription: bytes  assignment: bytes

A null value is a tombstone: the offset or the group is deleted (the topic is compacted).
The record formats are Kafka's ``OffsetCommitKey/Value.json`` and ``GroupMetadataKey/Value.json``.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Iterator
from dataclasses import dataclass

from refka.protocol import records as batches

OFFSET_COMMIT_KEY_VERSION = 1
OFFSET_COMMIT_VALUE_VERSION = 3
GROUP_METADATA_KEY_VERSION = 2
GROUP_METADATA_VALUE_VERSION = 3


@dataclass(frozen=True, slots=True)
class OffsetCommitKey:
    group: str
    topic: str
    partition: int


@dataclass(frozen=True, slots=True)
class OffsetCommitValue:
    offset: int
    leader_epoch: int
    metadata: str
    commit_timestamp_ms: int
    expire_timestamp_ms: int = -1


@dataclass(frozen=True, slots=True)
class GroupMetadataKey:
    group: str


@dataclass(frozen=True, slots=True)
class MemberMetadata:
    member_id: str
    group_instance_id: str | None
    client_id: str
    client_host: str
    rebalance_timeout_ms: int
    session_timeout_ms: int
    subscription: bytes
    assignment: bytes


@dataclass(frozen=True, slots=True)
class GroupMetadataValue:
    protocol_type: str
    generation: int
    protocol: str | None
    leader: str | None
    current_state_timestamp_ms: int
    members: tuple[MemberMetadata, ...]


class _Writer:
    def __init__(self, version: int) -> None:
        self.out = io.BytesIO()
        self.int16(version)

    def int16(self, v: int) -> None:
        self.out.write(struct.pack(">h", v))

    def int32(self, v: int) -> None:
        self.out.write(struct.pack(">i", v))

    def int64(self, v: int) -> None:
        self.out.write(struct.pack(">q", v))

    def string(self, v: str | None) -> None:
        if v is None:
            self.int16(-1)
            return
        data = v.encode()
        self.int16(len(data))
        self.out.write(data)

    def bytes_(self, v: bytes) -> None:
        self.int32(len(v))
        self.out.write(v)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.position = data, 0

    def _take(self, fmt: str) -> int:
        (value,) = struct.unpack_from(fmt, self.data, self.position)
        self.position += struct.calcsize(fmt)
        return int(value)

    def int16(self) -> int:
        return self._take(">h")

    def int32(self) -> int:
        return self._take(">i")

    def int64(self) -> int:
        return self._take(">q")

    def string(self) -> str | None:
        size = self.int16()
        if size < 0:
            return None
        value = self.data[self.position : self.position + size].decode()
        self.position += size
        return value

    def bytes_(self) -> bytes:
        size = self.int32()
        value = self.data[self.position : self.position + max(size, 0)]
        self.position += max(size, 0)
        return bytes(value)


def encode_offset_commit_key(key: OffsetCommitKey) -> bytes:
    w = _Writer(OFFSET_COMMIT_KEY_VERSION)
    w.string(key.group)
    w.string(key.topic)
    w.int32(key.partition)
    return w.out.getvalue()


def encode_offset_commit_value(value: OffsetCommitValue) -> bytes:
    if value.expire_timestamp_ms >= 0:
        w = _Writer(1)
        w.int64(value.offset)
        w.string(value.metadata)
        w.int64(value.commit_timestamp_ms)
        w.int64(value.expire_timestamp_ms)
        return w.out.getvalue()
    w = _Writer(OFFSET_COMMIT_VALUE_VERSION)
    w.int64(value.offset)
    w.int32(value.leader_epoch)
    w.string(value.metadata)
    w.int64(value.commit_timestamp_ms)
    return w.out.getvalue()


def encode_group_metadata_key(key: GroupMetadataKey) -> bytes:
    w = _Writer(GROUP_METADATA_KEY_VERSION)
    w.string(key.group)
    return w.out.getvalue()


def encode_group_metadata_value(value: GroupMetadataValue) -> bytes:
    w = _Writer(GROUP_METADATA_VALUE_VERSION)
    w.string(value.protocol_type)
    w.int32(value.generation)
    w.string(value.protocol)
    w.string(value.leader)
    w.int64(value.current_state_timestamp_ms)
    w.int32(len(value.members))
    for m in value.members:
        w.string(m.member_id)
        w.string(m.group_instance_id)
        w.string(m.client_id)
        w.string(m.client_host)
        w.int32(m.rebalance_timeout_ms)
        w.int32(m.session_timeout_ms)
        w.bytes_(m.subscription)
        w.bytes_(m.assignment)
    return w.out.getvalue()


def decode_key(data: bytes) -> OffsetCommitKey | GroupMetadataKey | None:
    """The key's kind from its version; None for kinds refka does not use (e.g. KIP-848's)."""
    r = _Reader(data)
    version = r.int16()
    if version in (0, 1):
        group, topic = r.string() or "", r.string() or ""
        return OffsetCommitKey(group, topic, r.int32())
    if version == 2:
        return GroupMetadataKey(r.string() or "")
    return None


def decode_offset_commit_value(data: bytes) -> OffsetCommitValue:
    r = _Reader(data)
    version = r.int16()
    offset = r.int64()
    leader_epoch = r.int32() if version >= 3 else -1
    metadata = r.string() or ""
    commit_timestamp_ms = r.int64()
    expire_timestamp_ms = r.int64() if version == 1 else -1
    return OffsetCommitValue(
        offset, leader_epoch, metadata, commit_timestamp_ms, expire_timestamp_ms
    )


def decode_group_metadata_value(data: bytes) -> GroupMetadataValue:
    r = _Reader(data)
    version = r.int16()
    protocol_type = r.string() or ""
    generation = r.int32()
    protocol, leader = r.string(), r.string()
    state_timestamp_ms = r.int64() if version >= 2 else -1
    members = []
    for _ in range(r.int32()):
        member_id = r.string() or ""
        instance_id = r.string() if version >= 3 else None
        client_id, client_host = r.string() or "", r.string() or ""
        rebalance_timeout_ms = r.int32() if version >= 1 else -1
        session_timeout_ms = r.int32()
        rebalance_timeout_ms = session_timeout_ms if version == 0 else rebalance_timeout_ms
        members.append(
            MemberMetadata(
                member_id,
                instance_id,
                client_id,
                client_host,
                rebalance_timeout_ms,
                session_timeout_ms,
                r.bytes_(),
                r.bytes_(),
            )
        )
    return GroupMetadataValue(
        protocol_type, generation, protocol, leader, state_timestamp_ms, tuple(members)
    )


# -- batches -----------------------------------------------------------------------------


def build_batch(entries: list[tuple[bytes, bytes | None]], timestamp_ms: int) -> bytes:
    """One uncompressed v2 batch (base offset 0; the log assigns offsets) of key/value records."""
    return batches.build_batch([batches.NewRecord(k, v, (), timestamp_ms) for k, v in entries])


def iter_key_values(buffer: bytes) -> Iterator[tuple[bytes | None, bytes | None]]:
    """The (key, value) of every record in a buffer of v2 batches."""
    for _, records in batches.iter_batch_records(buffer):
        for record in records:
            yield record.key, record.value
