"""Metadata records (KIP-631): framing, versions, round trips and Kafka's exact bytes."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from metadata_strategies import any_record
from refka.metadata.read_records import (
    ControllerEndpoint,
    FenceBrokerRecord,
    NoOpRecord,
    RegisterControllerRecord,
    UnfenceBrokerRecord,
    UnregisterBrokerRecord,
    UnregisterControllerRecord,
)
from refka.metadata.records import (
    API_KEYS,
    RECORD_TYPES,
    BrokerEndpoint,
    BrokerFeature,
    BrokerRegistrationChangeRecord,
    FeatureLevelRecord,
    MetadataRecordError,
    RegisterBrokerRecord,
    all_record_types,
    decode_record,
    encode_record,
    record_class,
)
from refka.metadata.topic_records import (
    ClearElrRecord,
    ConfigRecord,
    PartitionChangeRecord,
    PartitionRecord,
    ProducerIdsRecord,
    RemoveTopicRecord,
    TopicRecord,
)


def u(n: int) -> uuid.UUID:
    return uuid.UUID(int=n)


# -- by hand, from the schemas ---------------------------------------------------------------


def test_topic_record_bytes_by_hand() -> None:
    """TopicRecord v0 {Name: "foo", TopicId}: frame 1, api key 2, version 0, compact string
    (length + 1 = 4, then "foo"), the 16 uuid bytes, no tagged fields."""
    expected = bytes([1, 2, 0]) + b"\x04foo" + u(5).bytes + b"\x00"
    assert encode_record(TopicRecord(name="foo", topic_id=u(5))) == expected


def test_partition_change_record_bytes_by_hand() -> None:
    """PartitionChangeRecord v0 with only the ISR set: the ids, then one tagged field (tag 0,
    9 bytes: compact array length 2 + 1 = 3 and two int32s); every unchanged field is absent."""
    record = PartitionChangeRecord(partition_id=1, topic_id=u(5), isr=(1, 2))
    expected = (
        bytes([1, 5, 0])
        + (1).to_bytes(4, "big")
        + u(5).bytes
        + bytes([1, 0, 9, 3])
        + (1).to_bytes(4, "big")
        + (2).to_bytes(4, "big")
    )
    assert encode_record(record, version=0) == expected


def test_fence_broker_record_bytes_by_hand() -> None:
    """FenceBrokerRecord v0 {Id: 1, Epoch: 10}: int32, int64, empty tagged fields."""
    expected = bytes([1, 7, 0]) + (1).to_bytes(4, "big") + (10).to_bytes(8, "big") + b"\x00"
    assert encode_record(FenceBrokerRecord(id=1, epoch=10)) == expected


# -- Kafka 4.4's MetadataRecordSerde wrote these bytes (jshell against kafka-metadata-4.4.0) ---

_ENDPOINT = BrokerEndpoint(name="PLAINTEXT", host="localhost", port=9092, security_protocol=0)
_MV = BrokerFeature(name="metadata.version", min_supported_version=7, max_supported_version=27)
_BROKER = RegisterBrokerRecord(
    broker_id=1,
    incarnation_id=u(7),
    broker_epoch=10,
    end_points=(_ENDPOINT,),
    features=(_MV,),
    rack="r1",
    fenced=True,
    log_dirs=(u(9),),
)
_CONTROLLER_ENDPOINT = ControllerEndpoint(name="CONTROLLER", host="h", port=9093)

KAFKA_BYTES: list[tuple[object, int, str]] = [
    (
        _BROKER,
        4,
        "010004000000010000000000000000000000000000000007000000000000000a020a504c41494e5445585"
        "40a6c6f63616c686f7374238400000002116d657461646174612e76657273696f6e0007001b00037231"
        "01000100110200000000000000000000000000000009",
    ),
    (
        _BROKER,
        3,
        "010003000000010000000000000000000000000000000007000000000000000a020a504c41494e5445585"
        "40a6c6f63616c686f7374238400000002116d657461646174612e76657273696f6e0007001b00037231"
        "01000100110200000000000000000000000000000009",
    ),
    (
        RegisterBrokerRecord(
            broker_id=1,
            incarnation_id=u(7),
            broker_epoch=10,
            end_points=(_ENDPOINT,),
            rack="",  # Kafka's default for a string without a "default" is "", even if nullable
            fenced=False,
        ),
        0,
        "0100000000000100000000000000000000000000000007000000000000000a020a504c41494e54455854"
        "0a6c6f63616c686f7374238400000001010000",
    ),
    (UnregisterBrokerRecord(broker_id=3, broker_epoch=42), 0, "01010000000003000000000000002a00"),
    (UnregisterControllerRecord(controller_id=7), 0, "011d000000000700"),
    (TopicRecord(name="foo", topic_id=u(5)), 0, "01020004666f6f0000000000000000000000000000000500"),
    (
        PartitionRecord(
            partition_id=1,
            topic_id=u(5),
            replicas=(1, 2, 3),
            isr=(1, 2),
            leader=1,
            leader_epoch=4,
            partition_epoch=6,
            directories=(u(1), u(2), u(3)),
            eligible_leader_replicas=(3,),
            last_known_elr=(),
        ),
        2,
        "01030200000001000000000000000000000000000000050400000001000000020000000303000000010000"
        "0002010100000001000000040000000604000000000000000000000000000000010000000000000000000000"
        "0000000002000000000000000000000000000000030201050200000003020101",
    ),
    (
        PartitionRecord(
            partition_id=0,
            topic_id=u(5),
            replicas=(1,),
            isr=(1,),
            leader=1,
            leader_epoch=0,
            partition_epoch=0,
            leader_recovery_state=1,
        ),
        0,
        "010300000000000000000000000000000000000000000502000000010200000001010100000001000000000000"
        "000001000101",
    ),
    (
        ConfigRecord(resource_type=2, resource_name="foo", name="cleanup.policy", value="compact"),
        0,
        "0104000204666f6f0f636c65616e75702e706f6c69637908636f6d7061637400",
    ),
    (
        ConfigRecord(resource_type=4, resource_name="", name="x", value=None),
        0,
        "010400040102780000",
    ),
    (
        PartitionChangeRecord(
            partition_id=1,
            topic_id=u(5),
            isr=(1, 2),
            leader=-1,
            leader_recovery_state=0,
            eligible_leader_replicas=(),
            last_known_elr=(2,),
        ),
        2,
        "01050200000001000000000000000000000000000000050500090300000001000000020104ffffffff050100"
        "06010107050200000002",
    ),
    (FenceBrokerRecord(id=1, epoch=10), 0, "01070000000001000000000000000a00"),
    (UnfenceBrokerRecord(id=1, epoch=10), 0, "01080000000001000000000000000a00"),
    (RemoveTopicRecord(topic_id=u(5)), 0, "0109000000000000000000000000000000000500"),
    (
        FeatureLevelRecord(name="metadata.version", feature_level=27),
        0,
        "010c00116d657461646174612e76657273696f6e001b00",
    ),
    (
        ProducerIdsRecord(broker_id=1, broker_epoch=10, next_producer_id=2000),
        0,
        "010f0000000001000000000000000a00000000000007d000",
    ),
    (
        BrokerRegistrationChangeRecord(
            broker_id=1,
            broker_epoch=10,
            fenced=-1,
            in_controlled_shutdown=1,
            cordoned_log_dirs=(u(9),),
        ),
        3,
        "01110300000001000000000000000a030001ff01010103110200000000000000000000000000000009",
    ),
    (
        BrokerRegistrationChangeRecord(broker_id=1, broker_epoch=10, fenced=1),
        0,
        "01110000000001000000000000000a01000101",
    ),
    (NoOpRecord(), 0, "01140000"),
    (ClearElrRecord(topic_name="foo"), 0, "011c0004666f6f00"),
    (
        RegisterControllerRecord(
            controller_id=3000, incarnation_id=u(8), end_points=(_CONTROLLER_ENDPOINT,)
        ),
        0,
        "011b0000000bb80000000000000000000000000000000800020b434f4e54524f4c4c4552026823850000000100",
    ),
]


@pytest.mark.parametrize(("record", "version", "hex_bytes"), KAFKA_BYTES)
def test_bytes_equal_kafkas(record: object, version: int, hex_bytes: str) -> None:
    data = bytes.fromhex(hex_bytes)
    assert encode_record(record, version) == data  # type: ignore[arg-type]
    assert decode_record(data) == record


# -- versions and errors ---------------------------------------------------------------------


def test_every_type_has_its_api_key() -> None:
    assert {API_KEYS[cls]: cls for cls in all_record_types().values()} == RECORD_TYPES
    assert record_class(3, 2) is PartitionRecord
    older = record_class(3, 0)
    assert older.__version__ == 0
    assert "directories" not in older.__dataclass_fields__


def test_an_older_version_refuses_a_field_it_lacks() -> None:
    record = PartitionChangeRecord(topic_id=u(1), eligible_leader_replicas=(1,))
    with pytest.raises(MetadataRecordError, match="eligible_leader_replicas"):
        encode_record(record, version=1)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x00\x02\x00",  # frame version 0
        b"\x01\x06\x00",  # api key 6 is not a record type here
        b"\x01\x02\x07",  # TopicRecord has no version 7
        bytes([1, 2, 0]) + b"\x04fo",  # truncated
        bytes([1, 20, 0, 0, 0]),  # a byte after the NoOpRecord
    ],
)
def test_bad_bytes_raise_a_record_error(data: bytes) -> None:
    with pytest.raises(MetadataRecordError):
        decode_record(data)


@given(any_record())
def test_round_trip(record: object) -> None:
    assert decode_record(encode_record(record)) == record  # type: ignore[arg-type]
