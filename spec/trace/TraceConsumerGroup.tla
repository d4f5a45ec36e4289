------------------------ MODULE TraceConsumerGroup ------------------------
(***************************************************************************)
(* Trace validation of ConsumerGroup.tla (FenceCommits): the behaviours of *)
(* the spec that follow the group coordinator's recorded events step by    *)
(* step, as TraceReplication.tla does for Replication.tla.                 *)
(*                                                                         *)
(* TraceData (refka/spec_trace_group.py) defines Trace, a sequence of      *)
(* events [action, member, generation, state, members, assignment,         *)
(* partition] (-1: none): member ids are numbered 1, 2, ... as they join;  *)
(* partitions are their numbers. The mapping (docs/spec.md):               *)
(*  - JoinGroup (a new member), RejoinGroup (a known member's JoinGroup   *)
(*    to a Stable group), CompleteJoin, SyncGroupLeader,                   *)
(*    MemberExpired, LeaveGroup: the spec's action of that name, with the  *)
(*    coordinator's generation, state, members and assignment after it;    *)
(*  - an OffsetCommit of k partitions: k CommitOffset steps, in the        *)
(*    coordinator's generation;                                            *)
(*  - a member's own steps are no events: Rejoin (Heartbeat answered       *)
(*    REBALANCE_IN_PROGRESS, or JoinGroup again when it is out) just       *)
(*    before the CompleteJoin it is in; SyncGroup (its answer) just after  *)
(*    the leader's SyncGroupLeader; SyncGroupFailed (an error answer) for  *)
(*    a member whose generation ended before any SyncGroupLeader;          *)
(*  - LoadGroups of the group's offsets partition: CoordinatorFailover,    *)
(*    the reloaded generation, state, members (and assignment) after it;   *)
(*    CommitGroupRecord (replication, no event) just after the write of   *)
(*    the record it reloads, when that is not the last one written;        *)
(*  - a CompleteJoin with no member: CompleteEmptyJoin;                    *)
(*  - the events of a coordinator the group has left (a later LoadGroups  *)
(*    on another broker; it has not learned yet): DeposedCoordinator, a   *)
(*    stuttering step (its writes cannot commit, its answers are lost).   *)
(***************************************************************************)
EXTENDS ConsumerGroup, TraceData

VARIABLE pos

traceVars == <<vars, pos>>

IsEvent(a) == pos <= Len(Trace) /\ Trace[pos].action = a
Ev == Trace[pos]

TraceJoinGroup ==
    /\ IsEvent("JoinGroup")
    /\ generation = Ev.generation
    /\ JoinGroup(Ev.member)
    /\ groupState' = Ev.state

TraceRejoin ==
    /\ IsEvent("Rejoin")
    /\ \/ Heartbeat(Ev.member) /\ memberPhase'[Ev.member] = "joining"
       \/ JoinGroup(Ev.member)

TraceRejoinGroup ==
    /\ IsEvent("RejoinGroup")
    /\ generation = Ev.generation
    /\ RejoinGroup(Ev.member)
    /\ groupState' = Ev.state

TraceCompleteJoin ==
    /\ IsEvent("CompleteJoin")
    /\ CompleteJoin \/ CompleteEmptyJoin
    /\ generation' = Ev.generation /\ members' = Ev.members /\ groupState' = Ev.state

TraceSyncGroupLeader ==
    /\ IsEvent("SyncGroupLeader")
    /\ generation = Ev.generation
    /\ SyncGroupLeader
    /\ assignment' = Ev.assignment

TraceSyncGroup ==
    /\ IsEvent("SyncGroup")
    /\ SyncGroup(Ev.member)
    /\ memberPhase'[Ev.member] = "stable"

TraceSyncGroupFailed ==
    /\ IsEvent("SyncGroupFailed")
    /\ SyncGroup(Ev.member)
    /\ memberPhase'[Ev.member] = "out"

TraceMemberExpired ==
    /\ IsEvent("MemberExpired")
    /\ generation = Ev.generation
    /\ MemberExpired(Ev.member)
    /\ groupState' = Ev.state

TraceLeaveGroup ==
    /\ IsEvent("LeaveGroup")
    /\ generation = Ev.generation
    /\ LeaveGroup(Ev.member)
    /\ groupState' = Ev.state

TraceCommitOffset ==
    /\ IsEvent("CommitOffset")
    /\ generation = Ev.generation
    /\ CommitOffset(Ev.member, Ev.partition)

TraceCoordinatorFailover ==
    /\ IsEvent("CoordinatorFailover")
    /\ CoordinatorFailover
    /\ generation' = Ev.generation /\ members' = Ev.members /\ groupState' = Ev.state
    /\ Ev.members # {} => assignment' = Ev.assignment

TraceDeposedCoordinator == IsEvent("DeposedCoordinator") /\ UNCHANGED vars

(* Replication, not an event: the converter places it just after the    *)
(* write of the record a later failover reloads, when a newer one exists. *)
TraceCommitGroupRecord ==
    /\ IsEvent("CommitGroupRecord")
    /\ written.generation = Ev.generation
    /\ CommitGroupRecord \/ (stored = written /\ UNCHANGED vars)

TraceInit == Init /\ pos = 1

TraceNext ==
    /\ \/ TraceJoinGroup
       \/ TraceRejoin
       \/ TraceRejoinGroup
       \/ TraceCompleteJoin
       \/ TraceSyncGroupLeader
       \/ TraceSyncGroup
       \/ TraceSyncGroupFailed
       \/ TraceMemberExpired
       \/ TraceLeaveGroup
       \/ TraceCommitOffset
       \/ TraceCoordinatorFailover
       \/ TraceDeposedCoordinator
       \/ TraceCommitGroupRecord
    /\ pos' = pos + 1

TraceSpec == TraceInit /\ [][TraceNext]_traceVars

(* Violated exactly when the whole trace was matched (accepted). *)
TraceNotAccepted == pos <= Len(Trace)

(* Set by `refka spec validate` to the first unmatched event, to print the state before it. *)
TraceBeforeStop == TraceStopAt = 0 \/ pos < TraceStopAt
=============================================================================
