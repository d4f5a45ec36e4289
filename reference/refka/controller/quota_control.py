"""Kafka's ``ClientQuotaControlManager``: AlterClientQuotas on the controller (KIP-546).

Each entry names an entity and operations on its quota keys. A valid entry becomes one
``ClientQuotaRecord`` per key whose value changes (``remove`` for a removed key that was set);
an invalid one changes nothing and gets Kafka's error. An entity named twice in one request,
or a key named twice in one entry, is ignored with Kafka's message. ``validate_only`` checks
without committing. Records are committed before the answer (persist before acting).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kio.schema.errors import ErrorCode

from refka.core.context import RequestContext
from refka.protocol import codec
from refka.quotas import entities as q

if TYPE_CHECKING:
    from refka.controller.quorum_controller import QuorumController


def alter_entity(
    current: dict[str, float], entity: q.Entity, ops: Any
) -> tuple[q.Error | None, list[Any]]:
    """Kafka's ``alterClientQuotaEntity``: the error, or the records for one entity."""
    error = q.validate_entity(entity)
    if error is not None:
        return error, []
    from refka.metadata.quota_records import ClientQuotaRecord, EntityData

    keys = q.keys_for(entity)
    data = tuple(EntityData(entity_type=t, entity_name=n) for t, n in q.ordered(entity))
    records = []
    for op in ops:
        if op.remove:
            if op.key in current:
                records.append(ClientQuotaRecord(entity=data, key=op.key, remove=True))
            continue
        value = float(op.value)
        error = q.validate_value(keys, op.key, value)
        if error is not None:
            return error, []
        if current.get(op.key) != value:
            records.append(ClientQuotaRecord(entity=data, key=op.key, value=value))
    return None, records


def handle_alter_client_quotas(c: QuorumController, ctx: RequestContext, request: Any) -> Any:
    m = codec.response_module(ctx.api_key, ctx.api_version)
    results: dict[q.Entity, q.Error | None] = {}
    records: list[Any] = []
    for entry in request.entries:
        entity = q.entity_of((e.entity_type, e.entity_name) for e in entry.entity)
        keys = [op.key for op in entry.ops]
        if entity in results or len(set(keys)) != len(keys):
            message = f"Ignoring duplicate entity {q.describe_entity(entity)}"
            results[entity] = (ErrorCode.invalid_request, message)
            continue
        current = dict(c.image.client_quotas.get(entity, {}))
        error, changes = alter_entity(current, entity, entry.ops)
        results[entity] = error
        records += changes
    if records and not request.validate_only:
        c.commit(records, ctx.now_ms)
    entries = tuple(
        codec.build(
            m.EntryData,
            error_code=ErrorCode.none if error is None else error[0],
            error_message=None if error is None else error[1],
            entity=tuple(
                codec.build(m.EntityData, entity_type=t, entity_name=n)
                for t, n in q.ordered(entity)
            ),
        )
        for entity, error in results.items()
    )
    return codec.build(m.AlterClientQuotasResponse, throttle_time=codec.millis(0), entries=entries)
