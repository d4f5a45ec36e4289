"""Transaction version 2 (KIP-890 part 2) on the wire: Produce v12+ and TxnOffsetCommit v5+
add their partition to the transaction themselves, and EndTxn v5 bumps the producer's epoch.
A broker that finalizes ``transaction.version`` 2 answers these; one that does not advertise
EndTxn v5 skips them."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from kio.schema.errors import ErrorCode

from conformance.client_flows import deadline
from conformance.probes import produce_request, send
from conformance.records import Record, build_batch
from conformance.target import Target, require_api, unique_topic
from conformance.txn_probes import TRANSACTIONAL, init, until_ready

E = ErrorCode


def end_txn_v5(target: Target, txn_id: str, pid: int, epoch: int, commit: bool) -> Any:
    require_api(target, "EndTxn", 5)
    return until_ready(
        lambda: target.call(
            "EndTxn",
            5,
            5,
            transactional_id=txn_id,
            producer_id=pid,
            producer_epoch=epoch,
            committed=commit,
        )
    )


def produce_v12(target: Target, txn_id: str, topic: str, pid: int, epoch: int, seq: int) -> Any:
    """A transactional batch at Produce v12+ with no AddPartitionsToTxn before it."""
    batch = build_batch(
        [Record(b"tv2")],
        attributes=TRANSACTIONAL,
        producer_id=pid,
        producer_epoch=epoch,
        base_sequence=seq,
    )
    request = produce_request(topic, batch) | {"transactional_id": txn_id}

    def attempt() -> Any:
        answer = send(target, None, ("Produce", 12, 12), **request)
        return answer.responses[0].partition_responses[0]

    end = deadline()
    while (response := attempt()).error_code == E.not_enough_replicas:  # coordinator busy
        assert time.monotonic() < end, response
        time.sleep(0.1)
    return response


def state_of(target: Target, txn_id: str) -> Any:
    answer = target.call("DescribeTransactions", 0, None, transactional_ids=[txn_id])
    return answer.transaction_states[0]


def completed(target: Target, txn_id: str, state: str) -> Any:
    end = deadline()
    while (described := state_of(target, txn_id)).transaction_state != state:
        assert time.monotonic() < end, described
        time.sleep(0.05)
    return described


def stable_offset(target: Target, group: str, topic: str) -> int:
    """Partition 0's committed offset once the transaction's marker made it stable (OffsetFetch
    v7 with ``require_stable``: UNSTABLE_OFFSET_COMMIT until then)."""
    end = deadline()
    while True:
        fetched = (
            target.call(
                "OffsetFetch",
                7,
                7,
                group_id=group,
                topics=[{"name": topic, "partition_indexes": [0]}],
                require_stable=True,
            )
            .topics[0]
            .partitions[0]
        )
        if fetched.error_code == E.none:
            break
        assert fetched.error_code == E.unstable_offset_commit and time.monotonic() < end
        time.sleep(0.05)
    return int(fetched.committed_offset)


@pytest.mark.api("EndTxn", behaviour="v5 after a Produce v12 write: commits with the epoch + 1")
def test_end_txn_v5_bumps_the_epoch(target: Target, topic: str) -> None:
    txn_id = unique_topic("txn")
    answer = init(target, txn_id)
    pid, epoch = answer.producer_id, answer.producer_epoch
    assert produce_v12(target, txn_id, topic, pid, epoch, 0).error_code == E.none
    assert state_of(target, txn_id).transaction_state == "Ongoing"  # added by the write
    ended = end_txn_v5(target, txn_id, pid, epoch, True)
    assert (ended.error_code, ended.producer_id, ended.producer_epoch) == (E.none, pid, epoch + 1)
    described = completed(target, txn_id, "CompleteCommit")
    assert (described.producer_id, described.producer_epoch) == (pid, epoch + 1)
    retried = end_txn_v5(target, txn_id, pid, epoch, True)  # the answer was lost
    assert (retried.error_code, retried.producer_epoch) == (E.none, epoch + 1)
    # the old epoch's writes are fenced by the marker; the next transaction uses the new one
    stale = produce_v12(target, txn_id, topic, pid, epoch, 1)
    assert stale.error_code == E.invalid_producer_epoch, stale
    assert produce_v12(target, txn_id, topic, pid, epoch + 1, 0).error_code == E.none
    aborted = end_txn_v5(target, txn_id, pid, epoch + 1, False)
    assert (aborted.error_code, aborted.producer_epoch) == (E.none, epoch + 2)


@pytest.mark.api("EndTxn", behaviour="v5 abort with no transaction: ok, the epoch + 1")
def test_end_txn_v5_aborts_an_empty_transaction(target: Target) -> None:
    txn_id = unique_topic("txn")
    answer = init(target, txn_id)
    pid, epoch = answer.producer_id, answer.producer_epoch
    committed = end_txn_v5(target, txn_id, pid, epoch, True)
    assert committed.error_code == E.invalid_txn_state
    aborted = end_txn_v5(target, txn_id, pid, epoch, False)
    assert (aborted.error_code, aborted.producer_epoch) == (E.none, epoch + 1)


@pytest.mark.api(
    "TxnOffsetCommit", behaviour="v5 with no AddOffsetsToTxn: the offsets join the transaction"
)
def test_txn_offset_commit_v5_adds_the_offsets_partition(target: Target, topic: str) -> None:
    require_api(target, "TxnOffsetCommit", 5)
    txn_id, group = unique_topic("txn"), unique_topic("group")
    answer = init(target, txn_id)
    pid, epoch = answer.producer_id, answer.producer_epoch
    target.call("FindCoordinator", 0, 3, key=group, key_type=0)  # creates the offsets topic
    topics = [{"name": topic, "partitions": [offset_at(0, 5)]}]
    committed = txn_offset_commit(target, 5, txn_id, group, pid, epoch, topics)
    assert committed.topics[0].partitions[0].error_code == E.none, committed
    described = state_of(target, txn_id)
    assert described.transaction_state == "Ongoing"
    assert [t.topic for t in described.topics] == ["__consumer_offsets"]
    ended = end_txn_v5(target, txn_id, pid, epoch, True)
    assert (ended.error_code, ended.producer_epoch) == (E.none, epoch + 1)
    assert stable_offset(target, group, topic) == 5


@pytest.mark.api("ApiVersions", behaviour="v3+: transaction.version supported 0-2, finalized 2")
def test_transaction_version_is_finalized_at_2(target: Target) -> None:
    answer = target.call("ApiVersions", 3, None, client_software_name="conformance",
                         client_software_version="1")  # fmt: skip
    supported = {f.name: (f.min_version, f.max_version) for f in answer.supported_features}
    finalized = {
        f.name: (f.min_version_level, f.max_version_level) for f in answer.finalized_features
    }
    assert supported["transaction.version"] == (0, 2)
    assert finalized["transaction.version"] == (2, 2)
    assert answer.finalized_features_epoch >= 0


def txn_offset_commit(
    target: Target, version: int, txn_id: str, group: str, pid: int, epoch: int, topics: list[Any]
) -> Any:
    """TxnOffsetCommit at exactly ``version`` (v6, KIP-1319: topics by id), retried while
    the coordinators load."""
    require_api(target, "TxnOffsetCommit", version, version)
    return until_ready(
        lambda: target.call(
            "TxnOffsetCommit",
            version,
            version,
            transactional_id=txn_id,
            group_id=group,
            producer_id=pid,
            producer_epoch=epoch,
            generation_id=-1,
            member_id="",
            group_instance_id=None,
            topics=topics,
        ),
        lambda a: a.topics[0].partitions[0].error_code,
    )


def offset_at(partition: int, offset: int) -> dict[str, Any]:
    return {
        "partition_index": partition,
        "committed_offset": offset,
        "committed_leader_epoch": -1,
        "committed_metadata": "",
    }


def topic_id_of(target: Target, topic: str) -> uuid.UUID:
    found = target.metadata_topic(topic)
    assert found is not None and found.topic_id is not None, found
    return uuid.UUID(str(found.topic_id))


@pytest.mark.api("TxnOffsetCommit", behaviour="v6: the topic by id; commits with the transaction")
def test_txn_offset_commit_v6_names_topics_by_id(target: Target, topic: str) -> None:
    require_api(target, "TxnOffsetCommit", 6, 6)
    txn_id, group = unique_topic("txn"), unique_topic("group")
    answer = init(target, txn_id)
    pid, epoch = answer.producer_id, answer.producer_epoch
    target.call("FindCoordinator", 0, 3, key=group, key_type=0)  # creates the offsets topic
    tid = topic_id_of(target, topic)
    committed = txn_offset_commit(
        target, 6, txn_id, group, pid, epoch, [{"topic_id": tid, "partitions": [offset_at(0, 7)]}]
    )
    assert [(t.topic_id, [(p.partition_index, p.error_code) for p in t.partitions])
            for t in committed.topics] == [(tid, [(0, E.none)])], committed  # fmt: skip
    assert [t.topic for t in state_of(target, txn_id).topics] == ["__consumer_offsets"]
    ended = end_txn_v5(target, txn_id, pid, epoch, True)
    assert ended.error_code == E.none
    assert stable_offset(target, group, topic) == 7


def errors_by_id(answer: Any) -> dict[uuid.UUID, list[tuple[int, ErrorCode]]]:
    return {
        t.topic_id: [(p.partition_index, p.error_code) for p in t.partitions] for t in answer.topics
    }


@pytest.mark.api(
    "TxnOffsetCommit", behaviour="v6: an unknown topic id gets UNKNOWN_TOPIC_ID, the rest commit"
)
def test_txn_offset_commit_v6_unknown_topic_id(target: Target, topic: str) -> None:
    require_api(target, "TxnOffsetCommit", 6, 6)
    txn_id, group = unique_topic("txn"), unique_topic("group")
    answer = init(target, txn_id)
    pid, epoch = answer.producer_id, answer.producer_epoch
    target.call("FindCoordinator", 0, 3, key=group, key_type=0)
    tid, unknown = topic_id_of(target, topic), uuid.uuid4()
    topics = [
        {"topic_id": unknown, "partitions": [offset_at(0, 1), offset_at(1, 1)]},
        {"topic_id": tid, "partitions": [offset_at(0, 1)]},
    ]
    answered = until_ready(
        lambda: txn_offset_commit(target, 6, txn_id, group, pid, epoch, topics),
        lambda a: errors_by_id(a).get(tid, [(0, E.none)])[0][1],
    )
    assert errors_by_id(answered) == {
        unknown: [(0, E.unknown_topic_id), (1, E.unknown_topic_id)],
        tid: [(0, E.none)],
    }, answered


@pytest.mark.api(
    "TxnOffsetCommit", behaviour="v6: a missing group with a generation: GROUP_ID_NOT_FOUND"
)
def test_txn_offset_commit_v6_group_id_not_found(target: Target, topic: str) -> None:
    require_api(target, "TxnOffsetCommit", 6, 6)
    txn_id, group = unique_topic("txn"), unique_topic("group")
    answer = init(target, txn_id)
    target.call("FindCoordinator", 0, 3, key=group, key_type=0)
    tid = topic_id_of(target, topic)
    answered = until_ready(
        lambda: target.call(
            "TxnOffsetCommit",
            6,
            6,
            transactional_id=txn_id,
            group_id=group,
            producer_id=answer.producer_id,
            producer_epoch=answer.producer_epoch,
            generation_id=3,
            member_id="member",
            group_instance_id=None,
            topics=[{"topic_id": tid, "partitions": [offset_at(0, 1)]}],
        ),
        lambda a: a.topics[0].partitions[0].error_code,
    )
    assert errors_by_id(answered) == {tid: [(0, E.group_id_not_found)]}, answered
