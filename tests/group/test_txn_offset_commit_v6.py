"""TxnOffsetCommit v6 (KIP-1319) through its handler: topics by id in the request and the
answer, an unknown id UNKNOWN_TOPIC_ID (under that id) while the others commit, and a missing
group named with a generation GROUP_ID_NOT_FOUND (v5: ILLEGAL_GENERATION), as Kafka 4.4
answers (``conformance/test_transactions_v2.py`` probes both brokers)."""

from __future__ import annotations

import uuid
from types import SimpleNamespace
from typing import Any

from kio.schema.errors import ErrorCode as E
from refka.core.groups import OFFSETS_TOPIC
from refka.handlers.txn_offset_commit import handle_txn_offset_commit
from refka.protocol import codec

from tests.group.test_group_versions import T_ID, FakeBroker, ctx, nested, request, roundtrip

TXN_OFFSET_COMMIT = 28


def joined_transactions() -> Any:
    """The transaction coordinator's side: every partition asked for joins the transaction."""

    def check(
        txn_id: str, pid: int, epoch: int, partitions: list, add: bool, now: int, done: Any
    ) -> None:
        done(dict.fromkeys(partitions, E.none))

    return SimpleNamespace(verification=SimpleNamespace(check=check), reply=None)


def commit(
    broker: FakeBroker, version: int, topics: list[tuple[Any, list[int]]], **group: Any
) -> Any:
    """TxnOffsetCommit at ``version`` of ``topics``: (id at v6, name before; partitions)."""
    key = "topic_id" if version >= 6 else "name"
    wire = tuple(
        nested(TXN_OFFSET_COMMIT, version, "TxnOffsetCommitRequestTopic", **{key: topic},
               partitions=tuple(
                   nested(TXN_OFFSET_COMMIT, version, "TxnOffsetCommitRequestPartition",
                          partition_index=p, committed_offset=9, committed_leader_epoch=-1,
                          committed_metadata="")
                   for p in partitions))
        for topic, partitions in topics
    )  # fmt: skip
    fields = {"generation_id": -1, "member_id": ""} | group
    req = request(TXN_OFFSET_COMMIT, version, transactional_id="tx", group_id="g", producer_id=4,
                  producer_epoch=0, group_instance_id=None, topics=wire, **fields)  # fmt: skip
    assert codec.decode(type(req), codec.encode(req))[0] == req  # type: ignore[arg-type]
    response = handle_txn_offset_commit(
        broker.groups,  # type: ignore[arg-type]
        joined_transactions(),
        ctx(TXN_OFFSET_COMMIT, version),  # type: ignore[arg-type]
        req,
    )
    roundtrip(response)
    return response


def errors(response: Any, key: str = "topic_id") -> dict[Any, list[tuple[int, E]]]:
    return {
        getattr(t, key): [(p.partition_index, p.error_code) for p in t.partitions]
        for t in response.topics
    }


def test_v6_commits_by_topic_id_and_answers_by_it() -> None:
    broker = FakeBroker()
    response = commit(broker, 6, [(T_ID, [0])])
    assert errors(response) == {T_ID: [(0, E.none)]}
    assert [t for t, _, _ in broker.appended] == [OFFSETS_TOPIC]  # in the producer's transaction
    assert broker.groups.coordinator.has_pending_txn_offset("g", ("t", 0))


def test_v6_unknown_topic_id_and_the_rest_commit() -> None:
    broker = FakeBroker()
    stranger = uuid.UUID(int=99)
    response = commit(broker, 6, [(T_ID, [0, 3]), (stranger, [0, 1])])
    assert errors(response) == {
        stranger: [(0, E.unknown_topic_id), (1, E.unknown_topic_id)],
        T_ID: [(3, E.unknown_topic_or_partition), (0, E.none)],
    }
    assert broker.groups.coordinator.has_pending_txn_offset("g", ("t", 0))
    alone = commit(FakeBroker(), 6, [(stranger, [0])])
    assert errors(alone) == {stranger: [(0, E.unknown_topic_id)]}


def test_v6_missing_group_with_a_generation_is_group_id_not_found() -> None:
    for version, error in ((6, E.group_id_not_found), (5, E.illegal_generation)):
        topic = T_ID if version >= 6 else "t"
        response = commit(FakeBroker(), version, [(topic, [0])], generation_id=3, member_id="m")
        key = "topic_id" if version >= 6 else "name"
        assert errors(response, key) == {topic: [(0, error)]}


def test_v5_names_topics_and_the_unknown_ones_do_not_stop_the_rest() -> None:
    response = commit(FakeBroker(), 5, [("t", [0]), ("gone", [0])])
    assert errors(response, "name") == {
        "gone": [(0, E.unknown_topic_or_partition)],
        "t": [(0, E.none)],
    }
