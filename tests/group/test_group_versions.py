"""Every response version the group handlers advertise encodes, for results with and without
errors (a field a version lacks is dropped; one it needs is present)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from kio.schema.errors import ErrorCode as E
from refka.core.groups import OFFSETS_TOPIC
from refka.group import messages as msg
from refka.handlers import group as handlers
from refka.protocol import codec

RESULTS: dict[int, list[Any]] = {
    handlers.JOIN_GROUP: [
        msg.JoinGroupResult(E.member_id_required, "m-1"),
        msg.JoinGroupResult(
            E.none, "m-1", 3, "consumer", "range", "m-1", (msg.JoinedMember("m-1", "i", b"s"),)
        ),
    ],
    handlers.SYNC_GROUP: [
        msg.SyncGroupResult(E.rebalance_in_progress),
        msg.SyncGroupResult(E.none, b"a", "consumer", "range"),
    ],
    handlers.HEARTBEAT: [msg.HeartbeatResult(E.illegal_generation)],
    handlers.LEAVE_GROUP: [
        msg.LeaveGroupResult(E.unknown_member_id),
        msg.LeaveGroupResult(E.none, (msg.LeftMember("m-1", None, E.none),)),
    ],
    handlers.OFFSET_COMMIT: [
        msg.OffsetCommitResult((msg.PartitionResult("t", 0, E.illegal_generation),))
    ],
    handlers.OFFSET_DELETE: [
        msg.OffsetDeleteResult(E.none, (msg.PartitionResult("t", 0, E.group_subscribed_to_topic),))
    ],
    handlers.DELETE_GROUPS: [(msg.DeletedGroup("g", E.non_empty_group),)],
}


@pytest.mark.parametrize("api_key", sorted(RESULTS))
def test_every_advertised_version_encodes(api_key: int) -> None:
    low, high = handlers.SUPPORTED_VERSIONS[api_key]
    for version in range(low, high + 1):
        for result in RESULTS[api_key]:
            response = handlers.RESPONDERS[api_key](version, result)
            assert type(response) is codec.response_class(api_key, version)
            data = codec.encode(response)
            decoded, _ = codec.decode(type(response), data)
            assert decoded == response


def test_every_advertised_request_version_exists_in_kio() -> None:
    for api_key, (low, high) in handlers.SUPPORTED_VERSIONS.items():
        for version in range(low, high + 1):
            codec.request_class(api_key, version)
            codec.response_class(api_key, version)
        assert api_key in handlers.HANDLERS


T_ID = uuid.UUID(int=7)  # topic "t"'s id (v10 of OffsetCommit and OffsetFetch name topics by id)


class FakeBroker:
    """The group handlers' service over fakes of the topics and partitions it writes to."""

    def __init__(self) -> None:
        import random
        from types import SimpleNamespace

        from refka.core.groups import GroupService
        from refka.group.config import GroupConfig
        from refka.group.coordinator import GroupCoordinator

        node = SimpleNamespace(node_id=1, host="127.0.0.1", port=9092)
        led = SimpleNamespace(leader=1)  # every partition led by this node
        t = SimpleNamespace(name="t", topic_id=T_ID, partitions={0: led})
        topics = SimpleNamespace(
            node=node,
            broker=lambda broker_id, listener="": node if broker_id == 1 else None,
            image=SimpleNamespace(
                topics_by_name={
                    OFFSETS_TOPIC: SimpleNamespace(partitions=dict.fromkeys(range(50), led)),
                    "t": t,
                },
                topics_by_id={T_ID: t},
            ),
        )
        self.appended: list[tuple[str, int, bytes]] = []
        self.replies: list[tuple[object, object]] = []
        coordinator = GroupCoordinator(GroupConfig(), random.Random(1))
        self.groups = GroupService(
            coordinator,
            topics,  # type: ignore[arg-type]
            self,  # type: ignore[arg-type]
            lambda ctx, response: self.replies.append((ctx, response)),
            handlers.RESPONDERS,
        )

    def append_as_coordinator(
        self, topic: str, partition: int, records: bytes, now_ms: int
    ) -> object:
        """A leader append replicated at once (a single replica: the HW is the LEO)."""
        from refka.replica import AppendResult

        self.appended.append((topic, partition, records))
        return AppendResult(base_offset=len(self.appended) - 1, last_offset=len(self.appended) - 1)

    def replica(self, topic: str, partition: int) -> object:
        from types import SimpleNamespace

        return SimpleNamespace(
            is_leader=True,
            high_watermark=len(self.appended),
            maximal_isr=frozenset({1}),
            min_insync_replicas=1,
        )

    read_bytes = None


def ctx(api_key: int, version: int) -> object:
    from refka.core.context import RequestContext

    return RequestContext(1, 7, api_key, version, "client", 1_000, 0)


def request(api_key: int, version: int, **fields: object) -> object:
    return codec.build(codec.request_class(api_key, version), **fields)


def nested(api_key: int, version: int, entity: str, **fields: object) -> object:
    return codec.build(getattr(codec.request_module(api_key, version), entity), **fields)


def roundtrip(response: object) -> None:
    data = codec.encode(response)  # type: ignore[arg-type]
    assert codec.decode(type(response), data)[0] == response


def test_offset_commit_then_fetch_every_version() -> None:
    broker = FakeBroker()
    low, high = handlers.SUPPORTED_VERSIONS[handlers.OFFSET_COMMIT]
    for version in range(low, high + 1):
        partition = nested(8, version, "OffsetCommitRequestPartition", partition_index=0,
                           committed_offset=version, committed_leader_epoch=-1,
                           committed_metadata=f"v{version}")  # fmt: skip
        topic = nested(8, version, "OffsetCommitRequestTopic", name="t", topic_id=T_ID,
                       partitions=(partition,))  # fmt: skip
        req = request(8, version, group_id="g", generation_id_or_member_epoch=-1, member_id="",
                      group_instance_id=None, topics=(topic,))  # fmt: skip
        response = handlers.handle_offset_commit(broker.groups, ctx(8, version), req)  # type: ignore[arg-type]
        roundtrip(response)
        assert response.topics[0].partitions[0].error_code == E.none  # type: ignore[attr-defined]
        if version >= 10:
            assert response.topics[0].topic_id == T_ID  # type: ignore[attr-defined]
    assert broker.appended and all(t == OFFSETS_TOPIC for t, _, _ in broker.appended)
    low, high = handlers.SUPPORTED_VERSIONS[handlers.OFFSET_FETCH]
    for version in range(low, high + 1):
        if version < 8:
            wanted = nested(9, version, "OffsetFetchRequestTopic", name="t", partition_indexes=(0,))
            req = request(9, version, group_id="g", topics=(wanted,), require_stable=False)
        else:
            wanted = nested(
                9, version, "OffsetFetchRequestTopics", name="t", topic_id=T_ID,
                partition_indexes=(0,)
            )  # fmt: skip
            groups = (
                nested(9, version, "OffsetFetchRequestGroup", group_id="g", member_id=None,
                       member_epoch=-1, topics=(wanted,)),
                nested(9, version, "OffsetFetchRequestGroup", group_id="other", member_id=None,
                       member_epoch=-1, topics=None),
            )  # fmt: skip
            req = request(9, version, groups=groups, require_stable=False)
        response = handlers.handle_offset_fetch(broker.groups, ctx(9, version), req)  # type: ignore[arg-type]
        roundtrip(response)
        topics = response.topics if version < 8 else response.groups[0].topics  # type: ignore[attr-defined]
        (p,) = topics[0].partitions
        assert (p.committed_offset, p.metadata) == (high, f"v{high}")
        if version >= 10:
            assert topics[0].topic_id == T_ID


def test_v10_unknown_topic_id() -> None:
    """OffsetCommit and OffsetFetch v10: a topic id the broker does not know is
    UNKNOWN_TOPIC_ID, answered under that id (Kafka 4.4 does the same)."""
    broker = FakeBroker()
    stranger = uuid.UUID(int=99)
    partition = nested(8, 10, "OffsetCommitRequestPartition", partition_index=0,
                       committed_offset=5, committed_leader_epoch=-1,
                       committed_metadata="")  # fmt: skip
    topics = tuple(
        nested(8, 10, "OffsetCommitRequestTopic", topic_id=i, partitions=(partition,))
        for i in (T_ID, stranger)
    )
    req = request(8, 10, group_id="g", generation_id_or_member_epoch=-1, member_id="",
                  group_instance_id=None, topics=topics)  # fmt: skip
    response = handlers.handle_offset_commit(broker.groups, ctx(8, 10), req)  # type: ignore[arg-type]
    roundtrip(response)
    errors = {t.topic_id: t.partitions[0].error_code for t in response.topics}  # type: ignore[attr-defined]
    assert errors == {T_ID: E.none, stranger: E.unknown_topic_id}
    wanted = tuple(
        nested(9, 10, "OffsetFetchRequestTopics", topic_id=i, partition_indexes=(0,))
        for i in (T_ID, stranger)
    )
    group = nested(9, 10, "OffsetFetchRequestGroup", group_id="g", member_id=None,
                   member_epoch=-1, topics=wanted)  # fmt: skip
    req = request(9, 10, groups=(group,), require_stable=False)
    response = handlers.handle_offset_fetch(broker.groups, ctx(9, 10), req)  # type: ignore[arg-type]
    roundtrip(response)
    found = {
        t.topic_id: (t.partitions[0].committed_offset, t.partitions[0].error_code)
        for t in response.groups[0].topics  # type: ignore[attr-defined]
    }
    assert found == {T_ID: (5, E.none), stranger: (-1, E.unknown_topic_id)}


def test_find_coordinator_describe_and_list_every_version() -> None:
    broker = FakeBroker()
    low, high = handlers.SUPPORTED_VERSIONS[handlers.FIND_COORDINATOR]
    for version in range(low, high + 1):
        req = request(10, version, key="g", key_type=0, coordinator_keys=("g", "h"))
        response = handlers.handle_find_coordinator(broker.groups, ctx(10, version), req)  # type: ignore[arg-type]
        roundtrip(response)
        ports = [c.port for c in response.coordinators] if version >= 4 else [response.port]  # type: ignore[attr-defined]
        assert set(ports) == {9092}
    low, high = handlers.SUPPORTED_VERSIONS[handlers.DESCRIBE_GROUPS]
    for version in range(low, high + 1):
        req = request(15, version, groups=("missing",), include_authorized_operations=False)
        response = handlers.handle_describe_groups(broker.groups, ctx(15, version), req)  # type: ignore[arg-type]
        roundtrip(response)
        (group,) = response.groups  # type: ignore[attr-defined]
        assert group.group_state == "Dead"
        assert group.error_code == (E.group_id_not_found if version >= 6 else E.none)
    low, high = handlers.SUPPORTED_VERSIONS[handlers.LIST_GROUPS]
    for version in range(low, high + 1):
        req = request(16, version, states_filter=(), types_filter=())
        roundtrip(handlers.handle_list_groups(broker.groups, ctx(16, version), req))  # type: ignore[arg-type]
