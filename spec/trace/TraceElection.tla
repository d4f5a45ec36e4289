-------------------------- MODULE TraceElection --------------------------
(***************************************************************************)
(* Trace validation of Election.tla: the behaviours of Election's fixed    *)
(* protocol (KIP-966, KIP-903, KIP-497, unclean election off) that follow  *)
(* a recorded trace of the reference step by step, as TraceReplication.tla *)
(* does for Replication.tla.                                               *)
(*                                                                         *)
(* TraceData (written per trace by `refka spec validate --spec Election`)  *)
(* defines Trace, a sequence of events [action, node, leader, epoch,       *)
(* offset, end, record, replica, hasState, isr, elr, ok] (-1: none), and   *)
(* the model's bounds. Each event is matched by exactly one step of the    *)
(* base spec whose primed variables it constrains, or by a stuttering step *)
(* that checks the state where the mapping says so; pos moves on by one.   *)
(*                                                                         *)
(* The mapping (docs/spec.md, "Trace validation of Election.tla"); the     *)
(* converter, refka/spec_trace_election.py, does the first four:           *)
(*  - leader epochs are renumbered in the order of the elections (Kafka    *)
(*    also bumps the epoch of a partition it leaves leaderless);           *)
(*  - a process stop is not an event: CleanShutdown or UncleanShutdown     *)
(*    (as the broker's next registration reports it) is placed just       *)
(*    before the controller fences it;                                     *)
(*  - ControlledShutdown (KIP-631) is CleanShutdown then FenceBroker; the  *)
(*    later fencing of that session is "Fenced", a stuttering step;        *)
(*  - a registration nobody fenced before is the shutdown, an unchecked    *)
(*    FenceBroker, then RegisterBroker;                                    *)
(*  - a FenceBroker whose batch also elects a leader is checked by the     *)
(*    ElectLeader event that follows (the batch shows the state after      *)
(*    both);                                                               *)
(*  - BecomeLeader, a leaderless ElectLeader (-1), an empty fetch and a    *)
(*    truncation to the log end change no variable of Election: checked   *)
(*    stuttering steps; a shorter truncation is FollowerFetch's truncating *)
(*    branch;                                                              *)
(*  - a fetch of k records is k FollowerFetch steps; the follower's view   *)
(*    of the leader is not checked (Election's replicas learn the          *)
(*    controller's decisions at once), the records' epochs are;            *)
(*  - the reference's HW may lag the spec's (its leader hears a fetch one  *)
(*    round later): AdvanceHighWatermark is the spec's step, or a          *)
(*    stuttering one, after which the records it passes are in acked;      *)
(*  - AbandonAlterPartition: the leader dropped its AlterPartition (it     *)
(*    lost the leadership): HandleAlterPartition of a stale request;       *)
(*  - an error answer to a request no longer in flight: stuttering.        *)
(***************************************************************************)
EXTENDS Election, TraceData, TLC

VARIABLE pos  \* the index in Trace of the next event to match

traceVars == <<vars, pos>>

NoValue == -1
Unchecked == -2
LeaderOf(v) == IF v = NoValue THEN None ELSE v

IsEvent(a) == pos <= Len(Trace) /\ Trace[pos].action = a
Ev == Trace[pos]

(* Records [from, to) of n's log, as <<offset, epoch>>, are in the set a. *)
Committed(n, from, to, a) ==
    \A o \in from..(to - 1) : o < Len(log[n]) /\ <<o, log[n][o + 1]>> \in a

(* The partition state the event shows (if it shows one) is the spec's after the step. *)
StateAfter ==
    IF Ev.hasState
    THEN leader' = LeaderOf(Ev.leader) /\ isr' = Ev.isr /\ elr' = Ev.elr
    ELSE UNCHANGED <<leader, isr, elr>>

TraceInit ==
    /\ pos = 1
    /\ log = [r \in Replicas |-> <<>>]
    /\ flushed = [r \in Replicas |-> 0]
    /\ alive = [r \in Replicas |-> TRUE]
    /\ fenced = [r \in Replicas |-> FALSE]
    /\ lostData = [r \in Replicas |-> FALSE]
    /\ leader = TraceFirstLeader
    /\ leaderEpoch = 1
    /\ isr = Replicas
    /\ elr = {}
    /\ acked = {}
    /\ alterPartition = {}
    /\ deposed = [r \in Replicas |-> 0]

TraceElectLeader ==
    /\ IsEvent("ElectLeader")
    /\ ElectLeader
    /\ leader' = Ev.leader /\ leaderEpoch' = Ev.epoch /\ isr' = Ev.isr /\ elr' = Ev.elr

TraceLeaderless ==
    /\ IsEvent("Leaderless")
    /\ leader = None
    /\ UNCHANGED vars

TraceCleanShutdown == IsEvent("CleanShutdown") /\ CleanShutdown(Ev.node)

TraceUncleanShutdown == IsEvent("UncleanShutdown") /\ UncleanShutdown(Ev.node)

TraceFenceBroker ==
    /\ IsEvent("FenceBroker")
    /\ FenceBroker(Ev.node)
    /\ CASE Ev.leader = Unchecked -> TRUE
         [] Ev.hasState /\ leader' = None /\ Ev.leader # NoValue -> TRUE  \* ElectLeader follows
         [] OTHER -> StateAfter

TraceFenced ==
    /\ IsEvent("Fenced")
    /\ fenced[Ev.node] /\ ~alive[Ev.node]
    /\ Ev.hasState => (leader = LeaderOf(Ev.leader) /\ isr = Ev.isr /\ elr = Ev.elr)
    /\ UNCHANGED vars

TraceUnfenceBroker == IsEvent("UnfenceBroker") /\ UnfenceBroker(Ev.node)

(* A deposed leader's AlterPartition: stale on arrival (its leader epoch is *)
(* old), refused by the controller; neither changes a variable.             *)
TraceDeposedAlterPartition ==
    /\ IsEvent("DeposedAlterPartition")
    /\ deposed[Ev.node] = Ev.epoch /\ leader # Ev.node
    /\ UNCHANGED vars

TraceRefuseAlterPartition ==
    /\ IsEvent("RefuseAlterPartition")
    /\ ~Ev.ok /\ leader # Ev.replica
    /\ leader = LeaderOf(Ev.leader) /\ isr = Ev.isr /\ elr = Ev.elr
    /\ UNCHANGED vars

TraceRegisterBroker ==
    /\ IsEvent("RegisterBroker")
    /\ RegisterBroker(Ev.node)
    /\ Ev.hasState => (isr' = Ev.isr /\ elr' = Ev.elr)

TraceBecomeLeader ==
    /\ IsEvent("BecomeLeader")
    /\ leader = Ev.node /\ leaderEpoch = Ev.epoch /\ Len(log[Ev.node]) = Ev.offset
    /\ UNCHANGED vars

TraceFollowerTruncate ==
    /\ IsEvent("FollowerTruncate")
    /\ \/ Len(log[Ev.node]) = Ev.offset /\ deposed[Ev.node] = 0 /\ UNCHANGED vars
       \/ Len(log[Ev.node]) = Ev.offset /\ LearnLeader(Ev.node)
       \/ /\ Len(log[Ev.node]) > Ev.offset
          /\ FollowerFetch(Ev.node)
          /\ Len(log'[Ev.node]) = Ev.offset

TraceFollowerFetch ==
    /\ IsEvent("FollowerFetch")
    /\ Len(log[Ev.node]) = Ev.offset
    /\ FollowerFetch(Ev.node)
    /\ log'[Ev.node] = Append(log[Ev.node], Ev.record)

TraceLeaderAppend ==
    /\ IsEvent("LeaderAppend")
    /\ Len(log[Ev.node]) = Ev.offset
    /\ \/ leader = Ev.node /\ leaderEpoch = Ev.epoch /\ LeaderAppend
       \/ deposed[Ev.node] = Ev.epoch /\ DeposedAppend(Ev.node)

TraceAdvanceHighWatermark ==
    /\ IsEvent("AdvanceHighWatermark")
    /\ leader = Ev.node /\ leaderEpoch = Ev.epoch
    /\ AdvanceHighWatermark \/ UNCHANGED vars
    /\ Committed(Ev.node, Ev.offset, Ev.end, acked')

TraceAcknowledgeProduce ==
    /\ IsEvent("AcknowledgeProduce")
    /\ Committed(Ev.node, Ev.offset, Ev.end, acked)
    /\ UNCHANGED vars

TraceFlush ==
    /\ IsEvent("Flush")
    /\ \/ Flush(Ev.node) /\ flushed'[Ev.node] = Ev.offset
       \/ Ev.offset <= flushed[Ev.node] /\ UNCHANGED vars

TraceSendAlterPartition ==
    /\ IsEvent("SendAlterPartition")
    /\ leader = Ev.node
    /\ SendAlterPartition(Ev.replica)
    /\ \A q \in alterPartition' : q.newIsr = Ev.isr

TraceAbandonAlterPartition ==
    /\ IsEvent("AbandonAlterPartition")
    /\ \A q \in alterPartition : q.stalePartition
    /\ HandleAlterPartition
    /\ UNCHANGED <<isr, elr>>

(* The controller's answer; an error answer to a request no longer in      *)
(* flight (resent after a timeout, or duplicated by the network) changes    *)
(* nothing: a stuttering step.                                              *)
TraceHandleAlterPartition ==
    /\ IsEvent("HandleAlterPartition")
    /\ leader = LeaderOf(Ev.leader)
    /\ \/ HandleAlterPartition /\ isr' = Ev.isr /\ elr' = Ev.elr
       \/ /\ ~Ev.ok /\ alterPartition = {}
          /\ isr = Ev.isr /\ elr = Ev.elr
          /\ UNCHANGED vars

TraceNext ==
    /\ \/ TraceElectLeader
       \/ TraceLeaderless
       \/ TraceCleanShutdown
       \/ TraceUncleanShutdown
       \/ TraceFenceBroker
       \/ TraceFenced
       \/ TraceRegisterBroker
       \/ TraceUnfenceBroker
       \/ TraceDeposedAlterPartition
       \/ TraceRefuseAlterPartition
       \/ TraceBecomeLeader
       \/ TraceFollowerTruncate
       \/ TraceFollowerFetch
       \/ TraceLeaderAppend
       \/ TraceAdvanceHighWatermark
       \/ TraceAcknowledgeProduce
       \/ TraceFlush
       \/ TraceSendAlterPartition
       \/ TraceAbandonAlterPartition
       \/ TraceHandleAlterPartition
    /\ pos' = pos + 1

TraceSpec == TraceInit /\ [][TraceNext]_traceVars

(* Violated exactly when the whole trace was matched (accepted). *)
TraceNotAccepted == pos <= Len(Trace)

(* Set by `refka spec validate` to the first unmatched event, to print the state before it. *)
TraceBeforeStop == TraceStopAt = 0 \/ pos < TraceStopAt
=============================================================================
