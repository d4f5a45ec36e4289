"""Kafka's ``ProducerIdControlManager``: producer id blocks for brokers (KIP-730).

A broker asks (AllocateProducerIds) with its broker epoch; the controller hands out the next
block of ``BLOCK_SIZE`` ids and records the new start in a ``ProducerIdsRecord``, so no id is
given twice, even across controller restarts. A stale broker epoch is STALE_BROKER_EPOCH.
"""

from __future__ import annotations

from dataclasses import dataclass

from refka.metadata.topic_records import ProducerIdsRecord

BLOCK_SIZE = 1000
LONG_MAX = (1 << 63) - 1


@dataclass(frozen=True, slots=True)
class ProducerIdsBlock:
    assigned_broker_id: int
    first_producer_id: int
    size: int = BLOCK_SIZE


def generate_next_producer_id_block(
    next_producer_id: int, broker_id: int, broker_epoch: int
) -> tuple[ProducerIdsBlock, ProducerIdsRecord]:
    """The block starting at ``next_producer_id`` and the record that moves the start on;
    ValueError once the id space is exhausted (Kafka: UNKNOWN_SERVER_ERROR)."""
    if next_producer_id > LONG_MAX - BLOCK_SIZE:
        raise ValueError("Exhausted all producerIds as the next block's end producerId is over")
    block = ProducerIdsBlock(broker_id, next_producer_id)
    record = ProducerIdsRecord(
        broker_id=broker_id,
        broker_epoch=broker_epoch,
        next_producer_id=next_producer_id + BLOCK_SIZE,
    )
    return block, record
