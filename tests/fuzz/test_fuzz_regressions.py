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
    # OffsetFetch v5 for a topic named "\x00": taken for an unknown topic id's stand-in, a
    # topic id looked up on a version that has none (AttributeError).
    "offset-fetch-nul-topic-name": (
        "0000002d000900050000000700125f5f636f6e73756d65725f6f6666736574730000000000010001000000"
        "000180000000",
        "answered",
    ),
    # ApiVersions at an unknown version whose client id length is -32768: Kafka takes any
    # negative length as a null client id and answers (UNSUPPORTED_VERSION at v0); refka
    # closed the connection, as kio reads only -1 as null.
    "api-versions-negative-client-id-length": ("0000000a0012e5441e6c06c38000", "answered"),
    # Metadata v1 whose client id is not UTF-8: Kafka decodes it with replacement characters.
    "metadata-client-id-not-utf8": ("0000001100030001000000070003ff80fe00000000", "answered"),
    # ApiVersions v3 whose v2 header has a tagged field of tag 4: Kafka skips tags it does not
    # know (KIP-482); kio raised on it and refka closed the connection.
    "header-unknown-tag": ("00000014001200030000000500016301040100" + "0261023100", "answered"),
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


CONTROLLER_FOUND = {
    # Fetch v5 and v10 to the controller's listener: the answer built a current leader, a
    # type that Fetch responses have only from v12 on (AttributeError, "internal error").
    "controller-fetch-v5": (
        "0000008700010005000000070013e0a4aee0a4a8e0a580e0a4b720d985d986d8b400000001000000060000"
        "000000000006000000000200016700000002ffffff3a00000000000002a0000000000000000b000000010000"
        "000e000000000000000fffffffffffffffffffffffff00000000000100000009ffffffffffe32b42ffffffff"
        "ffffffd9000028b7",
        "answered",
    ),
    "controller-fetch-v10": (
        "000000680001000a00000007ffff7ffffffe0000000b00000000fffffef60100000001ffffffff000000010003"
        "2cc3b1000000017fffffff0000000b0000000000000002ffc3ec93201a6046ffff1230000000010012"
        "5f5f636f6e73756d65725f6f66667365747300000000",
        "answered",
    ),
}


@pytest.mark.parametrize("name", sorted(CONTROLLER_FOUND))
def test_a_found_controller_input_gets_kafkas_answer(
    controller_target: InProcessTarget, name: str
) -> None:
    data, verdict = CONTROLLER_FOUND[name]
    outcome = controller_target.send(bytes.fromhex(data))
    assert outcome.verdict == verdict, outcome.detail
    assert controller_target.canary(name.encode()) is None
