"""Inputs the fuzzer found that crashed or hung refka, each pinned as the fuzzer wrote it
(frame bytes in hex, size prefix included) with Kafka's answer: an error or a closed
connection. The canary must be served after each."""

from __future__ import annotations

import pytest
from refka.fuzz.target import InProcessTarget
from refka.protocol import codec, nulls

FOUND = {
    # DeleteGroups v2 whose groups_names array has length -1: TypeError in the coordinator.
    "delete-groups-null-array": (
        "00000017002a00020000000700093863c2afc2b171c29b00000002",
        "closed",
    ),
    # AddPartitionsToTxn v1, a topic whose partitions array is null (a varint that lies).
    "add-partitions-null-array": (
        "0000002600180001000000070003c3ad0e0004f0bc88a48000000000000000ffffffffffff0000000000",
        "closed",
    ),
    # WriteTxnMarkers v1 naming partition 0 of a topic twice: the answer waited for one
    # marker result too many, and never went out.
    "write-txn-markers-duplicate-partition": (
        "000000a2001b000100000007000cc2bef48b9e9d62f2a581b37900047ffffffffffffffefc72010419f2b3"
        "aaa9370cf2bdada5c28c554ced9dba5ec292c396c381010017f2819388c38d19c2bc36c296f0bfa988506a"
        "c2b2407f047fffffff0000000000000000000103ffffdb5700000006008000000000ffbfffffffffffffff"
        "ff00020566757a7a020000017c00ffffffff00000000000000000d000801017fffffff0000",
        "answered",
    ),
}


@pytest.mark.parametrize("name", sorted(FOUND))
def test_a_found_input_gets_kafkas_answer(target: InProcessTarget, name: str) -> None:
    data, verdict = FOUND[name]
    outcome = target.send(bytes.fromhex(data))
    assert outcome.verdict == verdict, outcome.detail
    assert target.canary(name.encode()) is None


def test_a_null_in_a_non_nullable_array_is_refused_as_kafka_refuses_it() -> None:
    cls = codec.request_class(42, 2)
    with pytest.raises(nulls.NullField, match="groups_names"):
        nulls.check(cls(groups_names=None))
    nulls.check(cls(groups_names=("g",)))
