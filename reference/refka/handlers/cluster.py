"""DescribeCluster (KIP-700): the cluster id, the controller and the brokers (their endpoints
of the listener the request arrived on). From v2 (KIP-1073) the request may ask for fenced
brokers too, and each broker says whether it is fenced."""

from __future__ import annotations

from typing import Any

from kio.schema.errors import ErrorCode

from refka.core.context import RequestContext
from refka.core.topics import Topics
from refka.protocol import codec
from refka.security.api_acls import CLUSTER, reported_operations

KEY = 60
NO_AUTHORIZED_OPERATIONS = -(1 << 31)


def handle_describe_cluster(topics: Topics, ctx: RequestContext, request: Any) -> Any:
    m = codec.response_module(KEY, ctx.api_version)
    alive = topics.alive_brokers(ctx.listener)
    ids = [b.node_id for b in alive]
    controller_id = topics.node.node_id if topics.node.node_id in ids else (ids or [-1])[0]
    return codec.build(
        m.DescribeClusterResponse,
        throttle_time=codec.millis(0),
        error_code=ErrorCode.none,
        error_message=None,
        endpoint_type=1,
        cluster_id=topics.cluster_id,
        controller_id=controller_id,
        brokers=_brokers(
            m, topics, ctx.listener, getattr(request, "include_fenced_brokers", False)
        ),
        cluster_authorized_operations=(
            reported_operations(ctx, CLUSTER)
            if getattr(request, "include_cluster_authorized_operations", False)
            else NO_AUTHORIZED_OPERATIONS
        ),
    )


def _brokers(m: Any, topics: Topics, listener: str, include_fenced: bool) -> tuple[Any, ...]:
    """The unfenced brokers with an endpoint of ``listener``; with ``include_fenced`` (v2) the
    fenced ones as well, by id."""
    name = listener or topics.listener
    found = []
    for b in sorted(topics.image.brokers.values(), key=lambda b: b.broker_id):
        address = b.address(name)
        if address is None or (b.fenced and not include_fenced):
            continue
        found.append(
            codec.build(
                m.DescribeClusterBroker,
                broker_id=b.broker_id,
                host=address[0],
                port=address[1],
                rack=b.rack,
                is_fenced=b.fenced,
            )
        )
    return tuple(found)
