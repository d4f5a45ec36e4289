"""The versions kio lacks (ApiVersions v5, DeleteGroups v3, TxnOffsetCommit v6), declared in
``kio_extra``: found through the codec as kio's are, laid out on the wire as Kafka 4.4's
schemas say, and served."""

from __future__ import annotations

import uuid

from kio.schema.errors import ErrorCode
from refka.core.context import RequestContext
from refka.core.dispatch import Api
from refka.handlers import api_versions
from refka.protocol import codec


def test_found_through_the_codec_after_kio() -> None:
    assert codec.request_class(18, 5).__version__ == 5
    assert codec.response_class(42, 3).__version__ == 3
    assert codec.request_class(18, 4).__module__.startswith("kio.")  # kio's where it has one


def test_api_versions_v5_request_appends_cluster_and_node() -> None:
    """Kafka 4.4: client name, client version, cluster id (compact nullable), node id (int32)."""
    request = codec.build(
        codec.request_class(18, 5),
        client_software_name="a",
        client_software_version="1",
        cluster_id="c",
        node_id=3,
    )
    data = codec.encode(request)
    assert data == b"\x02a\x021\x02c\x00\x00\x00\x03\x00"
    assert codec.decode(type(request), data)[0] == request


def test_delete_groups_v3_result_has_an_error_message() -> None:
    m = codec.response_module(42, 3)
    result = codec.build(
        m.DeletableGroupResult, group_id="g", error_code=ErrorCode.none, error_message="x"
    )
    response = codec.build(m.DeleteGroupsResponse, throttle_time=codec.millis(0), results=(result,))
    data = codec.encode(response)
    assert data == b"\x00\x00\x00\x00\x02\x02g\x00\x00\x02x\x00\x00"
    assert codec.decode(type(response), data)[0] == response


def test_txn_offset_commit_v6_names_topics_by_id() -> None:
    """Kafka 4.4 (KIP-1319): the topic's uuid where v5 has its name, request and response."""
    topic_id = uuid.UUID(int=0x0102030405060708090A0B0C0D0E0F10)
    m = codec.request_module(28, 6)
    partition = codec.build(
        m.TxnOffsetCommitRequestPartition,
        partition_index=2,
        committed_offset=9,
        committed_leader_epoch=-1,
        committed_metadata=None,
    )
    topic = codec.build(m.TxnOffsetCommitRequestTopic, topic_id=topic_id, partitions=(partition,))
    request = codec.build(
        m.TxnOffsetCommitRequest,
        transactional_id="t",
        group_id="g",
        producer_id=1,
        producer_epoch=0,
        generation_id=-1,
        member_id="",
        group_instance_id=None,
        topics=(topic,),
    )
    head = b"\x02t\x02g" + (1).to_bytes(8, "big") + b"\x00\x00\xff\xff\xff\xff\x01\x00"
    body = b"\x02\x00\x00\x00\x02" + (9).to_bytes(8, "big") + b"\xff\xff\xff\xff\x00\x00"
    data = codec.encode(request)
    assert data == head + b"\x02" + topic_id.bytes + body + b"\x00\x00"
    assert codec.decode(type(request), data)[0] == request
    r = codec.response_module(28, 6)
    answered = codec.build(
        r.TxnOffsetCommitResponseTopic,
        topic_id=topic_id,
        partitions=(
            codec.build(
                r.TxnOffsetCommitResponsePartition,
                partition_index=2,
                error_code=ErrorCode.unknown_topic_id,
            ),
        ),
    )
    response = codec.build(
        r.TxnOffsetCommitResponse, throttle_time=codec.millis(0), topics=(answered,)
    )
    data = codec.encode(response)
    tail = b"\x02\x00\x00\x00\x02\x00\x64\x00\x00\x00"  # error 100: UNKNOWN_TOPIC_ID
    assert data == b"\x00\x00\x00\x00\x02" + topic_id.bytes + tail
    assert codec.decode(type(response), data)[0] == response


def ask(version: int, cluster_id: str | None, node_id: int) -> ErrorCode:
    apis = {18: Api(18, "ApiVersions", 0, 5, lambda ctx, request: None)}
    request = codec.build(
        codec.request_class(18, version),
        client_software_name="a",
        client_software_version="1",
        cluster_id=cluster_id,
        node_id=node_id,
    )
    ctx = RequestContext(1, 1, 18, version, "client", 0, 0)
    answer = api_versions.handle_api_versions(apis, ctx, request, lambda: ("cluster", 1))
    assert (answer.api_keys == ()) is (answer.error_code != ErrorCode.none)
    return ErrorCode(answer.error_code)


def test_api_versions_v5_checks_the_expected_broker() -> None:
    """Kafka 4.4's answers: both or neither of cluster id and node id, and then ours."""
    assert ask(5, None, -1) == ErrorCode.none
    assert ask(5, "cluster", 1) == ErrorCode.none
    assert ask(5, "cluster", 2) == ErrorCode.rebootstrap_required
    assert ask(5, "other", 1) == ErrorCode.rebootstrap_required
    assert ask(5, "cluster", -1) == ErrorCode.invalid_request
    assert ask(5, None, 1) == ErrorCode.invalid_request
    assert ask(4, None, -1) == ErrorCode.none  # v4 has neither field
