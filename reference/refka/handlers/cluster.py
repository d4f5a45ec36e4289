"""DescribeCluster (KIP-700): the cluster id, the controller and the brokers (their endpoints
of the listener the request arrived on)."""

from __future__ import annotations

from typing import Any

from kio.schema.errors import ErrorCode

from refka.core.context import RequestContext
from refka.core.topics import Topics
from refka.protocol import codec

KEY = 60
NO_AUTHORIZED_OPERATIONS = -(1 << 31)


def handle_describe_cluster(topics: Topics, ctx: RequestContext, request: Any) -> Any:
    m = codec.response_module(KEY, ctx.api_version)
    brokers = topics.alive_brokers(ctx.listener)
    ids = [b.node_id for b in brokers]
    controller_id = topics.node.node_id if topics.node.node_id in ids else (ids or [-1])[0]
    return codec.build(
        m.DescribeClusterResponse,
        throttle_time=codec.millis(0),
        error_code=ErrorCode.none,
        error_message=None,
        endpoint_type=1,
        cluster_id=topics.cluster_id,
        controller_id=controller_id,
        brokers=tuple(
            codec.build(
                m.DescribeClusterBroker,
                broker_id=b.node_id,
                host=b.host,
                port=b.port,
                rack=b.rack,
            )
            for b in brokers
        ),
        cluster_authorized_operations=NO_AUTHORIZED_OPERATIONS,
    )
