"""The controller's trace events (``refka.core.trace``), read off the records it commits.

``QuorumController.commit`` calls ``committed`` with a batch of records and the image they
produced (only when it has a tracer). A RegisterBrokerRecord makes a ``RegisterBroker``, a
fencing BrokerRegistrationChangeRecord a ``FenceBroker``, one that begins a controlled
shutdown a ``ControlledShutdown`` (each with the partitions that changed
in the same batch); every PartitionChangeRecord that gives a partition a leader, and every new
PartitionRecord, makes an ``ElectLeader``; so does one that leaves a partition leaderless
(leader -1, a new leader epoch) in a batch with neither of the others, whose partition states
would show it (a controlled shutdown moving the last leader away). ISR-only changes are
``HandleAlterPartition``, emitted by the AlterPartition handler, which knows the request.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from refka.controller.cluster_control import FENCE, UNFENCE
from refka.controller.partition_change import NO_LEADER, NO_LEADER_CHANGE, RECOVERING
from refka.core import trace
from refka.metadata.records import BrokerRegistrationChangeRecord, RegisterBrokerRecord
from refka.metadata.topic_records import PartitionChangeRecord, PartitionRecord


def partition_state(image: Any, topic_id: Any, partition: int) -> trace.PartitionState:
    topic = image.topics_by_id[topic_id]
    p = topic.partitions[partition]
    return trace.PartitionState(
        topic.name,
        partition,
        p.leader,
        p.leader_epoch,
        p.partition_epoch,
        tuple(sorted(p.isr)),
        tuple(sorted(p.elr)),
    )


def committed(
    node: int, records: Sequence[Any], image: Any, clean_shutdown: bool = True
) -> Iterator[trace.TraceEvent]:
    """The events of one committed batch, in the order of the spec's steps."""
    changes = [r for r in records if isinstance(r, PartitionChangeRecord)]
    states = tuple(partition_state(image, r.topic_id, r.partition_id) for r in changes)
    for record in records:
        if isinstance(record, RegisterBrokerRecord):
            yield trace.RegisterBroker(
                node, record.broker_id, record.broker_epoch, clean_shutdown, states
            )
        elif _fences(record):
            yield trace.FenceBroker(node, record.broker_id, record.broker_epoch, states)
        elif _unfences(record):
            yield trace.UnfenceBroker(node, record.broker_id, record.broker_epoch)
        elif _shuts_down(record):
            yield trace.ControlledShutdown(node, record.broker_id, record.broker_epoch, states)
        elif isinstance(record, PartitionRecord) and record.leader >= 0:
            yield _elected(node, partition_state(image, record.topic_id, record.partition_id))
    shown = any(isinstance(r, RegisterBrokerRecord) or _fences(r) for r in records)
    for record, state in zip(changes, states, strict=True):
        if record.leader != NO_LEADER_CHANGE and record.leader >= 0:
            yield _elected(node, state, record.leader_recovery_state == RECOVERING)
        elif record.leader == NO_LEADER and not shown:
            yield _elected(node, state)  # leaderless (a controlled shutdown of the last leader)


def _fences(record: Any) -> bool:
    return isinstance(record, BrokerRegistrationChangeRecord) and record.fenced == FENCE


def _unfences(record: Any) -> bool:
    return isinstance(record, BrokerRegistrationChangeRecord) and record.fenced == UNFENCE


def _shuts_down(record: Any) -> bool:
    return isinstance(record, BrokerRegistrationChangeRecord) and record.in_controlled_shutdown == 1


def _elected(node: int, s: trace.PartitionState, unclean: bool = False) -> trace.ElectLeader:
    return trace.ElectLeader(
        node,
        s.topic,
        s.partition,
        s.leader,
        s.leader_epoch,
        s.partition_epoch,
        s.isr,
        s.elr,
        unclean,
    )
