"""The admin APIs that change cluster metadata, answered by the controller (KIP-590).

CreateTopics, DeleteTopics, CreatePartitions, AlterConfigs, IncrementalAlterConfigs,
ElectLeaders and AlterPartitionReassignments go to the controller unchanged
(``refka.broker.forwarding``); its answer is the broker's answer. Validation and Kafka's error
codes live in ``refka.controller``.
"""

from __future__ import annotations

from typing import Any

from refka.core.context import RequestContext
from refka.core.topics import Topics


def handle_forwarded(topics: Topics, ctx: RequestContext, request: Any) -> Any:
    return topics.forward(ctx, request)
