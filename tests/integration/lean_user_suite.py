"""A user's test file, run by tests/integration/test_lean_install.py inside a fresh venv that
holds refka without extras (and pytest): no conftest, no client library. It round-trips a
record with kio entities over a raw socket, through both fixture modes."""

from __future__ import annotations

import datetime
import socket

import pytest
from kio.schema.errors import ErrorCode
from kio.schema.fetch.v4.request import FetchPartition, FetchRequest, FetchTopic
from kio.schema.fetch.v4.response import FetchResponse
from kio.schema.produce.v3.request import PartitionProduceData, ProduceRequest, TopicProduceData
from kio.schema.produce.v3.response import ProduceResponse
from kio.schema.types import TopicName
from kio.static.primitive import i16, i32, i32Timedelta, i64
from refka.peers.readiness import read_response, request_frame
from refka.protocol.records import build_batch, iter_batch_records


def call(bootstrap: str, request: object, response_type: type) -> object:
    host, port = bootstrap.split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request_frame(request, client_id="lean-user"))
        return read_response(sock, response_type)


def round_trip(bootstrap: str, value: bytes) -> None:
    batch = build_batch([(b"key", value, [], 1_700_000_000_000)])
    produce = ProduceRequest(
        transactional_id=None,
        acks=i16(-1),
        timeout=i32Timedelta.parse(datetime.timedelta(seconds=10)),
        topic_data=(
            TopicProduceData(
                name=TopicName("lean"),
                partition_data=(PartitionProduceData(index=i32(0), records=batch),),
            ),
        ),
    )
    produced = call(bootstrap, produce, ProduceResponse)
    [[answer]] = [t.partition_responses for t in produced.responses]
    assert (answer.error_code, answer.base_offset) == (ErrorCode.none, 0)
    fetch = FetchRequest(
        max_wait=i32Timedelta.parse(datetime.timedelta(milliseconds=100)),
        min_bytes=i32(1),
        topics=(
            FetchTopic(
                topic=TopicName("lean"),
                partitions=(
                    FetchPartition(
                        partition=i32(0), fetch_offset=i64(0), partition_max_bytes=i32(1 << 20)
                    ),
                ),
            ),
        ),
    )
    fetched = call(bootstrap, fetch, FetchResponse)
    [[data]] = [t.partitions for t in fetched.responses]
    assert data.error_code == ErrorCode.none
    [(_, records)] = list(iter_batch_records(data.records))
    assert [(r.key, r.value) for r in records] == [(b"key", value)]


@pytest.mark.parametrize("mode", ["subprocess", "in-process"])
def test_round_trip(request: pytest.FixtureRequest, mode: str) -> None:
    request.applymarker(pytest.mark.refka(mode=mode))
    broker = request.getfixturevalue("refka_broker")
    assert broker.mode == mode
    broker.create_topic("lean", partitions=1)
    round_trip(broker.bootstrap, b"lean " + mode.encode())


def test_cluster_round_trip(refka_cluster: object) -> None:
    refka_cluster.create_topic("lean", partitions=1, replication_factor=3)
    leader = refka_cluster.leader_of("lean", 0)
    round_trip(refka_cluster.brokers[leader].bootstrap, b"lean cluster")
