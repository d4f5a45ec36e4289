"""ISR changes sent to the controller as AlterPartition (KIP-497), Kafka's
``AlterPartitionManager`` (Election.tla ``SendAlterPartition`` / ``HandleAlterPartition``).

A leader submits the ISR it wants (a shrink drops followers that lagged for
``replica.lag.time.max.ms``; an expansion adds a follower that reached the high watermark) with the
broker epoch of every member (KIP-903). One change per partition is in flight; meanwhile the
leader commits against the maximal ISR (``Replica.pending_isr``). Pending changes go out in one
AlterPartition (v3, topic ids) at a time, on the broker's own "alter-partition" channel
(``refka.core.channels``); a disconnect (the connection lost, or ``request.timeout.ms`` passed
on a stalled one) or a top-level error sends them again, each with the broker epochs computed
when it was submitted, as Kafka's ``NodeToControllerRequestThread`` requeues the request it
could not deliver: a retry can land after a member restarted and registered again, which
KIP-903's epoch check answers with INELIGIBLE_REPLICA.
The answer's state (leader epoch, partition epoch, ISR) is applied when its partition epoch is
newer than the replica's; INVALID_UPDATE_VERSION, FENCED_LEADER_EPOCH and the other partition
errors drop the change, and the metadata image brings the truth.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kio.schema.errors import ErrorCode

from refka.core.network_client import Client, ClientResponse, NodeAddress
from refka.protocol import codec
from refka.replica import Replica

if TYPE_CHECKING:
    from refka.core import trace

TopicPartition = tuple[str, int]
ALTER_PARTITION_KEY = 56
ALTER_PARTITION_VERSION = 3


@dataclass(frozen=True, slots=True)
class IsrChange:
    """An AlterPartition item: the ISR the leader asks for, with each member's broker epoch."""

    topic: str
    topic_id: uuid.UUID | None
    partition: int
    leader_epoch: int
    partition_epoch: int
    new_isr_with_epochs: tuple[tuple[int, int], ...]  # (broker id, broker epoch)


class AlterPartitionManager:
    """Sends ISR changes to the controller, one in flight per partition."""

    def __init__(
        self,
        local_id: int,
        broker_epoch: Callable[[], int],
        controller: Callable[[], NodeAddress | None],
        replicas: Callable[[TopicPartition], Replica | None],
        client: Client,
        on_isr_changed: Callable[[TopicPartition], None],
    ) -> None:
        self.local_id = local_id
        self.broker_epoch = broker_epoch
        self.controller = controller
        self.replicas = replicas
        self.client = client
        self.on_isr_changed = on_isr_changed
        self.unsent: dict[TopicPartition, IsrChange] = {}
        self.in_flight: dict[TopicPartition, IsrChange] = {}

    def submit(self, replica: Replica, change: IsrChange) -> bool:
        """Queue ``change`` unless one is pending for the partition; the replica commits
        against the maximal ISR from now on (KIP-497)."""
        tp = (change.topic, change.partition)
        if tp in self.unsent or tp in self.in_flight or replica.pending_isr is not None:
            return False
        replica.pending_isr = frozenset(b for b, _ in change.new_isr_with_epochs)
        self.unsent[tp] = change
        if replica.tracer is not None:
            replica.tracer(_trace_event(self.local_id, replica, change))
        return True

    def is_pending(self, tp: TopicPartition) -> bool:
        return tp in self.unsent or tp in self.in_flight

    def poll(self, now_ms: int) -> None:
        if self.in_flight or not self.unsent:
            return
        controller = self.controller()
        if controller is None or not self.client.ready(controller.node_id, now_ms):
            return
        batch, self.unsent = self.unsent, {}
        request = self._request(list(batch.values()))
        if self.client.send(controller, request, now_ms, self._on_response):
            self.in_flight = batch
        else:
            self.unsent = batch

    def _request(self, changes: list[IsrChange]) -> Any:
        m = codec.request_module(ALTER_PARTITION_KEY, ALTER_PARTITION_VERSION)
        by_topic: dict[uuid.UUID | None, list[Any]] = {}
        for c in changes:
            by_topic.setdefault(c.topic_id, []).append(
                codec.build(
                    m.PartitionData,
                    partition_index=c.partition,
                    leader_epoch=c.leader_epoch,
                    new_isr_with_epochs=tuple(
                        m.BrokerState(broker_id=b, broker_epoch=e) for b, e in c.new_isr_with_epochs
                    ),
                    leader_recovery_state=0,
                    partition_epoch=c.partition_epoch,
                )
            )
        return codec.build(
            m.AlterPartitionRequest,
            broker_id=self.local_id,
            broker_epoch=self.broker_epoch(),
            topics=tuple(
                codec.build(m.TopicData, topic_id=t, partitions=tuple(ps))
                for t, ps in by_topic.items()
            ),
        )

    def _on_response(self, response: ClientResponse) -> None:
        sent, self.in_flight = self.in_flight, {}
        body = response.response
        if response.disconnected or response.timed_out or body is None or body.error_code:
            for tp, change in sent.items():  # retry: still pending, sent again next poll
                self.unsent.setdefault(tp, change)
            return
        answered: set[TopicPartition] = set()
        by_id = {c.topic_id: c.topic for c in sent.values()}
        for topic in body.topics:
            name = by_id.get(topic.topic_id)
            for answer in topic.partitions:
                tp = (str(name), answer.partition_index)
                if tp in sent:
                    answered.add(tp)
                    self._apply(tp, answer)
        for tp in sent.keys() - answered:
            self._clear(tp)

    def _apply(self, tp: TopicPartition, answer: Any) -> None:
        """HandleAlterPartition's outcome: adopt a newer committed state, or drop the change."""
        replica = self.replicas(tp)
        if replica is None or not replica.is_leader:
            return
        replica.pending_isr = None
        if (
            answer.error_code == ErrorCode.none
            and answer.partition_epoch > replica.partition_epoch
            and answer.leader_epoch == replica.leader_epoch
        ):
            replica.isr = frozenset(answer.isr)
            replica.partition_epoch = answer.partition_epoch
        self.on_isr_changed(tp)

    def _clear(self, tp: TopicPartition) -> None:
        replica = self.replicas(tp)
        if replica is not None:
            replica.pending_isr = None


def _trace_event(node: int, replica: Replica, change: IsrChange) -> trace.SendAlterPartition:
    """SendAlterPartition: a shrink when the new ISR drops members, else an expansion."""
    from refka.core import trace  # only a traced core loads the events (issue 15)

    new_isr = tuple(b for b, _ in change.new_isr_with_epochs)
    shrink = not replica.isr <= set(new_isr)
    moved = replica.isr - set(new_isr) if shrink else set(new_isr) - replica.isr
    return trace.SendAlterPartition(
        node,
        change.topic,
        change.partition,
        "ShrinkIsr" if shrink else "ExpandIsr",
        tuple(sorted(moved)),
        change.leader_epoch,
        change.partition_epoch,
        tuple(sorted(replica.isr)),
        new_isr,
        tuple(e for _, e in change.new_isr_with_epochs),
    )
