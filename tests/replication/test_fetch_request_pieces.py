"""A follower's FetchRequest body assembled from remembered pieces is byte for byte the one kio
encodes from the whole request, in every version a follower can send."""

from __future__ import annotations

import uuid
from dataclasses import replace

import pytest
from refka.protocol import codec
from refka.replication import replica_fetcher
from refka.replication.fetcher_config import FetcherConfig
from refka.replication.replica_fetcher import _Wanted

A, B = uuid.UUID(int=1), uuid.UUID(int=2)


def wanted() -> tuple[_Wanted, ...]:
    """Two topics, one of them asked for before and after the other."""
    return (
        _Wanted(("a", 0), A, 3, 10, 2, 0, 9),
        _Wanted(("b", 1), B, -1, 0, -1, 0, -1),
        _Wanted(("a", 2), A, 3, 7, 3, 5, 7),
    )


@pytest.mark.parametrize("version", range(4, 19))
def test_assembled_request_is_kios_encoding_of_the_whole(version: int) -> None:
    fetcher = replica_fetcher.ReplicaFetcher.__new__(replica_fetcher.ReplicaFetcher)
    fetcher.config, fetcher.local_id = replace(FetcherConfig(), fetch_version=version), 2
    request = fetcher._build_fetch(wanted(), 7)
    assert codec.encode(request) == codec._write(request)
    assert [len(t.partitions) for t in request.topics] == [2, 1]


def test_a_moved_offset_encodes_that_partition_only() -> None:
    fetcher = replica_fetcher.ReplicaFetcher.__new__(replica_fetcher.ReplicaFetcher)
    fetcher.config, fetcher.local_id = FetcherConfig(), 2
    fetcher._build_fetch(wanted(), 7)
    before = replica_fetcher._fetch_partition_bytes.cache_info()
    moved = (wanted()[0]._replace(fetch_offset=11), *wanted()[1:])
    request = fetcher._build_fetch(moved, 7)
    assert codec.encode(request) == codec._write(request)
    assert replica_fetcher._fetch_partition_bytes.cache_info().misses - before.misses == 1
