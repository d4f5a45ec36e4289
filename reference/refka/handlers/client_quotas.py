"""DescribeClientQuotas (KIP-546): the broker answers from its metadata image, as Kafka's
``ClientQuotasImage.describe`` (filters, errors and messages in ``refka.quotas.entities``).
AlterClientQuotas goes to the controller (``refka.controller.quota_control``)."""

from __future__ import annotations

from typing import Any

from kio.schema.errors import ErrorCode

from refka.core.context import RequestContext
from refka.core.topics import Topics
from refka.protocol import codec
from refka.quotas import entities as q
from refka.security.api_acls import CLUSTER, allowed


def handle_describe_client_quotas(topics: Topics, ctx: RequestContext, request: Any) -> Any:
    m = codec.response_module(ctx.api_key, ctx.api_version)
    if not allowed(ctx, CLUSTER):  # DESCRIBE_CONFIGS on the cluster
        return codec.build(
            m.DescribeClientQuotasResponse,
            throttle_time=codec.millis(0),
            error_code=ErrorCode.cluster_authorization_failed,
            error_message=None,
            entries=None,
        )
    components = [(c.entity_type, c.match_type, c.match) for c in request.components]
    try:
        found = q.describe(topics.image.client_quotas, components, request.strict)
    except q.QuotaError as error:
        return codec.build(
            m.DescribeClientQuotasResponse,
            throttle_time=codec.millis(0),
            error_code=error.code,
            error_message=str(error),
            entries=None,
        )
    entries = tuple(
        codec.build(
            m.EntryData,
            entity=tuple(
                codec.build(m.EntityData, entity_type=t, entity_name=n)
                for t, n in q.ordered(entity)
            ),
            values=tuple(
                codec.build(m.ValueData, key=key, value=values[key])
                for key in q.hash_map_order(values)
            ),
        )
        for entity, values in found
    )
    return codec.build(
        m.DescribeClientQuotasResponse,
        throttle_time=codec.millis(0),
        error_code=ErrorCode.none,
        error_message="",  # Kafka answers an empty string, not null
        entries=entries,
    )
