"""DescribeCluster (KIP-700): the cluster id, the controller and the brokers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kio.schema.errors import ErrorCode

from refka.protocol import codec

if TYPE_CHECKING:
    from refka.core.context import RequestContext
    from refka.core.topics import Topics

KEY = 60
NO_AUTHORIZED_OPERATIONS = -(1 << 31)


def handle_describe_cluster(topics: Topics, ctx: RequestContext, request: Any) -> Any:
    m = codec.response_module(KEY, ctx.api_version)
    node = topics.node
    return codec.build(
        m.DescribeClusterResponse,
        throttle_time=codec.millis(0),
        error_code=ErrorCode.none,
        error_message=None,
        endpoint_type=1,
        cluster_id=topics.metadata.cluster_id,
        controller_id=node.node_id,
        brokers=(
            codec.build(
                m.DescribeClusterBroker,
                broker_id=node.node_id,
                host=node.host,
                port=node.port,
                rack=node.rack,
            ),
        ),
        cluster_authorized_operations=NO_AUTHORIZED_OPERATIONS,
    )
