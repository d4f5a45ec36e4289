"""A Fetch response body assembled from remembered pieces is byte for byte the one kio encodes
from the whole response, in every version refka answers."""

from __future__ import annotations

import struct
import uuid

import pytest
from kio.schema.errors import ErrorCode
from refka.handlers import fetch
from refka.protocol import codec

TOPIC_A, TOPIC_B = ("a", uuid.UUID(int=1)), ("bb", uuid.UUID(int=2))


def shapes() -> tuple[fetch._Shape, ...]:
    """Two runs of topic a around one of topic b; records, errors, a leader, a divergence."""
    return (
        fetch._Shape(*TOPIC_A, 0, ErrorCode.none, 5, 5, 0, True),
        fetch._Shape(*TOPIC_A, 1, ErrorCode.none, 7, 7, 2, False, None, (3, 6)),
        fetch._Shape(*TOPIC_B, 0, ErrorCode.not_leader_or_follower, leader=(2, 4)),
        fetch._Shape(*TOPIC_B, 3, ErrorCode.none, 0, 0, 0, True),
        fetch._Shape(*TOPIC_A, 2, ErrorCode.none, 1, 1, 0, False),
    )


def whole(
    api_version: int, committed: bool, reads: tuple[fetch._Shape, ...], endpoints: tuple = ()
) -> bytes:
    """kio's encoding of the whole response, built as the handler describes it."""
    m = codec.response_module(fetch.KEY, api_version)
    runs: list[tuple[tuple[str, uuid.UUID], list[object]]] = []
    markers = 0
    for read in reads:
        records = b""
        if read.has_records:
            records, markers = fetch._MARKER + struct.pack(">i", markers), markers + 1
        if not runs or runs[-1][0] != (read.topic, read.topic_id):
            runs.append(((read.topic, read.topic_id), []))
        runs[-1][1].append(
            codec.build(
                m.PartitionData,
                partition_index=read.partition,
                error_code=read.error_code,
                high_watermark=read.high_watermark,
                last_stable_offset=read.last_stable_offset,
                log_start_offset=read.log_start_offset,
                aborted_transactions=() if committed else None,
                preferred_read_replica=-1,
                records=records,
                **fetch._tagged(m, read),
            )
        )
    return codec.encode(
        codec.build(
            m.FetchResponse,
            throttle_time=codec.millis(0),
            error_code=ErrorCode.none,
            session_id=0,
            responses=tuple(
                codec.build(m.FetchableTopicResponse, topic=n, topic_id=i, partitions=tuple(ps))
                for (n, i), ps in runs
            ),
            node_endpoints=endpoints,
        )
    )


@pytest.mark.parametrize("api_version", range(4, 18))
@pytest.mark.parametrize("committed", [False, True])
def test_assembled_body_is_kios_encoding_of_the_whole(api_version: int, committed: bool) -> None:
    reads, endpoints = shapes(), ()
    m = codec.response_module(fetch.KEY, api_version)
    if hasattr(m, "NodeEndpoint"):  # KIP-951: the leader named in the error (v16+)
        endpoints = (m.NodeEndpoint(node_id=2, host="h", port=9092, rack=None),)
    expected = whole(api_version, committed, reads, endpoints)
    assert fetch._body(api_version, committed, reads, endpoints) == expected


def test_one_changed_partition_reuses_the_others() -> None:
    reads = shapes()
    fetch._body(17, False, reads, ())
    before = fetch._partition.cache_info()
    changed = (reads[0]._replace(high_watermark=6), *reads[1:])
    assert fetch._body(17, False, changed, ()) == whole(17, False, changed)
    after = fetch._partition.cache_info()
    assert after.misses - before.misses == 1
