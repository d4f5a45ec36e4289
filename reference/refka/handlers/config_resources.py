"""ListConfigResources (KIP-1142; v0 was KIP-714's ListClientMetricsResources): the resources
a broker can describe configs of, from its metadata image.

v0 lists client-metrics subscriptions only (refka has none: KIP-714 subscriptions are not
configurable). From v1 the request names resource types (none: every type): topics (2), the
brokers (4), this broker's loggers (8), client metrics (16) and groups with dynamic configs
(32), in that order of types. Any other type is UNSUPPORTED_VERSION, as Kafka answers.
"""

from __future__ import annotations

from typing import Any

from kio.schema.errors import ErrorCode

from refka.core.context import RequestContext
from refka.core.topics import Topics
from refka.protocol import codec
from refka.security.api_acls import CLUSTER, allowed

TOPIC, BROKER, BROKER_LOGGER, CLIENT_METRICS, GROUP = 2, 4, 8, 16, 32
KNOWN = (BROKER_LOGGER, BROKER, TOPIC, GROUP, CLIENT_METRICS)


def handle_list_config_resources(topics: Topics, ctx: RequestContext, request: Any) -> Any:
    m = codec.response_module(ctx.api_key, ctx.api_version)
    wanted = tuple(getattr(request, "resource_types", ()) or ())
    if ctx.api_version == 0:
        wanted = (CLIENT_METRICS,)
    elif not wanted:
        wanted = KNOWN
    refused = None
    if not allowed(ctx, CLUSTER):  # DESCRIBE_CONFIGS on the cluster
        refused = ErrorCode.cluster_authorization_failed
    elif any(t not in KNOWN for t in wanted):
        refused = ErrorCode.unsupported_version
    if refused is not None:
        return codec.build(
            m.ListConfigResourcesResponse,
            throttle_time=codec.millis(0),
            error_code=refused,
            config_resources=(),
        )
    image = topics.image
    found: list[tuple[str, int]] = []
    for kind in KNOWN:
        if kind not in wanted:
            continue
        if kind == BROKER_LOGGER:
            found.append((str(topics.node.node_id), kind))
        elif kind == BROKER:
            found += [(str(b), kind) for b in sorted(image.brokers)]
        elif kind == TOPIC:
            found += [(name, kind) for name in sorted(image.topics_by_name)]
        else:  # groups and client metrics with dynamic configs
            found += [(name, kind) for (t, name) in sorted(image.configs) if t == kind]
    return codec.build(
        m.ListConfigResourcesResponse,
        throttle_time=codec.millis(0),
        error_code=ErrorCode.none,
        config_resources=tuple(
            codec.build(m.ConfigResource, resource_name=name, resource_type=kind)
            for name, kind in found
        ),
    )
