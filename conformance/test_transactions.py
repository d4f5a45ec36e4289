"""Transactions (KIP-98, KIP-664): the coordinator's answers and what it reports.

Each probe gets its own transactional id and talks to the coordinator through raw requests:
InitProducerId, AddPartitionsToTxn, EndTxn, DescribeTransactions, ListTransactions and
DescribeProducers. A coordinator that is not ready yet (its ``__transaction_state`` is being
created or loaded) is asked again until a deadline.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from kio.schema.errors import ErrorCode

from conformance.client_flows import deadline
from conformance.probes import PRODUCE, produce_request, send
from conformance.records import Record, build_batch
from conformance.target import Target, require_api, unique_topic
from conformance.txn_probes import TRANSACTIONAL, init, until_ready

E = ErrorCode


def add_partitions(target: Target, txn_id: str, pid: int, epoch: int, topic: str) -> ErrorCode:
    answer = target.call(
        "AddPartitionsToTxn",
        0,
        3,
        v3_and_below_transactional_id=txn_id,
        v3_and_below_producer_id=pid,
        v3_and_below_producer_epoch=epoch,
        v3_and_below_topics=[{"name": topic, "partitions": [0]}],
    )
    return ErrorCode(
        answer.results_by_topic_v3_and_below[0].results_by_partition[0].partition_error_code
    )


def end_txn(target: Target, txn_id: str, pid: int, epoch: int, commit: bool) -> ErrorCode:
    answer = target.call(
        "EndTxn",
        0,
        4,
        transactional_id=txn_id,
        producer_id=pid,
        producer_epoch=epoch,
        committed=commit,
    )
    return ErrorCode(answer.error_code)


def describe(target: Target, txn_id: str) -> Any:
    require_api(target, "DescribeTransactions", 0)
    answer = target.call("DescribeTransactions", 0, None, transactional_ids=[txn_id])
    return answer.transaction_states[0]


def send_transactional(target: Target, txn_id: str, topic: str, pid: int, epoch: int) -> None:
    batch = build_batch(
        [Record(b"in-txn")],
        attributes=TRANSACTIONAL,
        producer_id=pid,
        producer_epoch=epoch,
        base_sequence=0,
    )
    request = produce_request(topic, batch) | {"transactional_id": txn_id}
    answer = send(target, None, PRODUCE, **request)
    response = answer.responses[0].partition_responses[0]
    assert response.error_code == E.none, response


@pytest.mark.api(
    "EndTxn", behaviour="ending a transaction that has no partitions: INVALID_TXN_STATE"
)
def test_end_without_a_transaction(target: Target) -> None:
    txn_id = unique_topic("txn")
    answer = init(target, txn_id)
    error = end_txn(target, txn_id, answer.producer_id, answer.producer_epoch, True)
    assert error == E.invalid_txn_state


@pytest.mark.api("AddPartitionsToTxn", behaviour="an older epoch of the id: PRODUCER_FENCED")
def test_older_epoch_is_fenced(target: Target, topic: str) -> None:
    txn_id = unique_topic("txn")
    first = init(target, txn_id)
    second = init(target, txn_id)
    assert second.producer_id == first.producer_id
    assert second.producer_epoch == first.producer_epoch + 1
    error = add_partitions(target, txn_id, first.producer_id, first.producer_epoch, topic)
    assert error == E.producer_fenced


@pytest.mark.api("EndTxn", behaviour="commit after abort: INVALID_TXN_STATE; abort again: ok")
def test_end_the_other_way_after_an_abort(target: Target, topic: str) -> None:
    txn_id = unique_topic("txn")
    answer = init(target, txn_id)
    pid, epoch = answer.producer_id, answer.producer_epoch
    assert add_partitions(target, txn_id, pid, epoch, topic) == E.none
    send_transactional(target, txn_id, topic, pid, epoch)
    assert until_ready(lambda: end_txn(target, txn_id, pid, epoch, False), lambda e: e) == E.none
    assert until_ready(lambda: end_txn(target, txn_id, pid, epoch, True), lambda e: e) == (
        E.invalid_txn_state
    )
    assert until_ready(lambda: end_txn(target, txn_id, pid, epoch, False), lambda e: e) == E.none


@pytest.mark.api("DescribeTransactions", behaviour="an unknown id: TRANSACTIONAL_ID_NOT_FOUND")
def test_describe_unknown(target: Target) -> None:
    init(target, unique_topic("txn"))  # the coordinator is up
    state = until_ready(lambda: describe(target, unique_topic("never")))
    assert state.error_code == E.transactional_id_not_found


@pytest.mark.api("DescribeTransactions", behaviour="Ongoing with its partitions; CompleteAbort")
def test_describe_through_a_transaction(target: Target, topic: str) -> None:
    # (not described in Empty: its start time is -1, which kio cannot parse as a timestamp)
    txn_id = unique_topic("txn")
    answer = init(target, txn_id)
    pid, epoch = answer.producer_id, answer.producer_epoch
    assert add_partitions(target, txn_id, pid, epoch, topic) == E.none
    ongoing = until_ready(lambda: describe(target, txn_id))
    assert (ongoing.error_code, ongoing.transaction_state) == (E.none, "Ongoing")
    assert (ongoing.producer_id, ongoing.producer_epoch) == (pid, epoch)
    assert ongoing.transaction_timeout.total_seconds() == 60
    assert [(t.topic, list(t.partitions)) for t in ongoing.topics] == [(topic, [0])]
    assert end_txn(target, txn_id, pid, epoch, False) == E.none
    end = deadline()  # the markers are written after EndTxn answers
    while (done := describe(target, txn_id)).transaction_state != "CompleteAbort":
        assert done.transaction_state == "PrepareAbort" and time.monotonic() < end, done
        time.sleep(0.05)
    assert not done.topics


@pytest.mark.api("ListTransactions", behaviour="filters by state; unknown state filters listed")
def test_list_by_state(target: Target, topic: str) -> None:
    require_api(target, "ListTransactions", 0)
    txn_id = unique_topic("txn")
    answer = init(target, txn_id)
    pid, epoch = answer.producer_id, answer.producer_epoch
    assert add_partitions(target, txn_id, pid, epoch, topic) == E.none
    listed = target.call(
        "ListTransactions", 0, None, state_filters=["Ongoing", "Nope"], producer_id_filters=[]
    )
    assert listed.error_code == E.none
    assert list(listed.unknown_state_filters) == ["Nope"]
    found = [
        (s.transactional_id, s.producer_id, s.transaction_state) for s in listed.transaction_states
    ]
    assert (txn_id, pid, "Ongoing") in found
    empty = target.call(
        "ListTransactions", 0, None, state_filters=["Empty"], producer_id_filters=[pid]
    )
    assert empty.transaction_states == ()
    end_txn(target, txn_id, pid, epoch, False)


@pytest.mark.api(
    "DescribeProducers",
    behaviour="the open transaction's first offset, -1 once it ended; the marker's epoch",
)
def test_describe_producers(target: Target, topic: str) -> None:
    require_api(target, "DescribeProducers", 0)
    txn_id = unique_topic("txn")
    answer = init(target, txn_id)
    pid, epoch = answer.producer_id, answer.producer_epoch
    assert add_partitions(target, txn_id, pid, epoch, topic) == E.none
    send_transactional(target, txn_id, topic, pid, epoch)

    def producers() -> list[Any]:
        described = target.call(
            "DescribeProducers", 0, None, topics=[{"name": topic, "partition_indexes": [0]}]
        )
        partition = described.topics[0].partitions[0]
        assert partition.error_code == E.none, partition
        return list(partition.active_producers)

    [open_txn] = producers()
    assert (open_txn.producer_id, open_txn.producer_epoch) == (pid, epoch)
    assert (open_txn.last_sequence, open_txn.current_txn_start_offset) == (0, 0)
    assert open_txn.coordinator_epoch == -1  # no marker of this producer yet
    assert end_txn(target, txn_id, pid, epoch, True) == E.none
    end = deadline()
    while (after := producers()[0]).current_txn_start_offset != -1:
        assert time.monotonic() < end, after
        time.sleep(0.05)
    assert after.coordinator_epoch >= 0  # the marker's


@pytest.mark.api(
    "Produce", behaviour="a transactional write to a partition not in the transaction is refused"
)
def test_produce_outside_the_transaction(target: Target, topic: str) -> None:
    """KIP-890 part 1: the leader asks the coordinator whether the partition is in the
    producer's ongoing transaction before the transaction's first write there."""
    txn_id = unique_topic("txn")
    answer = init(target, txn_id)
    batch = build_batch(
        [Record(b"stray")],
        attributes=TRANSACTIONAL,
        producer_id=answer.producer_id,
        producer_epoch=answer.producer_epoch,
        base_sequence=0,
    )
    request = produce_request(topic, batch) | {"transactional_id": txn_id}
    # v12+ is transaction version 2 (KIP-890 part 2): the write adds the partition instead
    for version, expected in ((11, E.transaction_abortable), (9, E.invalid_txn_state)):
        pinned = ("Produce", version, version)
        answer = send(target, None, pinned, **request)
        response = answer.responses[0].partition_responses[0]
        assert response.error_code == expected, (version, response)


def txn_offset_commit(
    target: Target, txn_id: str, group: str, pid: int, epoch: int, topic: str, offset: int
) -> ErrorCode:
    require_api(target, "AddOffsetsToTxn", 0)
    require_api(target, "TxnOffsetCommit", 0)
    target.call("FindCoordinator", 0, 3, key=group, key_type=0)  # creates the offsets topic
    added = until_ready(
        lambda: target.call(
            "AddOffsetsToTxn",
            0,
            None,
            transactional_id=txn_id,
            producer_id=pid,
            producer_epoch=epoch,
            group_id=group,
        )
    )
    assert added.error_code == E.none, added
    answer = until_ready(
        lambda: target.call(
            "TxnOffsetCommit",
            0,
            3,
            transactional_id=txn_id,
            group_id=group,
            producer_id=pid,
            producer_epoch=epoch,
            generation_id=-1,
            member_id="",
            group_instance_id=None,
            topics=[
                {
                    "name": topic,
                    "partitions": [
                        {
                            "partition_index": 0,
                            "committed_offset": offset,
                            "committed_leader_epoch": -1,
                            "committed_metadata": "",
                        }
                    ],
                }
            ],
        ),
        lambda a: a.topics[0].partitions[0].error_code,
    )
    return ErrorCode(answer.topics[0].partitions[0].error_code)


def offset_fetch(target: Target, group: str, topic: str, require_stable: bool) -> Any:
    answer = target.call(
        "OffsetFetch",
        7,
        7,
        group_id=group,
        topics=[{"name": topic, "partition_indexes": [0]}],
        require_stable=require_stable,
    )
    return answer.topics[0].partitions[0]


@pytest.mark.api(
    "TxnOffsetCommit", behaviour="pending until the commit; require_stable: UNSTABLE_OFFSET_COMMIT"
)
def test_offsets_in_a_transaction(target: Target, topic: str) -> None:
    txn_id, group = unique_topic("txn"), unique_topic("group")
    answer = init(target, txn_id)
    pid, epoch = answer.producer_id, answer.producer_epoch
    assert txn_offset_commit(target, txn_id, group, pid, epoch, topic, 7) == E.none
    unstable = offset_fetch(target, group, topic, require_stable=True)
    assert unstable.error_code == E.unstable_offset_commit, unstable
    pending = offset_fetch(target, group, topic, require_stable=False)
    assert (pending.error_code, pending.committed_offset) == (E.none, -1)
    assert until_ready(lambda: end_txn(target, txn_id, pid, epoch, True), lambda e: e) == E.none
    end = deadline()  # the marker reaches the offsets partition after EndTxn answers
    while (stable := offset_fetch(target, group, topic, require_stable=True)).error_code:
        assert stable.error_code == E.unstable_offset_commit and time.monotonic() < end, stable
        time.sleep(0.05)
    assert stable.committed_offset == 7
