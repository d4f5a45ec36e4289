"""KIP-848's records in ``__consumer_offsets``, in Kafka's format.

A key is an int16 record type followed by (non-flexible) int16-length strings; a value is an
int16 version (0) followed by a flexible body: compact strings and arrays (unsigned varint
length + 1, 0 for null), 16-byte uuids, and an empty tagged-field section (tags are skipped when
read). The record types are Kafka's ``ConsumerGroup*Key/Value.json``:

    3  ConsumerGroupMetadata              key: group        value: Epoch int32
    5  ConsumerGroupMemberMetadata        key: group member value: InstanceId string?
         RackId string?  ClientId string  ClientHost string  SubscribedTopicNames [string]
         SubscribedTopicRegex string?  RebalanceTimeoutMs int32  ServerAssignor string?
    6  ConsumerGroupTargetAssignmentMetadata  key: group  value: AssignmentEpoch int32
    7  ConsumerGroupTargetAssignmentMember    key: group member  value: [TopicId, [int32]]
    8  ConsumerGroupCurrentMemberAssignment   key: group member  value: MemberEpoch int32
         PreviousMemberEpoch int32  State int8  AssignedPartitions [TopicId, [int32]]
         PartitionsPendingRevocation [TopicId, [int32]]

A null value is a tombstone. Type 4 (ConsumerGroupPartitionMetadata, replaced in Kafka 4.1 by a
metadata hash) is neither written nor needed: the subscribed topics are read from the metadata
image again after a load.
"""

from __future__ import annotations

import io
import struct
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

GROUP_METADATA, MEMBER_METADATA, TARGET_METADATA, TARGET_MEMBER, CURRENT_ASSIGNMENT = 3, 5, 6, 7, 8
CONSUMER_RECORD_TYPES = frozenset({3, 4, 5, 6, 7, 8})

Assignment = Mapping[uuid.UUID, frozenset[int]]


@dataclass(frozen=True, slots=True)
class ConsumerKey:
    record_type: int
    group: str
    member: str | None = None


@dataclass(frozen=True, slots=True)
class MemberMetadataValue:
    instance_id: str | None
    rack_id: str | None
    client_id: str
    client_host: str
    subscribed_topic_names: tuple[str, ...]
    subscribed_topic_regex: str | None
    rebalance_timeout_ms: int
    server_assignor: str | None
    # tagged field 0, ClassicMemberMetadata: (SessionTimeoutMs, SupportedProtocols)
    classic: tuple[int, tuple[tuple[str, bytes], ...]] | None = None


@dataclass(frozen=True, slots=True)
class CurrentAssignmentValue:
    member_epoch: int
    previous_member_epoch: int
    state: int
    assigned: Assignment
    revoking: Assignment


# -- keys --------------------------------------------------------------------------------


def encode_key(key: ConsumerKey) -> bytes:
    out = struct.pack(">h", key.record_type) + _string16(key.group)
    return out if key.member is None else out + _string16(key.member)


def decode_key(data: bytes) -> ConsumerKey | None:
    """A KIP-848 key, or None for another kind of record."""
    (record_type,) = struct.unpack_from(">h", data)
    if record_type not in CONSUMER_RECORD_TYPES:
        return None
    group, at = _read_string16(data, 2)
    member = None
    if record_type in (MEMBER_METADATA, TARGET_MEMBER, CURRENT_ASSIGNMENT):
        member, at = _read_string16(data, at)
    return ConsumerKey(record_type, group, member)


def _string16(s: str) -> bytes:
    raw = s.encode()
    return struct.pack(">h", len(raw)) + raw


def _read_string16(data: bytes, at: int) -> tuple[str, int]:
    (n,) = struct.unpack_from(">h", data, at)
    return data[at + 2 : at + 2 + n].decode(), at + 2 + n


# -- flexible values ---------------------------------------------------------------------


class _Writer:
    def __init__(self) -> None:
        self.out = io.BytesIO()
        self.out.write(struct.pack(">h", 0))  # value version 0

    def uvarint(self, v: int) -> None:
        while v >= 0x80:
            self.out.write(bytes([(v & 0x7F) | 0x80]))
            v >>= 7
        self.out.write(bytes([v]))

    def int32(self, v: int) -> None:
        self.out.write(struct.pack(">i", v))

    def int8(self, v: int) -> None:
        self.out.write(struct.pack(">b", v))

    def string(self, v: str | None) -> None:
        if v is None:
            self.uvarint(0)
            return
        raw = v.encode()
        self.uvarint(len(raw) + 1)
        self.out.write(raw)

    def assignment(self, a: Assignment) -> None:
        topics = sorted(a.items(), key=lambda kv: str(kv[0]))
        self.uvarint(len(topics) + 1)
        for topic_id, parts in topics:
            self.out.write(topic_id.bytes)
            self.uvarint(len(parts) + 1)
            for p in sorted(parts):
                self.int32(p)
            self.uvarint(0)  # tagged fields

    def done(self) -> bytes:
        self.uvarint(0)  # tagged fields
        return self.out.getvalue()


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.at = data, 2  # after the version

    def uvarint(self) -> int:
        shift = value = 0
        while True:
            b = self.data[self.at]
            self.at += 1
            value |= (b & 0x7F) << shift
            if b < 0x80:
                return value
            shift += 7

    def int32(self) -> int:
        (v,) = struct.unpack_from(">i", self.data, self.at)
        self.at += 4
        return int(v)

    def int8(self) -> int:
        (v,) = struct.unpack_from(">b", self.data, self.at)
        self.at += 1
        return int(v)

    def string(self) -> str | None:
        n = self.uvarint()
        if n == 0:
            return None
        raw = self.data[self.at : self.at + n - 1]
        self.at += n - 1
        return raw.decode()

    def tags(self) -> None:
        for _ in range(self.uvarint()):
            self.uvarint()
            self.at += self.uvarint()

    def assignment(self) -> dict[uuid.UUID, frozenset[int]]:
        out: dict[uuid.UUID, frozenset[int]] = {}
        for _ in range(self.uvarint() - 1):
            topic_id = uuid.UUID(bytes=self.data[self.at : self.at + 16])
            self.at += 16
            out[topic_id] = frozenset(self.int32() for _ in range(self.uvarint() - 1))
            self.tags()
        return out


def encode_epoch(epoch: int) -> bytes:
    """ConsumerGroupMetadataValue (Epoch) or ConsumerGroupTargetAssignmentMetadataValue."""
    w = _Writer()
    w.int32(epoch)
    return w.done()


def decode_epoch(data: bytes) -> int:
    return _Reader(data).int32()


def encode_member_metadata(v: MemberMetadataValue) -> bytes:
    w = _Writer()
    w.string(v.instance_id)
    w.string(v.rack_id)
    w.string(v.client_id)
    w.string(v.client_host)
    w.uvarint(len(v.subscribed_topic_names) + 1)
    for name in v.subscribed_topic_names:
        w.string(name)
    w.string(v.subscribed_topic_regex)
    w.int32(v.rebalance_timeout_ms)
    w.string(v.server_assignor)
    if v.classic is None:
        return w.done()
    inner = _Writer()
    inner.out = io.BytesIO()
    inner.out.write(b"\x01")  # a nullable struct: present
    inner.int32(v.classic[0])
    inner.uvarint(len(v.classic[1]) + 1)
    for name, metadata in v.classic[1]:
        inner.string(name)
        inner.uvarint(len(metadata) + 1)
        inner.out.write(metadata)
        inner.uvarint(0)
    inner.uvarint(0)
    body = inner.out.getvalue()
    w.uvarint(1)  # one tagged field: tag 0, its size, the struct
    w.uvarint(0)
    w.uvarint(len(body))
    w.out.write(body)
    return w.out.getvalue()


def decode_member_metadata(data: bytes) -> MemberMetadataValue:
    r = _Reader(data)
    instance_id, rack_id = r.string(), r.string()
    client_id, client_host = r.string() or "", r.string() or ""
    names = tuple(r.string() or "" for _ in range(max(r.uvarint() - 1, 0)))
    regex = r.string()
    rebalance_timeout_ms, assignor = r.int32(), r.string()
    classic = None
    for _ in range(r.uvarint()):
        tag, size = r.uvarint(), r.uvarint()
        end = r.at + size
        if tag == 0 and r.int8() == 1:
            session_timeout_ms = r.int32()
            protocols = []
            for _ in range(r.uvarint() - 1):
                name = r.string() or ""
                n = r.uvarint() - 1
                protocols.append((name, r.data[r.at : r.at + n]))
                r.at += n
                r.tags()
            classic = (session_timeout_ms, tuple(protocols))
        r.at = end
    return MemberMetadataValue(
        instance_id,
        rack_id,
        client_id,
        client_host,
        names,
        regex,
        rebalance_timeout_ms,
        assignor,
        classic,
    )


def encode_target_member(assignment: Assignment) -> bytes:
    w = _Writer()
    w.assignment(assignment)
    return w.done()


def decode_target_member(data: bytes) -> dict[uuid.UUID, frozenset[int]]:
    return _Reader(data).assignment()


def encode_current_assignment(v: CurrentAssignmentValue) -> bytes:
    w = _Writer()
    w.int32(v.member_epoch)
    w.int32(v.previous_member_epoch)
    w.int8(v.state)
    w.assignment(v.assigned)
    w.assignment(v.revoking)
    return w.done()


def decode_current_assignment(data: bytes) -> CurrentAssignmentValue:
    r = _Reader(data)
    epoch, previous, state = r.int32(), r.int32(), r.int8()
    return CurrentAssignmentValue(epoch, previous, state, r.assignment(), r.assignment())
