"""Trace events: what a core did, named after the TLA+ action it performed.

A core that is given a ``Tracer`` calls it once per spec-level step with a frozen dataclass
whose fields are the values of the spec variables that the step changed, so that every event is
self-contained (no earlier event is needed to know what changed). A core without one (the
default, and the asyncio server unless ``refka.trace.file`` is set) pays one ``is None`` test
per step and builds nothing. ``repr(event)`` is valid Python: ``eval(repr(e)) == e`` with the
classes below in scope (the server's trace file holds one repr per line).

Logs are sequences of epochs, as in the specs: a record is ``(offset, epoch)``. ``isr`` and
``elr`` are sorted tuples of broker ids; ``-1`` is "no leader" (the specs' ``None``).

docs:

=====================  ===========================================  ==============================
event                  TLA+ action                                  emitted by
=====================  ===========================================  ==============================
LeaderAppend           Replication/Election ``LeaderAppend``,       ``Replica._append``
                       Delivery ``HandleProduce``
FollowerFetch          Replication/Election ``FollowerFetch``       ``Replica.append_as_follower``;
                       (append, or Election's truncating branch)    ``ReplicaFetcher._truncate``
BecomeLeader           Replication ``BecomeLeader``                 ``Replica.become_leader``
BecomeFollower         Replication ``BecomeFollower`` (with its     ``ReplicaFetcher._truncate``
                       truncation: emitted once the KIP-279 loop    (the first truncation that
                       settles on the truncation offset)            completes after
                                                                    ``add_partition``)
AdvanceHighWatermark   Replication/Election/Delivery                ``Replica.
                       ``AdvanceHighWatermark``                     maybe_increment_high_watermark``
SendAlterPartition     Election ``SendAlterPartition``              ``AlterPartitionManager.submit``
                       (``ShrinkIsr`` / ``ExpandIsr``)
HandleAlterPartition   Election ``HandleAlterPartition`` (the       ``controller_apis._alter_one``
                       committed ISR: ``CommitIsr``)
ElectLeader            Replication/Election ``ElectLeader``         ``QuorumController.commit``
                       (also a new partition's first leader)        (``controller/trace_events``)
FenceBroker            Election ``FenceBroker``                     ``QuorumController.commit``
ControlledShutdown     Election ``CleanShutdown`` then              ``QuorumController.commit``
                       ``FenceBroker`` (KIP-631: the controller
                       moves the broker's leaderships and ISR
                       memberships away before it stops)
RegisterBroker         Election ``RegisterBroker``                  ``QuorumController.commit``
UnfenceBroker          Election ``UnfenceBroker`` (a broker fenced  ``QuorumController.commit``
                       while it ran heartbeats again; also each
                       registration's first heartbeat)
Flush                  Election ``Flush``                           ``PartitionLog.flush`` (hook
                                                                    set by ``Replica``; one inside
                                                                    an append: after its event)
HandleProduce          Delivery ``HandleProduce`` (the branches    ``Replica.append_as_leader``
                       that append nothing: a duplicate answered
                       with its first offsets, a sequence refused)
ReadHighWatermark      Replication ``ConsumerReadHighWatermark``    ``handle_list_offsets`` (a
                       (ListOffsets latest, read_uncommitted)       consumer's request)
AcknowledgeProduce     Replication/Election ``acked`` (the records  ``DelayedProduce.try_complete``
                       an acks=all answer acknowledges); Delivery
                       ``ReceiveResponse``
LoadGroups             ConsumerGroup ``CoordinatorFailover`` (the   ``GroupCoordinator.load``
                       groups reloaded from the log)
JoinGroup              ConsumerGroup ``JoinGroup`` (a new member)   ``GroupCoordinator.
                                                                    _add_member_and_rebalance``
RejoinGroup            ConsumerGroup ``RejoinGroup`` (a known       ``GroupCoordinator.
                       member's JoinGroup rebalances a Stable       _join_known_member``
                       group)
CompleteJoin           ConsumerGroup ``CompleteJoin``               ``GroupCoordinator.
                                                                    _complete_join``
SyncGroupLeader        ConsumerGroup ``SyncGroupLeader``            ``GroupCoordinator.sync_group``
LeaveGroup             ConsumerGroup ``LeaveGroup``                 ``GroupCoordinator._leave_one``
MemberExpired          ConsumerGroup ``MemberExpired``              ``GroupCoordinator._tick_group``
CommitOffset           ConsumerGroup/Delivery ``CommitOffset``      ``GroupCoordinator.
                                                                    commit_offsets``
AddPartitionsToTxn     Transactions ``BeginTxn`` (the partition     ``TransactionCoordinator.
                       joins the producer's transaction)            add_partitions``
EndTxn                 Transactions ``EndTxn`` (PrepareCommit or    ``TransactionCoordinator.
                       PrepareAbort; a timeout's abort too)         _prepare_end``
WriteMarker            Transactions ``WriteMarker`` (the marker     ``Replica._append`` (a control
                       lands in one partition)                      batch)
CompleteTxn            Transactions ``WriteMarker``'s completion    ``TransactionCoordinator.
                       (CompleteCommit or CompleteAbort)            complete_markers``
ReadCommitted          Transactions ``ConsumerRead`` (a             ``Replica.read_records``
                       read_committed Fetch's records)
=====================  ===========================================  ==============================

Refinements the specs abstract away: Kafka's controller elects at once when it fences a leader
or removes it from the ISR, so a ``FenceBroker`` (or ``RegisterBroker``) event is followed by an
``ElectLeader`` for each partition whose leader it moved (its ``partitions`` already show the
state after both); a broker registers fenced and is unfenced by a later heartbeat (no event;
elections that the unfencing allows are ``ElectLeader``); a follower that restarts at its
current epoch emits ``BecomeFollower`` again (Replication.tla's restart).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TraceEvent:
    """The base of every trace event: ``node`` is the node that took the step."""

    node: int


Tracer = Callable[[TraceEvent], None]


# ---------------------------------------------------------------- replicas (brokers)


@dataclass(frozen=True, slots=True)
class LeaderAppend(TraceEvent):
    """The leader appended records ``[offset, log_end_offset)``, all of ``leader_epoch``.
    ``producer_id``/``base_sequence`` are -1 for a non-idempotent batch (Delivery.tla)."""

    topic: str
    partition: int
    leader_epoch: int
    offset: int
    log_end_offset: int
    producer_id: int = -1
    base_sequence: int = -1


@dataclass(frozen=True, slots=True)
class FollowerFetch(TraceEvent):
    """A follower's log became ``log[:offset] + epochs`` (one epoch per record; an append has
    ``offset`` = its previous log end offset, a truncation has no ``epochs``); its high
    watermark is now ``high_watermark``."""

    topic: str
    partition: int
    leader: int
    leader_epoch: int
    offset: int
    epochs: tuple[int, ...]
    log_end_offset: int
    high_watermark: int


@dataclass(frozen=True, slots=True)
class BecomeLeader(TraceEvent):
    """The replica leads ``leader_epoch``, which starts at ``log_end_offset`` (KIP-101)."""

    topic: str
    partition: int
    leader_epoch: int
    partition_epoch: int
    isr: tuple[int, ...]
    log_end_offset: int
    high_watermark: int


@dataclass(frozen=True, slots=True)
class BecomeFollower(TraceEvent):
    """The replica follows ``leader`` in ``leader_epoch``; its log was truncated to
    ``truncation_offset`` (now its log end offset) and its HW to ``high_watermark``."""

    topic: str
    partition: int
    leader: int
    leader_epoch: int
    truncation_offset: int
    high_watermark: int


@dataclass(frozen=True, slots=True)
class AdvanceHighWatermark(TraceEvent):
    """The leader's HW moved from ``previous_high_watermark`` to ``high_watermark``: the
    records in between are committed. ``isr``: the commit ISR (KIP-497's maximal ISR);
    ``log_end_offsets``: the log end offset the leader knew of each of its members (its own,
    and each follower's last fetch offset), which orders a real run's merged trace."""

    topic: str
    partition: int
    leader_epoch: int
    previous_high_watermark: int
    high_watermark: int
    isr: tuple[int, ...]
    log_end_offsets: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class SendAlterPartition(TraceEvent):
    """The leader asks the controller for ``new_isr`` (``change``: "ShrinkIsr" drops
    ``replicas``, "ExpandIsr" adds them), with each member's broker epoch (KIP-903)."""

    topic: str
    partition: int
    change: str
    replicas: tuple[int, ...]
    leader_epoch: int
    partition_epoch: int
    isr: tuple[int, ...]
    new_isr: tuple[int, ...]
    broker_epochs: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Flush(TraceEvent):
    """The replica's log is on disk up to ``offset`` (exclusive)."""

    topic: str
    partition: int
    offset: int


@dataclass(frozen=True, slots=True)
class HandleProduce(TraceEvent):
    """The leader handled an idempotent batch without appending it (KIP-98): ``verdict``
    "duplicate" (answered with the first write's ``offset``) or the error it refused it with
    (``offset`` -1). An appended batch is a ``LeaderAppend``."""

    topic: str
    partition: int
    leader_epoch: int
    producer_id: int
    producer_epoch: int
    base_sequence: int
    verdict: str
    offset: int


@dataclass(frozen=True, slots=True)
class ReadHighWatermark(TraceEvent):
    """The leader showed a consumer ``high_watermark`` as the latest offset (ListOffsets latest,
    read_uncommitted): Replication.tla's ``ConsumerReadHighWatermark`` (``observedHw``)."""

    topic: str
    partition: int
    leader_epoch: int
    high_watermark: int


@dataclass(frozen=True, slots=True)
class AcknowledgeProduce(TraceEvent):
    """The leader answered an acks=all Produce without error: records ``[offset,
    log_end_offset)`` are acknowledged (the specs' ``acked``; not an action of its own)."""

    topic: str
    partition: int
    offset: int
    log_end_offset: int


# ----------------------------------------------------------------------- controller


@dataclass(frozen=True, slots=True)
class PartitionState:
    """The controller's registration of one partition (not an event: a part of one)."""

    topic: str
    partition: int
    leader: int
    leader_epoch: int
    partition_epoch: int
    isr: tuple[int, ...]
    elr: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class ElectLeader(TraceEvent):
    """The controller made ``leader`` the partition's leader in ``leader_epoch`` (-1: it left
    the partition leaderless); ``unclean``: it came from outside the ISR and the ELR
    (unclean.leader.election.enable)."""

    topic: str
    partition: int
    leader: int
    leader_epoch: int
    partition_epoch: int
    isr: tuple[int, ...]
    elr: tuple[int, ...]
    unclean: bool


@dataclass(frozen=True, slots=True)
class HandleAlterPartition(TraceEvent):
    """The controller answered a leader's AlterPartition: ``error`` "NONE" commits ``isr``
    (CommitIsr); another error (stale partition or broker epoch) leaves the state as given."""

    topic: str
    partition: int
    broker: int
    requested_isr: tuple[int, ...]
    error: str
    leader: int
    leader_epoch: int
    partition_epoch: int
    isr: tuple[int, ...]
    elr: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class FenceBroker(TraceEvent):
    """The controller fenced ``broker`` (session expired, or controlled shutdown done);
    ``partitions``: the state of each partition that changed with it."""

    broker: int
    broker_epoch: int
    partitions: tuple[PartitionState, ...]


@dataclass(frozen=True, slots=True)
class UnfenceBroker(TraceEvent):
    """The controller unfenced ``broker`` at a heartbeat (after its registration, or after a
    fencing while it ran: its heartbeats had not arrived); no partition changes with it."""

    broker: int
    broker_epoch: int


@dataclass(frozen=True, slots=True)
class ControlledShutdown(TraceEvent):
    """``broker`` asked to shut down (KIP-631): the controller took it out of every ISR and
    moved its leaderships; ``partitions``: the state of each partition that changed with it."""

    broker: int
    broker_epoch: int
    partitions: tuple[PartitionState, ...]


@dataclass(frozen=True, slots=True)
class RegisterBroker(TraceEvent):
    """``broker`` registered with ``broker_epoch``; ``clean_shutdown`` False means it lost
    unflushed data (KIP-966: it left the ISRs and ELRs in ``partitions``)."""

    broker: int
    broker_epoch: int
    clean_shutdown: bool
    partitions: tuple[PartitionState, ...]


# ------------------------------------------------------------------ consumer groups


@dataclass(frozen=True, slots=True)
class LoadGroups(TraceEvent):
    """The broker became the coordinator of ``__consumer_offsets``-``partition`` (of
    ``partitions``) and loaded its groups from the log: each as (group, generation, state,
    ((member, assignment), ...)); a group the log does not hold is new (Empty, generation 0)."""

    partition: int
    partitions: int
    groups: tuple[tuple[str, int, str, tuple[tuple[str, bytes], ...]], ...]


@dataclass(frozen=True, slots=True)
class JoinGroup(TraceEvent):
    """A new ``member`` joined; the group is now in ``state`` (a rebalance) at ``generation``
    (the one before the rebalance completes)."""

    group: str
    member: str
    generation: int
    state: str


@dataclass(frozen=True, slots=True)
class RejoinGroup(TraceEvent):
    """A known ``member`` of the Stable group sent JoinGroup (the leader, or new protocols):
    the group is now in ``state`` (a rebalance) at ``generation``."""

    group: str
    member: str
    generation: int
    state: str


@dataclass(frozen=True, slots=True)
class CompleteJoin(TraceEvent):
    """The join phase ended: ``generation`` starts with ``members`` (empty: the group is
    Empty)."""

    group: str
    generation: int
    members: tuple[str, ...]
    leader: str
    state: str


@dataclass(frozen=True, slots=True)
class SyncGroupLeader(TraceEvent):
    """The leader's SyncGroup: ``assignment`` (member id, its ConsumerProtocol assignment
    bytes) for ``generation``; the group is Stable."""

    group: str
    generation: int
    assignment: tuple[tuple[str, bytes], ...]


@dataclass(frozen=True, slots=True)
class LeaveGroup(TraceEvent):
    """``member`` left; the group is now in ``state``."""

    group: str
    member: str
    generation: int
    state: str


@dataclass(frozen=True, slots=True)
class MemberExpired(TraceEvent):
    """``member``'s session timed out; the coordinator removed it."""

    group: str
    member: str
    generation: int
    state: str


@dataclass(frozen=True, slots=True)
class CommitOffset(TraceEvent):
    """The coordinator accepted ``member``'s OffsetCommit while the group was in
    ``generation`` (the coordinator's, as ConsumerGroup.tla records it in ``commits``; -1: a
    group that only stores offsets): ``offsets`` are (topic, partition, offset)."""

    group: str
    member: str
    generation: int
    offsets: tuple[tuple[str, int, int], ...]


# ------------------------------------------------------------------- transactions


@dataclass(frozen=True, slots=True)
class AddPartitionsToTxn(TraceEvent):
    """The coordinator added ``partitions`` (topic, partition) to the ongoing transaction of
    ``transactional_id`` (it was ``previous_state`` before: Empty or Complete* begins one)."""

    transactional_id: str
    producer_id: int
    producer_epoch: int
    partitions: tuple[tuple[str, int], ...]
    previous_state: str


@dataclass(frozen=True, slots=True)
class EndTxn(TraceEvent):
    """The transaction moved to ``state`` (PrepareCommit or PrepareAbort: EndTxn, or the
    coordinator's abort at transaction.timeout.ms); its markers go to ``partitions``."""

    transactional_id: str
    producer_id: int
    producer_epoch: int
    state: str
    partitions: tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class CompleteTxn(TraceEvent):
    """Every marker is written: the transaction is in ``state`` (CompleteCommit or
    CompleteAbort)."""

    transactional_id: str
    producer_id: int
    producer_epoch: int
    state: str


@dataclass(frozen=True, slots=True)
class WriteMarker(TraceEvent):
    """The leader appended ``producer_id``'s commit (or abort) marker at ``offset``."""

    topic: str
    partition: int
    producer_id: int
    producer_epoch: int
    commit: bool
    offset: int


@dataclass(frozen=True, slots=True)
class ReadCommitted(TraceEvent):
    """The leader gave a read_committed Fetch the records ``[fetch_offset, end_offset)`` with
    the LSO and the aborted transactions (producer id, first offset) among them."""

    topic: str
    partition: int
    fetch_offset: int
    end_offset: int
    last_stable_offset: int
    high_watermark: int
    aborted: tuple[tuple[int, int], ...]


EVENT_TYPES: tuple[type[TraceEvent], ...] = (
    LeaderAppend,
    FollowerFetch,
    BecomeLeader,
    BecomeFollower,
    AdvanceHighWatermark,
    SendAlterPartition,
    Flush,
    HandleProduce,
    ReadHighWatermark,
    AcknowledgeProduce,
    ElectLeader,
    HandleAlterPartition,
    FenceBroker,
    ControlledShutdown,
    RegisterBroker,
    UnfenceBroker,
    LoadGroups,
    JoinGroup,
    RejoinGroup,
    CompleteJoin,
    SyncGroupLeader,
    LeaveGroup,
    MemberExpired,
    CommitOffset,
    AddPartitionsToTxn,
    EndTxn,
    CompleteTxn,
    WriteMarker,
    ReadCommitted,
)


def namespace() -> dict[str, object]:
    """The names ``eval`` needs to read a ``repr`` of any event back."""
    names: dict[str, object] = {cls.__name__: cls for cls in EVENT_TYPES}
    names["PartitionState"] = PartitionState
    return names


def parse(line: str) -> TraceEvent:
    """An event from its ``repr`` (trusted input: a trace file this project wrote)."""
    event = eval(line, {"__builtins__": {}}, namespace())
    if not isinstance(event, TraceEvent):
        raise ValueError(f"not a trace event: {line!r}")
    return event
