"""DescribeCluster (KIP-700): the cluster as Metadata describes it."""

from __future__ import annotations

from typing import Any

import pytest
from kio.schema.errors import ErrorCode

from conformance.target import Target


def describe_cluster(target: Target) -> Any:
    return target.call(
        "DescribeCluster", 0, None, include_cluster_authorized_operations=False, endpoint_type=1
    )


@pytest.mark.api("DescribeCluster", behaviour="answers with the cluster id Metadata reports")
def test_cluster_id(target: Target) -> None:
    answer = describe_cluster(target)
    assert answer.error_code == ErrorCode.none
    assert answer.cluster_id == target.cluster_id


@pytest.mark.api("DescribeCluster", behaviour="lists the brokers Metadata lists")
def test_brokers(target: Target) -> None:
    metadata = target.call("Metadata", 1, 12, topics=[])
    expected = {(b.node_id, b.host, b.port) for b in metadata.brokers}
    assert {(b.broker_id, b.host, b.port) for b in describe_cluster(target).brokers} == expected


@pytest.mark.api("DescribeCluster", behaviour="controller id is a listed broker")
def test_controller(target: Target) -> None:
    answer = describe_cluster(target)
    assert answer.controller_id in {b.broker_id for b in answer.brokers}
