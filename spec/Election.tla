----------------------------- MODULE Election -----------------------------
(***************************************************************************)
(* ISR and leader election for one partition under a KRaft-style          *)
(* controller: the controller holds the partition state (leader, ISR,     *)
(* eligible leader replicas, leader epoch); the leader shrinks and        *)
(* expands the ISR through AlterPartition; acks=all commits need           *)
(* min.insync.replicas; brokers crash, are fenced, restart and register.  *)
(* Kafka does not fsync on append: a broker that stops uncleanly loses     *)
(* the unflushed suffix of its log (Kafka relies on replication).          *)
(*                                                                         *)
(* Records are <<offset, epoch>> as in Replication.tla. Follower           *)
(* truncation is the fixed KIP-279/KIP-320 protocol, checked there, so     *)
(* here a fetch either appends the leader's next record or truncates to    *)
(* the longest common prefix. Abstractions: a replica learns the           *)
(* controller's decisions at once; one AlterPartition request is in       *)
(* flight at a time and the partition and broker epochs it carries are     *)
(* modelled as "stale" flags; the broker session timeout is FenceBroker.   *)
(* The controller fences a broker whose heartbeats stop, whether its       *)
(* process stopped or its heartbeats are lost, and unfences a live one at  *)
(* its next heartbeat (UnfenceBroker). A live broker learns of its fencing *)
(* late: a fenced follower still fetches, and a fenced leader is "deposed" *)
(* (the broker-side view): it still appends at its old leader epoch until  *)
(* it learns, its records uncommitted (its AlterPartition is refused).     *)
(*                                                                         *)
(* Switches:                                                               *)
(*   UncleanElection = TRUE  unclean.leader.election.enable=true           *)
(*   Kip903 = FALSE          before KIP-903: AlterPartition adds a replica *)
(*                           that restarted (lost data) after the leader   *)
(*                           saw it catch up                               *)
(*   MaximalIsr = FALSE      commit against the confirmed ISR while an     *)
(*                           expansion is in flight (what KIP-497's        *)
(*                           maximal ISR prevents)                         *)
(*   Kip966 = FALSE          before KIP-966: the last ISR member stays in  *)
(*                           the ISR when fenced and is elected again      *)
(*                           after an unclean shutdown; no ELR.            *)
(***************************************************************************)
EXTENDS Naturals, Sequences, FiniteSets

CONSTANTS
    Replicas,
    None,
    MaxLogSize,
    MaxEpoch,
    MinIsr,           \* min.insync.replicas
    UncleanElection,  \* unclean.leader.election.enable
    Kip966,           \* eligible leader replicas and unclean-shutdown awareness
    Kip903,           \* AlterPartition carries the broker epoch of the replica it adds
    MaximalIsr        \* KIP-497: the HW waits for replicas a pending AlterPartition adds

VARIABLES
    log,              \* log[r]: sequence of epochs; Replica.log
    flushed,          \* flushed[r]: how many records of log[r] are on disk
    alive,            \* alive[r]: the broker process runs
    fenced,           \* fenced[r]: the controller fences r (no heartbeats)
    lostData,         \* lostData[r]: r stopped uncleanly (it may have lost unflushed records:
                      \* it cannot tell) and has not registered yet
    leader,           \* controller: partition leader or None
    leaderEpoch,      \* controller: partition leader epoch
    isr,              \* controller: in-sync replicas
    elr,              \* controller: eligible leader replicas (KIP-966)
    acked,            \* <<offset, epoch>> acknowledged under acks=all
    alterPartition,   \* the leader's AlterPartition request in flight (at most one)
    deposed           \* deposed[r] > 0: r was fenced while it led at that leader epoch,
                      \* runs, and has not learned it (the broker's view; 0: none)

vars == <<log, flushed, alive, fenced, lostData, leader, leaderEpoch, isr, elr, acked,
          alterPartition, deposed>>

Min(S) == CHOOSE x \in S : \A y \in S : x <= y
Max(S) == CHOOSE x \in S : \A y \in S : x >= y

Truncate(lg, o) == SubSeq(lg, 1, o)
HasRecord(r, rec) == rec[1] < Len(log[r]) /\ log[r][rec[1] + 1] = rec[2]
CommonPrefix(a, b) ==
    Max({n \in 0..Min({Len(a), Len(b)}) : \A i \in 1..n : a[i] = b[i]})

Serving(r) == alive[r] /\ ~fenced[r]

(* The ELR after the ISR becomes newIsr having removed `removed` (KIP-966): *)
(* replicas leaving an ISR smaller than min.insync.replicas still hold      *)
(* every committed record, because nothing commits below min ISR.           *)
ElrAfter(newIsr, removed) ==
    IF ~Kip966 THEN {}
    ELSE IF Cardinality(newIsr) >= MinIsr THEN {}
    ELSE (elr \cup (removed \cap isr)) \ newIsr

(* The partition epoch: any change of leader, ISR or ELR makes a pending   *)
(* AlterPartition stale (INVALID_UPDATE_VERSION). Comparing epochs is      *)
(* modelled by this flag instead of a counter.                             *)
TrackPartitionChange ==
    alterPartition' =
        IF <<leader', isr', elr'>> = <<leader, isr, elr>> THEN alterPartition
        ELSE {[q EXCEPT !.stalePartition = TRUE] : q \in alterPartition}

----------------------------------------------------------------------------
Init ==
    /\ log = [r \in Replicas |-> <<>>]
    /\ flushed = [r \in Replicas |-> 0]
    /\ alive = [r \in Replicas |-> TRUE]
    /\ fenced = [r \in Replicas |-> FALSE]
    /\ lostData = [r \in Replicas |-> FALSE]
    /\ leader = CHOOSE r \in Replicas : TRUE
    /\ leaderEpoch = 1
    /\ isr = Replicas
    /\ elr = {}
    /\ acked = {}
    /\ alterPartition = {}
    /\ deposed = [r \in Replicas |-> 0]

(* Replica.append_as_leader: the leader accepts an acks=all produce only    *)
(* while the ISR meets min.insync.replicas (else NOT_ENOUGH_REPLICAS).      *)
LeaderAppend ==
    /\ leader # None
    /\ Serving(leader)
    /\ Cardinality(isr) >= MinIsr
    /\ Len(log[leader]) < MaxLogSize
    /\ log' = [log EXCEPT ![leader] = Append(@, leaderEpoch)]
    /\ UNCHANGED <<flushed, alive, fenced, lostData, leader, leaderEpoch, isr, elr, acked, alterPartition, deposed>>

(* A follower fetch: truncate a diverging suffix, else copy one record. A *)
(* fenced follower that runs still fetches (the leader does not check the *)
(* fencing); a deposed leader that fetches has learned the new leader.    *)
FollowerFetch(f) ==
    /\ leader # None
    /\ f # leader
    /\ alive[f] /\ Serving(leader)
    /\ LET p == CommonPrefix(log[f], log[leader]) IN
       \/ /\ p < Len(log[f])
          /\ log' = [log EXCEPT ![f] = Truncate(@, p)]
          /\ flushed' = [flushed EXCEPT ![f] = Min({@, p})]
       \/ /\ p = Len(log[f])
          /\ p < Len(log[leader])
          /\ log' = [log EXCEPT ![f] = Append(@, log[leader][p + 1])]
          /\ UNCHANGED flushed
    /\ deposed' = [deposed EXCEPT ![f] = 0]
    /\ UNCHANGED <<alive, fenced, lostData, leader, leaderEpoch, isr, elr, acked, alterPartition>>

(* The ISR the leader commits against: with KIP-497 the "maximal ISR",   *)
(* which counts a replica from the moment the leader asks to add it.     *)
CommitIsr ==
    IF MaximalIsr THEN isr \cup {q.replica : q \in alterPartition} ELSE isr

(* Replica.maybe_increment_high_watermark: records every member of the  *)
(* commit ISR holds are committed and acknowledged, provided the ISR    *)
(* meets min ISR.                                                       *)
AdvanceHighWatermark ==
    /\ leader # None
    /\ Serving(leader)
    /\ Cardinality(isr) >= MinIsr
    /\ LET hw == Min({CommonPrefix(log[r], log[leader]) : r \in CommitIsr})
           new == {<<o, log[leader][o + 1]>> : o \in 0..(hw - 1)}
       IN /\ ~(new \subseteq acked)
          /\ acked' = acked \cup new
    /\ UNCHANGED <<log, flushed, alive, fenced, lostData, leader, leaderEpoch, isr, elr,
                   alterPartition, deposed>>

(* The OS writes dirty pages of r's log to disk. *)
Flush(r) ==
    /\ alive[r]
    /\ flushed[r] < Len(log[r])
    /\ flushed' = [flushed EXCEPT ![r] = Len(log[r])]
    /\ UNCHANGED <<log, alive, fenced, lostData, leader, leaderEpoch, isr, elr, acked, alterPartition, deposed>>

(* Controlled shutdown flushes the log; an unclean one loses the rest. *)
CleanShutdown(r) ==
    /\ alive[r]
    /\ alive' = [alive EXCEPT ![r] = FALSE]
    /\ flushed' = [flushed EXCEPT ![r] = Len(log[r])]
    /\ deposed' = [deposed EXCEPT ![r] = 0]
    /\ UNCHANGED <<log, fenced, lostData, leader, leaderEpoch, isr, elr, acked, alterPartition>>

(* The restarted broker cannot tell whether it lost records, only that it *)
(* left no clean-shutdown file: KIP-966 treats every unclean shutdown as a *)
(* loss (trace validation found the earlier flushed[r] < Len(log[r]) here, *)
(* an oracle Kafka does not have).                                         *)
UncleanShutdown(r) ==
    /\ alive[r]
    /\ alive' = [alive EXCEPT ![r] = FALSE]
    /\ log' = [log EXCEPT ![r] = Truncate(@, flushed[r])]
    /\ lostData' = [lostData EXCEPT ![r] = TRUE]
    /\ deposed' = [deposed EXCEPT ![r] = 0]
    /\ UNCHANGED <<flushed, fenced, leader, leaderEpoch, isr, elr, acked, alterPartition>>

(* Leader candidates: the unfenced ISR, then (KIP-966) the unfenced ELR. *)
CleanCandidates ==
    LET inIsr == {r \in isr : Serving(r)}
    IN IF inIsr # {} THEN inIsr ELSE {r \in elr : Serving(r)}

(* The controller elects c; an ELR or unclean leader starts a new ISR {c}. *)
Elect(c, newIsr) ==
    /\ leaderEpoch < MaxEpoch
    /\ leader' = c
    /\ leaderEpoch' = leaderEpoch + 1
    /\ isr' = IF c \in newIsr THEN newIsr ELSE {c}
    /\ elr' = IF c \in newIsr THEN ElrAfter(newIsr, isr \ newIsr) \ {c}
              ELSE IF c \in elr THEN elr \ {c} ELSE {}
    /\ deposed' = [deposed EXCEPT ![c] = 0]

(* The broker session expires: the controller fences r and takes it out of *)
(* the ISR (before KIP-966 not the last member); a fenced leader leaves the *)
(* partition offline until ElectLeader. The process may still run (its      *)
(* heartbeats were lost): a leader that runs is deposed, and has not heard. *)
FenceBroker(r) ==
    /\ ~fenced[r]
    /\ fenced' = [fenced EXCEPT ![r] = TRUE]
    /\ deposed' = IF alive[r] /\ leader = r THEN [deposed EXCEPT ![r] = leaderEpoch]
                  ELSE deposed
    /\ LET newIsr == IF ~Kip966 /\ isr = {r} THEN isr ELSE isr \ {r} IN
       /\ isr' = newIsr
       /\ elr' = ElrAfter(newIsr, {r})
    /\ leader' = IF leader = r THEN None ELSE leader
    /\ UNCHANGED <<log, flushed, alive, lostData, leaderEpoch, acked>>
    /\ TrackPartitionChange

(* A fenced broker restarts and registers with a new broker epoch; with     *)
(* KIP-966 it reports an unclean shutdown and the controller drops it from  *)
(* the ISR and the ELR.                                                     *)
RegisterBroker(r) ==
    /\ ~alive[r] /\ fenced[r]
    /\ alive' = [alive EXCEPT ![r] = TRUE]
    /\ fenced' = [fenced EXCEPT ![r] = FALSE]
    /\ lostData' = [lostData EXCEPT ![r] = FALSE]
    /\ IF Kip966 /\ lostData[r]
       THEN /\ isr' = isr \ {r}
            /\ elr' = elr \ {r}
       ELSE UNCHANGED <<isr, elr>>
    /\ alterPartition' =
         {[q EXCEPT !.stalePartition = @ \/ <<isr', elr'>> # <<isr, elr>>,
                    !.staleBroker = @ \/ q.replica = r] : q \in alterPartition}
    /\ UNCHANGED <<log, flushed, leader, leaderEpoch, acked, deposed>>

(* A fenced broker that runs heartbeats again: the controller unfences it *)
(* with no registration (its broker epoch and log are the same); it joins  *)
(* an ISR again only through the leader's AlterPartition.                  *)
UnfenceBroker(r) ==
    /\ alive[r] /\ fenced[r]
    /\ fenced' = [fenced EXCEPT ![r] = FALSE]
    /\ UNCHANGED <<log, flushed, alive, lostData, leader, leaderEpoch, isr, elr, acked,
                   alterPartition, deposed>>

(* A deposed leader still takes produce requests at its old epoch, until it *)
(* learns: its records are not committed (its HW cannot pass them without  *)
(* its followers, which fetch from the new leader) and its followers drop  *)
(* them when they truncate.                                                *)
DeposedAppend(r) ==
    /\ deposed[r] > 0 /\ alive[r]
    /\ Len(log[r]) < MaxLogSize
    /\ log' = [log EXCEPT ![r] = Append(@, deposed[r])]
    /\ UNCHANGED <<flushed, alive, fenced, lostData, leader, leaderEpoch, isr, elr, acked,
                   alterPartition, deposed>>

(* The deposed leader learns the controller's state (its metadata arrives). *)
LearnLeader(r) ==
    /\ deposed[r] > 0
    /\ deposed' = [deposed EXCEPT ![r] = 0]
    /\ UNCHANGED <<log, flushed, alive, fenced, lostData, leader, leaderEpoch, isr, elr, acked,
                   alterPartition>>

(* An offline partition gets a leader once a candidate is back. *)
ElectLeader ==
    /\ leader = None
    /\ \/ \E c \in CleanCandidates : Elect(c, isr)
       \/ /\ UncleanElection
          /\ CleanCandidates = {}
          /\ \E c \in Replicas : Serving(c) /\ Elect(c, {})
    /\ UNCHANGED <<log, flushed, alive, fenced, lostData, acked>>
    /\ TrackPartitionChange

(* The leader sends AlterPartition: drop a follower, or add one that has   *)
(* caught up (with that replica's broker epoch). Kafka drops a follower     *)
(* that has not fetched up to the leader's log end for                      *)
(* replica.lag.time.max.ms: one that lags, is down, or is cut off while its *)
(* log is complete (the leader cannot tell them apart; trace validation     *)
(* found the last, which this action did not allow).                       *)
SendAlterPartition(f) ==
    /\ leader # None /\ Serving(leader)
    /\ alterPartition = {}
    /\ f # leader
    /\ \/ f \in isr
       \/ f \notin isr /\ Serving(f) /\ log[f] = log[leader]
    /\ alterPartition' = {[replica |-> f,
                           newIsr |-> IF f \in isr THEN isr \ {f} ELSE isr \cup {f},
                           stalePartition |-> FALSE, staleBroker |-> FALSE]}
    /\ UNCHANGED <<log, flushed, alive, fenced, lostData, leader, leaderEpoch, isr, elr, acked,
                   deposed>>

(* The controller applies AlterPartition unless its partition epoch is     *)
(* stale or (KIP-903) the broker epoch of the replica it adds is stale.    *)
HandleAlterPartition ==
    /\ alterPartition # {}
    /\ LET q == CHOOSE x \in alterPartition : TRUE IN
       IF ~q.stalePartition /\ (Kip903 => ~q.staleBroker)
       THEN /\ isr' = q.newIsr
            /\ elr' = IF q.replica \in q.newIsr
                      THEN (IF Cardinality(q.newIsr) >= MinIsr THEN {} ELSE elr \ {q.replica})
                      ELSE ElrAfter(q.newIsr, {q.replica})
       ELSE UNCHANGED <<isr, elr>>
    /\ alterPartition' = {}
    /\ UNCHANGED <<log, flushed, alive, fenced, lostData, leader, leaderEpoch, acked, deposed>>

Next ==
    \/ LeaderAppend
    \/ AdvanceHighWatermark
    \/ ElectLeader
    \/ HandleAlterPartition
    \/ \E r \in Replicas :
        \/ FollowerFetch(r)
        \/ Flush(r)
        \/ CleanShutdown(r)
        \/ UncleanShutdown(r)
        \/ FenceBroker(r)
        \/ RegisterBroker(r)
        \/ UnfenceBroker(r)
        \/ DeposedAppend(r)
        \/ LearnLeader(r)
        \/ SendAlterPartition(r)

Spec == Init /\ [][Next]_vars

----------------------------------------------------------------------------
TypeOK ==
    /\ \A r \in Replicas : log[r] \in Seq(1..MaxEpoch) /\ flushed[r] \in 0..Len(log[r])
    /\ leader \in Replicas \cup {None}
    /\ isr \subseteq Replicas /\ elr \subseteq Replicas
    /\ isr \cap elr = {}
    /\ deposed \in [Replicas -> 0..MaxEpoch]

(* A serving leader holds every acknowledged record: an acks=all write *)
(* survives every failure the protocol is meant to handle.            *)
NoAckedRecordLost ==
    (leader # None /\ Serving(leader)) => \A rec \in acked : HasRecord(leader, rec)

=============================================================================
