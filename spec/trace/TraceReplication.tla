------------------------- MODULE TraceReplication -------------------------
(***************************************************************************)
(* Trace validation of Replication.tla: the behaviours of Replication's    *)
(* fixed protocol that follow a recorded trace of the reference step by    *)
(* step (the technique of etcd raft's Traceetcdraft.tla and CCF).          *)
(*                                                                         *)
(* TraceData (written per trace by `refka spec validate`) defines Trace,   *)
(* a sequence of events [action, node, leader, epoch, offset, record, hw,  *)
(* prevHw, end] holding the reference's own values (-1: none), and the     *)
(* model's bounds. Each event is matched by exactly one step of the base   *)
(* spec whose primed variables it constrains (or by a stuttering step that *)
(* checks the state, where the mapping says so), and the position pos    *)
(* moves on by one: TLC reaches pos = Len(Trace) + 1 only if every event   *)
(* was matched.                                                            *)
(*                                                                         *)
(* The mapping (docs/spec.md, "Trace validation"):                         *)
(*  - epochs: the reference's first leader epoch is 0, the spec's 1, so    *)
(*    the spec's epoch is the reference's plus one (SpecEpoch);            *)
(*  - the first ElectLeader (epoch 0) is Init, with CHOOSE's choice of     *)
(*    leader made the trace's first leader;                                *)
(*  - a leaderless partition state (leader -1, a new epoch) is             *)
(*    ElectLeader(ctrlLeader): the spec's controller always names a        *)
(*    replica, and no replica acts on that epoch;                          *)
(*  - a BecomeLeader at the epoch the replica already leads (the           *)
(*    LeaderAndIsr of an ISR change, or the initial leader) changes no     *)
(*    variable of the spec: a stuttering step, checked to be one;          *)
(*  - a batch of k records (LeaderAppend, FollowerFetch) is k events of    *)
(*    one record each (the converter splits it); only the last record of   *)
(*    a fetch carries the follower's new HW (the others: -1, the spec      *)
(*    computes it);                                                        *)
(*  - an acks=all answer (AcknowledgeProduce) changes no variable: its     *)
(*    records must already be in acked;                                    *)
(*  - events Replication.tla has no variables for (ISR changes, broker     *)
(*    registration and fencing, flushes, group events) are left out by     *)
(*    the converter, except the leader epochs they carry.                  *)
(***************************************************************************)
EXTENDS Replication, TraceData, TLC

VARIABLE pos  \* the index in Trace of the next event to match (not `l`: Replication's
            \* LET l == ... would be read as this variable by TLC)

traceVars == <<vars, pos>>

NoValue == -1
SpecEpoch(e) == e + 1

IsEvent(a) == pos <= Len(Trace) /\ Trace[pos].action = a
Ev == Trace[pos]

(* Init, with CHOOSE's arbitrary replica made the trace's first leader. *)
TraceInit ==
    /\ pos = 1
    /\ log = [r \in Replicas |-> <<>>]
    /\ highWatermark = [r \in Replicas |-> 0]
    /\ ctrlLeader = TraceFirstLeader
    /\ ctrlEpoch = 1
    /\ leaderEpoch = [r \in Replicas |-> 1]
    /\ leader = [r \in Replicas |-> TraceFirstLeader]
    /\ acked = {}
    /\ observedHw = 0

TraceElectLeader ==
    /\ IsEvent("ElectLeader")
    /\ ElectLeader(IF Ev.leader = NoValue THEN ctrlLeader ELSE Ev.leader)
    /\ ctrlEpoch' = SpecEpoch(Ev.epoch)

TraceBecomeLeader ==
    /\ IsEvent("BecomeLeader")
    /\ Len(log[Ev.node]) = Ev.offset
    /\ highWatermark[Ev.node] = Ev.hw
    /\ \/ /\ BecomeLeader(Ev.node)
          /\ leaderEpoch'[Ev.node] = SpecEpoch(Ev.epoch)
       \/ /\ leader[Ev.node] = Ev.node
          /\ leaderEpoch[Ev.node] = SpecEpoch(Ev.epoch)
          /\ UNCHANGED vars

TraceBecomeFollower ==
    /\ IsEvent("BecomeFollower")
    /\ BecomeFollower(Ev.node)
    /\ leader'[Ev.node] = Ev.leader
    /\ leaderEpoch'[Ev.node] = SpecEpoch(Ev.epoch)
    /\ Len(log'[Ev.node]) = Ev.offset
    /\ highWatermark'[Ev.node] = Ev.hw

TraceLeaderAppend ==
    /\ IsEvent("LeaderAppend")
    /\ leaderEpoch[Ev.node] = SpecEpoch(Ev.epoch)
    /\ Len(log[Ev.node]) = Ev.offset
    /\ LeaderAppend(Ev.node)

TraceFollowerFetch ==
    /\ IsEvent("FollowerFetch")
    /\ leader[Ev.node] = Ev.leader
    /\ leaderEpoch[Ev.node] = SpecEpoch(Ev.epoch)
    /\ Len(log[Ev.node]) = Ev.offset
    /\ FollowerFetch(Ev.node)
    /\ log'[Ev.node] = IF Ev.record = NoValue THEN log[Ev.node]
                       ELSE Append(log[Ev.node], SpecEpoch(Ev.record))
    /\ Ev.hw # NoValue => highWatermark'[Ev.node] = Ev.hw

TraceAdvanceHighWatermark ==
    /\ IsEvent("AdvanceHighWatermark")
    /\ leaderEpoch[Ev.node] = SpecEpoch(Ev.epoch)
    /\ highWatermark[Ev.node] = Ev.prevHw
    /\ AdvanceHighWatermark(Ev.node)
    /\ highWatermark'[Ev.node] = Ev.hw

(* The leader shows a consumer its HW (ListOffsets latest): observedHw. *)
TraceConsumerReadHighWatermark ==
    /\ IsEvent("ConsumerReadHighWatermark")
    /\ leaderEpoch[Ev.node] = SpecEpoch(Ev.epoch)
    /\ highWatermark[Ev.node] = Ev.hw
    /\ ConsumerReadHighWatermark(Ev.node)

(* An acks=all answer: the records [offset, end) it acknowledges are in    *)
(* acked. No variable changes (acked grew when the HW passed them): a      *)
(* stuttering step that checks the state.                                  *)
TraceAcknowledgeProduce ==
    /\ IsEvent("AcknowledgeProduce")
    /\ \A o \in Ev.offset..(Ev.end - 1) :
         o < Len(log[Ev.node]) /\ <<o, log[Ev.node][o + 1]>> \in acked
    /\ UNCHANGED vars

TraceNext ==
    /\ \/ TraceElectLeader
       \/ TraceBecomeLeader
       \/ TraceBecomeFollower
       \/ TraceLeaderAppend
       \/ TraceFollowerFetch
       \/ TraceAdvanceHighWatermark
       \/ TraceConsumerReadHighWatermark
       \/ TraceAcknowledgeProduce
    /\ pos' = pos + 1

TraceSpec == TraceInit /\ [][TraceNext]_traceVars

(* Violated exactly when the whole trace was matched: TLC's counterexample  *)
(* is then the proof that the trace is a behaviour of the spec.             *)
TraceNotAccepted == pos <= Len(Trace)

(* `refka spec validate` sets TraceStopAt to the first event TLC could not  *)
(* match, to print the state before it (0: no stop).                        *)
TraceBeforeStop == TraceStopAt = 0 \/ pos < TraceStopAt
=============================================================================
