"""Idempotent producer (KIP-98, KIP-360): producer ids, sequence numbers, epochs."""

from __future__ import annotations

from typing import Any

import pytest
from kio.schema.errors import ErrorCode

from conformance.probes import fetch, log_end_offset, produce
from conformance.records import Record, build_batch, parse_batches
from conformance.target import Target, eventually


def init_producer_id(target: Target, producer_id: int = -1, epoch: int = -1) -> Any:
    """InitProducerId for an idempotent producer. A broker hands out ids from a block the
    controller allocated it (AllocateProducerIds); until the first block arrives it answers
    COORDINATOR_LOAD_IN_PROGRESS, and a client asks again."""
    answer = eventually(
        lambda: target.call(
            "InitProducerId",
            0,
            None,
            transactional_id=None,
            transaction_timeout=60000,
            producer_id=producer_id,
            producer_epoch=epoch,
        ),
        lambda a: a.error_code != ErrorCode.coordinator_load_in_progress,
    )
    assert answer.error_code == ErrorCode.none, answer
    return answer


def send(target: Target, topic: str, pid: int, epoch: int, sequence: int, *values: bytes) -> Any:
    batch = build_batch(
        [Record(v) for v in values], producer_id=pid, producer_epoch=epoch, base_sequence=sequence
    )
    return produce(target, topic, batch)


@pytest.mark.api("InitProducerId", behaviour="allocates a producer id and epoch")
def test_allocates(target: Target) -> None:
    answer = init_producer_id(target)
    assert answer.producer_id >= 0 and answer.producer_epoch >= 0


@pytest.mark.api("InitProducerId", behaviour="each call allocates a new producer id")
def test_distinct_ids(target: Target) -> None:
    assert init_producer_id(target).producer_id != init_producer_id(target).producer_id


@pytest.mark.api(
    "InitProducerId", behaviour="re-init with the current id gives a newer (id, epoch)"
)
@pytest.mark.observed
def test_reinit(target: Target) -> None:
    if target.version("InitProducerId", 3) is None:
        pytest.skip("not supported: InitProducerId v3+")
    first = init_producer_id(target)
    second = init_producer_id(target, first.producer_id, first.producer_epoch)
    # Kafka 4 observed: an idempotent (non-transactional) producer gets a new producer id.
    assert (second.producer_id, second.producer_epoch) != (first.producer_id, first.producer_epoch)
    assert second.producer_id > first.producer_id or second.producer_epoch > first.producer_epoch


@pytest.mark.api("Produce", behaviour="idempotent: consecutive sequences are appended")
def test_in_order(target: Target, topic: str) -> None:
    ids = init_producer_id(target)
    first = send(target, topic, ids.producer_id, ids.producer_epoch, 0, b"a", b"b")
    second = send(target, topic, ids.producer_id, ids.producer_epoch, 2, b"c")
    assert (first.error_code, first.base_offset) == (ErrorCode.none, 0)
    assert (second.error_code, second.base_offset) == (ErrorCode.none, 2)


@pytest.mark.api("Produce", behaviour="idempotent: a retried batch is acknowledged, not duplicated")
def test_duplicate_retry(target: Target, topic: str) -> None:
    ids = init_producer_id(target)
    first = send(target, topic, ids.producer_id, ids.producer_epoch, 0, b"a")
    retry = send(target, topic, ids.producer_id, ids.producer_epoch, 0, b"a")
    assert first.error_code == ErrorCode.none
    assert retry.error_code in (ErrorCode.none, ErrorCode.duplicate_sequence_number)
    assert retry.base_offset in (first.base_offset, -1)
    assert log_end_offset(target, topic) == 1


@pytest.mark.api("Produce", behaviour="idempotent: a gap in sequence: OUT_OF_ORDER_SEQUENCE_NUMBER")
def test_sequence_gap(target: Target, topic: str) -> None:
    ids = init_producer_id(target)
    send(target, topic, ids.producer_id, ids.producer_epoch, 0, b"a")
    gap = send(target, topic, ids.producer_id, ids.producer_epoch, 5, b"b")
    assert gap.error_code == ErrorCode.out_of_order_sequence_number
    assert log_end_offset(target, topic) == 1


@pytest.mark.api("Produce", behaviour="idempotent: a higher epoch from the producer starts at 0")
@pytest.mark.observed
def test_client_epoch_bump(target: Target, topic: str) -> None:
    # KIP-360: an idempotent producer may bump its own epoch and restart sequences at 0.
    pid = init_producer_id(target).producer_id
    assert send(target, topic, pid, 0, 0, b"a").error_code == ErrorCode.none
    bumped = send(target, topic, pid, 1, 0, b"b")
    assert (bumped.error_code, bumped.base_offset) == (ErrorCode.none, 1)


@pytest.mark.api(
    "Produce", behaviour="idempotent: an epoch older than the last: INVALID_PRODUCER_EPOCH"
)
@pytest.mark.observed
def test_stale_epoch(target: Target, topic: str) -> None:
    pid = init_producer_id(target).producer_id
    send(target, topic, pid, 0, 0, b"a")
    send(target, topic, pid, 1, 0, b"b")
    stale = send(target, topic, pid, 0, 1, b"c")
    assert stale.error_code == ErrorCode.invalid_producer_epoch
    assert log_end_offset(target, topic) == 2


@pytest.mark.api(
    "Produce", behaviour="idempotent: a new epoch not at sequence 0: OUT_OF_ORDER_SEQUENCE_NUMBER"
)
@pytest.mark.observed
def test_new_epoch_nonzero_sequence(target: Target, topic: str) -> None:
    pid = init_producer_id(target).producer_id
    send(target, topic, pid, 0, 0, b"a")
    wrong = send(target, topic, pid, 1, 5, b"b")
    assert wrong.error_code == ErrorCode.out_of_order_sequence_number
    assert log_end_offset(target, topic) == 1


@pytest.mark.api(
    "Produce", behaviour="idempotent: the batch keeps the producer id, epoch, sequence"
)
def test_batch_header_kept(target: Target, topic: str) -> None:
    ids = init_producer_id(target)
    send(target, topic, ids.producer_id, ids.producer_epoch, 0, b"a", b"b")
    [batch] = parse_batches(fetch(target, topic, 0).records)
    assert (batch.producer_id, batch.producer_epoch, batch.base_sequence) == (
        ids.producer_id,
        ids.producer_epoch,
        0,
    )


@pytest.mark.api("Produce", behaviour="idempotent: sequences are tracked per partition")
def test_per_partition_sequences(target: Target, topic3: str) -> None:
    ids = init_producer_id(target)
    for partition in range(3):
        batch = build_batch(
            [Record(b"x")],
            producer_id=ids.producer_id,
            producer_epoch=ids.producer_epoch,
            base_sequence=0,
        )
        assert produce(target, topic3, batch, partition).error_code == ErrorCode.none
