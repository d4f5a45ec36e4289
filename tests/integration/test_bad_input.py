"""Bad input gets Kafka's answer, and the broker keeps serving everyone else (issue 2).

Each case sends what a broken or hostile client might, over a plain socket, and asserts the
answer Apache Kafka gives (read from its source, and checked against a real Kafka 4.x by the
``kafka`` parametrization, which runs with ``--slow``):

- a frame cut short: Kafka waits for the rest; on EOF it closes (``NetworkReceive``)
- a size prefix above ``socket.request.max.bytes``, or negative: ``InvalidReceiveException``,
  connection closed
- an unknown API key, or Produce at a version it does not support: ``InvalidRequestException``
  from ``SocketServer.parseRequestHeader``, connection closed
- ApiVersions at an unknown version: answered at v0 with UNSUPPORTED_VERSION and ApiVersions'
  own range (KIP-511), and the connection stays usable
- a batch whose CRC does not match: CORRUPT_MESSAGE (``UnifiedLog.analyzeAndValidateRecords``)
- a record count that lies: INVALID_RECORD (``LogValidator.validateBatch``: "Inconsistent batch
  offset range ... and count of records"; the records iterator: "premature EOF")
- a batch above ``message.max.bytes``: MESSAGE_TOO_LARGE
"""

from __future__ import annotations

import datetime
import socket
import struct
import time
from collections.abc import Iterator

import pytest
from kio.schema.api_versions.v0.request import ApiVersionsRequest as ApiVersionsRequestV0
from kio.schema.api_versions.v3.request import ApiVersionsRequest
from kio.schema.create_topics.v4.request import (
    CreatableTopic,
    CreatableTopicConfig,
    CreateTopicsRequest,
)
from kio.schema.errors import ErrorCode
from kio.schema.metadata.v4.request import MetadataRequest, MetadataRequestTopic
from kio.schema.metadata.v4.response import MetadataResponse
from kio.schema.produce.v8.request import PartitionProduceData, ProduceRequest, TopicProduceData
from kio.schema.types import TopicName
from kio.static.primitive import Records, i16, i32, i32Timedelta
from refka.testing import running_broker

from conformance.records import Record, build_batch
from conformance.wire import Connection

TOPIC = "bad-input"
SMALL_TOPIC = "small-messages"  # topic-level max.message.bytes
SMALL_MAX = 1000
SOCKET_REQUEST_MAX_BYTES = 2_000_000
MESSAGE_MAX_BYTES = 1_048_588  # Kafka's default message.max.bytes
CONFIGS = {"socket.request.max.bytes": str(SOCKET_REQUEST_MAX_BYTES)}
SIZE = struct.Struct(">i")
RECORDS_COUNT_AT = 57  # the v2 batch header's records count


@pytest.fixture(scope="module", params=["refka", pytest.param("kafka", marks=pytest.mark.slow)])
def bootstrap(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """One broker for the module: refka, or (with --slow) Apache Kafka as the judge."""
    work_dir = tmp_path_factory.mktemp(request.param)
    if request.param == "refka":
        with running_broker(work_dir / "data", config=CONFIGS) as broker:
            create_topic(broker.bootstrap)
            create_topic(broker.bootstrap, SMALL_TOPIC, {"max.message.bytes": str(SMALL_MAX)})
            yield broker.bootstrap
        return
    from refka.peers.kafka import running_kafka
    from refka.peers.process import PeerUnavailable

    try:
        with running_kafka(work_dir, properties=CONFIGS) as peer:
            create_topic(peer.bootstrap)
            create_topic(peer.bootstrap, SMALL_TOPIC, {"max.message.bytes": str(SMALL_MAX)})
            yield peer.bootstrap
    except PeerUnavailable as unavailable:
        pytest.skip(f"Apache Kafka peer unavailable: {unavailable}")


def create_topic(bootstrap: str, name: str = TOPIC, configs: dict[str, str] | None = None) -> None:
    topic = CreatableTopic(
        name=TopicName(name),
        num_partitions=i32(1),
        replication_factor=i16(1),
        assignments=(),
        configs=tuple(CreatableTopicConfig(name=k, value=v) for k, v in (configs or {}).items()),
    )
    request = CreateTopicsRequest(
        topics=(topic,), timeout=i32Timedelta.parse(datetime.timedelta(milliseconds=5000))
    )
    with connect(bootstrap) as client:
        response = client.request(request)
    assert [t.error_code for t in response.topics] == [ErrorCode.none]
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:  # Kafka elects the leader a moment after creating
        partitions = metadata(bootstrap, name).topics[0].partitions
        if partitions and partitions[0].leader_id >= 0:
            return
        time.sleep(0.05)
    raise AssertionError(f"{name} has no leader after 15 s")


def metadata(bootstrap: str, topic: str = TOPIC) -> MetadataResponse:
    request = MetadataRequest(
        topics=(MetadataRequestTopic(name=TopicName(topic)),), allow_auto_topic_creation=False
    )
    with connect(bootstrap) as client:
        response: MetadataResponse = client.request(request)
        return response


def connect(bootstrap: str) -> Connection:
    """A plain socket that fails on a response with bytes after its body."""
    return Connection(bootstrap, 10.0, exact=True)


def closed_by_broker(client: Connection) -> bool:
    """True once the broker closes (EOF or reset) without answering a single byte."""
    try:
        return client.sock.recv(1) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True


def new_batch(values: list[bytes]) -> bytes:
    """An uncompressed v2 batch (base offset 0, no producer id) of records with no key."""
    return build_batch([Record(value) for value in values], timestamp_ms=1_700_000_000_000)


def assert_still_serving(bootstrap: str) -> None:
    """A second, well-behaved client still gets a good Metadata answer."""
    response = metadata(bootstrap)
    assert len(response.brokers) == 1
    assert [(t.name, t.error_code) for t in response.topics] == [(TOPIC, ErrorCode.none)]


def produce_request(batch: bytes, topic: str = TOPIC) -> ProduceRequest:
    partition = PartitionProduceData(index=i32(0), records=Records(batch))
    return ProduceRequest(
        acks=i16(-1),
        timeout=i32Timedelta.parse(datetime.timedelta(milliseconds=5000)),
        topic_data=(TopicProduceData(name=TopicName(topic), partition_data=(partition,)),),
    )


def produce(bootstrap: str, batch: bytes, topic: str = TOPIC) -> tuple[ErrorCode, int]:
    """(error code, base offset) of producing one batch to partition 0."""
    with connect(bootstrap) as client:
        response = client.request(produce_request(batch, topic))
    [answer] = response.responses
    [partition] = answer.partition_responses
    return partition.error_code, int(partition.base_offset)


def produce_rejected(bootstrap: str, batch: bytes, topic: str = TOPIC) -> ErrorCode:
    """Produce ``batch`` between two good ones: the error, and proof nothing was appended."""
    error, before = produce(bootstrap, new_batch([b"before"]), topic)
    assert error == ErrorCode.none
    error, _ = produce(bootstrap, batch, topic)
    check, after = produce(bootstrap, new_batch([b"after"]), topic)
    assert (check, after) == (ErrorCode.none, before + 1), "the rejected batch took offsets"
    return error


def test_frame_cut_short_then_eof_closes(bootstrap: str) -> None:
    with connect(bootstrap) as stuck:
        stuck.send_raw(SIZE.pack(100) + b"\x00\x12\x00\x00")
        assert_still_serving(bootstrap)  # while one client is stuck mid-frame
        stuck.sock.shutdown(socket.SHUT_WR)
        assert closed_by_broker(stuck)
    assert_still_serving(bootstrap)


def test_frame_cut_short_then_abandoned(bootstrap: str) -> None:
    for _ in range(3):
        with connect(bootstrap) as client:
            client.send_raw(SIZE.pack(1000) + b"\x00" * 10)
    assert_still_serving(bootstrap)


@pytest.mark.parametrize("size", [SOCKET_REQUEST_MAX_BYTES + 1, 2**31 - 1, -1])
def test_frame_size_out_of_bounds_closes(bootstrap: str, size: int) -> None:
    with connect(bootstrap) as client:
        client.send_raw(SIZE.pack(size))
        assert closed_by_broker(client)
    assert_still_serving(bootstrap)


def test_unknown_api_key_closes(bootstrap: str) -> None:
    with connect(bootstrap) as client:
        client.send(ApiVersionsRequestV0(), api_key=999)
        assert closed_by_broker(client)
    assert_still_serving(bootstrap)


@pytest.mark.parametrize("version", [99, -1])
def test_produce_at_unsupported_version_closes(bootstrap: str, version: int) -> None:
    with connect(bootstrap) as client:
        client.send(produce_request(new_batch([b"v"])), api_version=version)
        assert closed_by_broker(client)
    assert_still_serving(bootstrap)


def test_api_versions_at_unknown_version_answers_v0(bootstrap: str) -> None:
    request = ApiVersionsRequest(client_software_name="refka-tests", client_software_version="1")
    with connect(bootstrap) as client:
        correlation_id = client.send(request, api_version=99)
        response = client.receive(ApiVersionsRequestV0(), correlation_id)  # answered at v0
        assert response.error_code == ErrorCode.unsupported_version
        ranges = {
            int(k.api_key): (int(k.min_version), int(k.max_version)) for k in response.api_keys
        }
        assert ranges[18][0] == 0 and ranges[18][1] >= 3, ranges
        # The client falls back to v0 on the same connection, which stays usable.
        fallback = client.request(ApiVersionsRequestV0())
        assert fallback.error_code == ErrorCode.none
        assert {0, 1, 3, 18} <= {int(k.api_key) for k in fallback.api_keys}
    assert_still_serving(bootstrap)


def test_bad_crc_is_corrupt_message(bootstrap: str) -> None:
    batch = bytearray(new_batch([b"payload-one", b"payload-two"]))
    batch[-3] ^= 0xFF  # a value byte: covered by the CRC
    assert produce_rejected(bootstrap, bytes(batch)) == ErrorCode.corrupt_message
    assert_still_serving(bootstrap)


@pytest.mark.parametrize("lie", [+1, -1, +1000])
def test_record_count_that_lies_is_invalid_record(bootstrap: str, lie: int) -> None:
    records = [Record(b"one"), Record(b"two"), Record(b"three")]
    batch = build_batch(records, timestamp_ms=1_700_000_000_000, record_count=3 + lie)
    assert struct.unpack_from(">i", batch, RECORDS_COUNT_AT) == (3 + lie,)
    error = produce_rejected(bootstrap, batch)  # with a CRC that matches the lie
    assert error == ErrorCode.invalid_record
    assert_still_serving(bootstrap)


def test_batch_above_message_max_bytes_is_message_too_large(bootstrap: str) -> None:
    batch = new_batch([b"x" * (MESSAGE_MAX_BYTES + 1)])
    assert produce_rejected(bootstrap, batch) == ErrorCode.message_too_large
    assert_still_serving(bootstrap)


def test_many_bad_clients_at_once(bootstrap: str) -> None:
    """Bad input on several connections at once: none disturbs a good client."""
    clients = [connect(bootstrap) for _ in range(4)]
    try:
        clients[0].send_raw(SIZE.pack(-1))
        clients[1].send(ApiVersionsRequestV0(), api_key=999)
        clients[2].send_raw(SIZE.pack(64) + b"\x00\x03")
        clients[3].send(produce_request(new_batch([b"v"])), api_version=99)
        assert_still_serving(bootstrap)
        for client in (clients[0], clients[1], clients[3]):
            assert closed_by_broker(client)
    finally:
        for client in clients:
            client.close()
    assert_still_serving(bootstrap)


def test_batch_above_topic_max_message_bytes_is_message_too_large(bootstrap: str) -> None:
    small = new_batch([b"x" * (SMALL_MAX // 2)])
    assert len(small) <= SMALL_MAX
    assert produce(bootstrap, small, SMALL_TOPIC)[0] == ErrorCode.none
    large = new_batch([b"x" * SMALL_MAX])
    assert produce_rejected(bootstrap, large, SMALL_TOPIC) == ErrorCode.message_too_large
