"""Which ``__consumer_offsets`` partition holds a group: Kafka's ``partitionFor(groupId)``.

``abs(groupId.hashCode()) % offsets.topic.num.partitions`` with Java's String.hashCode (over
UTF-16 code units) and Kafka's ``Utils.abs`` (which maps Integer.MIN_VALUE to 0).
"""

from __future__ import annotations


def java_string_hash(text: str) -> int:
    """Java's ``String.hashCode()``: a signed 32-bit polynomial hash of the UTF-16 units."""
    data = text.encode("utf-16-be")
    h = 0
    for i in range(0, len(data), 2):
        h = (31 * h + (data[i] << 8 | data[i + 1])) & 0xFFFFFFFF
    return h - (1 << 32) if h >= 1 << 31 else h


def partition_for(group_id: str, num_partitions: int) -> int:
    h = java_string_hash(group_id)
    return (0 if h == -(2**31) else abs(h)) % num_partitions
