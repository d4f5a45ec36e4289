"""The records of ``__transaction_state`` as Kafka writes them, as kio entities.

kio has no schema for them, so they are declared here field by field from Kafka's
``TransactionLogKey.json`` (version 0) and ``TransactionLogValue.json`` (version 1, flexible;
version 0 is read too), in the shape kio generates, so that kio's serializer writes Kafka's
bytes. Key and value are each prefixed with their int16 version; a null value (a tombstone)
removes the transactional id. ``transaction_status`` is ``TransactionState``'s id; the
partitions are null in the Empty state, as Kafka writes them.

Note: no ``from __future__ import annotations`` here; kio reads the field types at runtime.
"""

import io
import struct
from dataclasses import dataclass, field
from typing import Any, ClassVar

from kio.serial import entity_reader, entity_writer
from kio.static.constants import EntityType

from refka.txn.metadata import TransactionMetadata
from refka.txn.state import TransactionState

KEY_VERSION = 0
VALUE_VERSION = 1
_VERSION = struct.Struct(">h")


def _f(kafka_type: str, default: Any = None, tag: int | None = None) -> Any:
    meta: dict[str, Any] = {"kafka_type": kafka_type}
    if tag is not None:
        meta["tag"] = tag
    return field(metadata=meta) if default is None else field(metadata=meta, default=default)


@dataclass(frozen=True, slots=True, kw_only=True)
class TransactionLogKey:
    __type__: ClassVar = EntityType.data
    __version__: ClassVar[int] = 0
    __flexible__: ClassVar[bool] = False
    transactional_id: str = _f("string")


@dataclass(frozen=True, slots=True, kw_only=True)
class PartitionsSchema:
    __type__: ClassVar = EntityType.nested
    __version__: ClassVar[int] = 1
    __flexible__: ClassVar[bool] = True
    topic: str = _f("string")
    partition_ids: tuple[int, ...] = _f("int32", ())


@dataclass(frozen=True, slots=True, kw_only=True)
class TransactionLogValue:
    __type__: ClassVar = EntityType.data
    __version__: ClassVar[int] = 1
    __flexible__: ClassVar[bool] = True
    producer_id: int = _f("int64")
    previous_producer_id: int = _f("int64", -1, tag=0)
    next_producer_id: int = _f("int64", -1, tag=1)
    producer_epoch: int = _f("int16")
    transaction_timeout_ms: int = _f("int32")
    transaction_status: int = _f("int8")
    transaction_partitions: tuple[PartitionsSchema, ...] | None
    transaction_last_update_timestamp_ms: int = _f("int64")
    transaction_start_timestamp_ms: int = _f("int64")
    client_transaction_version: int = _f("int16", 0, tag=2)


@dataclass(frozen=True, slots=True, kw_only=True)
class PartitionsSchemaV0:
    __type__: ClassVar = EntityType.nested
    __version__: ClassVar[int] = 0
    __flexible__: ClassVar[bool] = False
    topic: str = _f("string")
    partition_ids: tuple[int, ...] = _f("int32", ())


@dataclass(frozen=True, slots=True, kw_only=True)
class TransactionLogValueV0:
    __type__: ClassVar = EntityType.data
    __version__: ClassVar[int] = 0
    __flexible__: ClassVar[bool] = False
    producer_id: int = _f("int64")
    producer_epoch: int = _f("int16")
    transaction_timeout_ms: int = _f("int32")
    transaction_status: int = _f("int8")
    transaction_partitions: tuple[PartitionsSchemaV0, ...] | None
    transaction_last_update_timestamp_ms: int = _f("int64")
    transaction_start_timestamp_ms: int = _f("int64")


def _framed(version: int, entity: Any) -> bytes:
    buffer = io.BytesIO()
    buffer.write(_VERSION.pack(version))
    entity_writer(type(entity))(buffer, entity)
    return buffer.getvalue()


def encode_key(transactional_id: str) -> bytes:
    return _framed(KEY_VERSION, TransactionLogKey(transactional_id=transactional_id))


def encode_value(txn: TransactionMetadata) -> bytes:
    """The record of ``txn``'s current state (TransactionLog.valueToBytes)."""
    partitions: tuple[PartitionsSchema, ...] | None = None
    if txn.state is not TransactionState.EMPTY:
        by_topic: dict[str, list[int]] = {}
        for topic, partition in sorted(txn.partitions):
            by_topic.setdefault(topic, []).append(partition)
        partitions = tuple(
            PartitionsSchema(topic=t, partition_ids=tuple(p)) for t, p in by_topic.items()
        )
    value = TransactionLogValue(
        producer_id=txn.producer_id,
        previous_producer_id=txn.previous_producer_id,
        next_producer_id=txn.next_producer_id,
        producer_epoch=txn.producer_epoch,
        transaction_timeout_ms=txn.txn_timeout_ms,
        transaction_status=txn.state.value,
        transaction_partitions=partitions,
        transaction_last_update_timestamp_ms=txn.txn_last_update_timestamp_ms,
        transaction_start_timestamp_ms=txn.txn_start_timestamp_ms,
        client_transaction_version=txn.client_transaction_version,
    )
    return _framed(VALUE_VERSION, value)


def decode_key(data: bytes) -> str | None:
    """The transactional id of a key, or None for a key of another version."""
    if len(data) < 2 or _VERSION.unpack_from(data)[0] != KEY_VERSION:
        return None
    cls: Any = TransactionLogKey
    key, _ = entity_reader(cls)(data, 2)
    return str(key.transactional_id)


def decode_value(transactional_id: str, data: bytes) -> TransactionMetadata:
    """The ``TransactionMetadata`` a value record holds (version 0 or 1)."""
    version = _VERSION.unpack_from(data)[0]
    cls: Any = TransactionLogValue if version >= 1 else TransactionLogValueV0
    value, _ = entity_reader(cls)(data, 2)
    partitions = {
        (p.topic, int(i)) for p in value.transaction_partitions or () for i in p.partition_ids
    }
    return TransactionMetadata(
        transactional_id,
        int(value.producer_id),
        int(value.producer_epoch),
        int(value.transaction_timeout_ms),
        state=TransactionState(int(value.transaction_status)),
        previous_producer_id=int(getattr(value, "previous_producer_id", -1)),
        next_producer_id=int(getattr(value, "next_producer_id", -1)),
        partitions=partitions,
        txn_start_timestamp_ms=int(value.transaction_start_timestamp_ms),
        txn_last_update_timestamp_ms=int(value.transaction_last_update_timestamp_ms),
        client_transaction_version=int(getattr(value, "client_transaction_version", 0)),
    )
