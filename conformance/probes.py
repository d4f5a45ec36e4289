"""Probe helpers shared by the protocol tests: one call per request, at the best common version.

Versions are bounded where the request shape changes: Produce and Fetch are probed at most
at v12 (v13 names topics by id), Metadata at most at v12.
"""

from __future__ import annotations

from typing import Any

from conformance.records import Record, build_batch
from conformance.target import Target, require_api
from conformance.wire import Connection, build

PRODUCE = ("Produce", 3, 12)
FETCH = ("Fetch", 4, 12)
LIST_OFFSETS = ("ListOffsets", 1, None)
EARLIEST, LATEST, MAX_TIMESTAMP = -2, -1, -3


def send(
    target: Target, conn: Connection | None, api: tuple[str, int, int | None], **f: Any
) -> Any:
    name, lo, hi = api
    version = require_api(target, name, lo, hi)
    request = build(target_key(name), version, **f)
    if conn is None:
        return target.admin().request(request)
    return conn.request(request)


def target_key(name: str) -> int:
    from conformance.target import API_KEYS

    return API_KEYS[name]


def produce_request(
    topic: str, records: bytes, partition: int = 0, acks: int = -1, timeout_ms: int = 10000
) -> dict[str, Any]:
    return {
        "transactional_id": None,
        "acks": acks,
        "timeout": timeout_ms,
        "topic_data": [
            {"name": topic, "partition_data": [{"index": partition, "records": records}]}
        ],
    }


def produce(
    target: Target,
    topic: str,
    records: bytes,
    partition: int = 0,
    acks: int = -1,
    conn: Connection | None = None,
) -> Any:
    """Produce one partition's records; return that partition's response."""
    answer = send(target, conn, PRODUCE, **produce_request(topic, records, partition, acks))
    assert answer.responses and answer.responses[0].partition_responses, f"no partition: {answer}"
    return answer.responses[0].partition_responses[0]


def produce_values(target: Target, topic: str, *values: bytes, partition: int = 0) -> int:
    """Produce `values` as one batch and return its base offset (asserting success)."""
    response = produce(target, topic, build_batch([Record(v) for v in values]), partition)
    assert response.error_code == 0, response
    return int(response.base_offset)


def fetch_request(
    topic: str,
    offset: int,
    partition: int = 0,
    max_wait_ms: int = 100,
    min_bytes: int = 1,
    max_bytes: int = 50 * 1024 * 1024,
    partition_max_bytes: int = 1024 * 1024,
    isolation_level: int = 0,
) -> dict[str, Any]:
    return {
        "cluster_id": None,
        "replica_id": -1,
        "max_wait": max_wait_ms,
        "min_bytes": min_bytes,
        "max_bytes": max_bytes,
        "isolation_level": isolation_level,
        "session_id": 0,
        "session_epoch": -1,
        "topics": [
            {
                "topic": topic,
                "partitions": [
                    {
                        "partition": partition,
                        "current_leader_epoch": -1,
                        "fetch_offset": offset,
                        "last_fetched_epoch": -1,
                        "log_start_offset": -1,
                        "partition_max_bytes": partition_max_bytes,
                    }
                ],
            }
        ],
        "forgotten_topics_data": [],
        "rack_id": "",
    }


def fetch(
    target: Target, topic: str, offset: int, conn: Connection | None = None, **options: Any
) -> Any:
    """Fetch one partition; return that partition's data."""
    answer = send(target, conn, FETCH, **fetch_request(topic, offset, **options))
    assert answer.error_code == 0, answer
    assert answer.responses and answer.responses[0].partitions, f"no partition data: {answer}"
    return answer.responses[0].partitions[0]


def list_offsets(
    target: Target,
    topic: str,
    timestamp: int,
    partition: int = 0,
    isolation_level: int = 0,
    lo: int = 1,
    hi: int | None = None,
) -> Any:
    """ListOffsets for one partition; return that partition's answer."""
    answer = send(
        target,
        None,
        ("ListOffsets", lo, hi),
        replica_id=-1,
        isolation_level=isolation_level,
        timeout=10000,
        topics=[
            {
                "name": topic,
                "partitions": [
                    {
                        "partition_index": partition,
                        "current_leader_epoch": -1,
                        "timestamp": timestamp,
                    }
                ],
            }
        ],
    )
    assert answer.topics and answer.topics[0].partitions, f"no partition: {answer}"
    return answer.topics[0].partitions[0]


def log_end_offset(target: Target, topic: str, partition: int = 0) -> int:
    answer = list_offsets(target, topic, LATEST, partition)
    assert answer.error_code == 0, answer
    return int(answer.offset)
