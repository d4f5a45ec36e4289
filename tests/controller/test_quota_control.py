"""AlterClientQuotas on the QuorumController: ClientQuotaRecords in the metadata log, durable
across a restart and a snapshot; removal; validate_only; errors leave the log alone."""

from __future__ import annotations

from typing import Any

import pytest
from controller_driver import CLUSTER_ID, ControllerDriver
from kio.schema.errors import ErrorCode
from refka.metadata.records import decode_record, encode_record
from test_quorum_controller import call, cluster

ALICE = [{"entity_type": "user", "entity_name": "alice"}]
DEFAULT_CLIENT = [{"entity_type": "client-id", "entity_name": None}]


def alter(d: ControllerDriver, *entries: tuple[list[Any], dict[str, float | None]],
          validate_only: bool = False) -> list[Any]:  # fmt: skip
    body = [
        {
            "entity": entity,
            "ops": [{"key": k, "value": v or 0.0, "remove": v is None} for k, v in ops.items()],
        }
        for entity, ops in entries
    ]
    answer = call(d, 49, 1, entries=body, validate_only=validate_only)
    return [(e.error_code, e.error_message) for e in answer.entries]


def test_quotas_are_records_that_survive_a_restart_and_a_snapshot() -> None:
    d = cluster(metadata_log_max_record_bytes_between_snapshots=400)
    start = d.log.end_offset
    assert alter(d, (ALICE, {"producer_byte_rate": 1024.0, "request_percentage": 50.0})) == [
        (ErrorCode.none, None)
    ]
    assert alter(d, (DEFAULT_CLIENT, {"consumer_byte_rate": 2048.0})) == [(ErrorCode.none, None)]
    assert d.log.end_offset == start + 3
    assert d.image.client_quotas == {
        (("user", "alice"),): {"producer_byte_rate": 1024.0, "request_percentage": 50.0},
        (("client-id", None),): {"consumer_byte_rate": 2048.0},
    }
    assert alter(d, (ALICE, {"producer_byte_rate": 1024.0})) == [(ErrorCode.none, None)]
    assert d.log.end_offset == start + 3  # unchanged value: no record
    assert alter(d, (ALICE, {"request_percentage": None, "consumer_byte_rate": None}))
    assert d.image.client_quotas[(("user", "alice"),)] == {"producer_byte_rate": 1024.0}
    assert d.log.snapshots(), "no snapshot"
    before = d.image
    d.controller.shutdown(d.now_ms)
    from refka.controller.quorum_controller import QuorumController
    from refka.metadata.metadata_log import MetadataLog

    log = MetadataLog(d.storage, d.now_ms, CLUSTER_ID)
    again = QuorumController(d.settings, log, log.load(), d.now_ms, seed=8)
    assert again.image.client_quotas == before.client_quotas


@pytest.mark.parametrize("validate_only", [True, False])
def test_an_error_or_validate_only_writes_nothing(validate_only: bool) -> None:
    d = cluster()
    start = d.log.end_offset
    refused = alter(d, (ALICE, {"producer_byte_rate": 1.5}), validate_only=validate_only)
    assert refused == [
        (ErrorCode.invalid_request, "producer_byte_rate cannot be a fractional value.")
    ]
    ok = alter(d, (ALICE, {"producer_byte_rate": 10.0}), validate_only=True)
    assert ok == [(ErrorCode.none, None)]
    assert d.log.end_offset == start and not d.image.client_quotas


def test_the_record_round_trips() -> None:
    from refka.metadata.quota_records import ClientQuotaRecord, EntityData

    record = ClientQuotaRecord(
        entity=(EntityData(entity_type="client-id", entity_name=None),),
        key="consumer_byte_rate",
        value=2048.0,
    )
    assert decode_record(encode_record(record)) == record
    two = ClientQuotaRecord(
        entity=(
            EntityData(entity_type="user", entity_name=None),
            EntityData(entity_type="client-id", entity_name="x"),
        ),
        key="producer_byte_rate",
        value=1024.0,
    )
    # by hand from Kafka's schema: frame 1, key 14, v0; a compact array of 2 (type, nullable
    # name, tags); the key; 1024.0 as a float64; remove false; no tags
    assert encode_record(two).hex() == (
        "010e00" "03" "05" + b"user".hex() + "00" "00" "0a" + b"client-id".hex() + "02" + "78" "00"
        "13" + b"producer_byte_rate".hex() + "4090000000000000" "00" "00"
    )  # fmt: skip
    removal = ClientQuotaRecord(entity=record.entity, key="consumer_byte_rate", remove=True)
    assert decode_record(encode_record(removal)) == removal
