---------------------------- MODULE Replication ----------------------------
(***************************************************************************)
(* Replication of one Kafka partition: each replica's log, log end offset, *)
(* high watermark, leader epoch and leader-epoch cache; follower fetch;    *)
(* truncation when a replica becomes a follower; fencing by leader epoch;  *)
(* commit under acks=all.                                                  *)
(*                                                                         *)
(* A record is identified by <<offset, epoch>>: only one replica leads an  *)
(* epoch and a leader never truncates its own log, so the epoch stored at  *)
(* an offset names the record. A log is the sequence of its records'       *)
(* epochs; offset o lives at index o + 1. The leader-epoch cache           *)
(* (LeaderEpochCache, KIP-101) is derived from the log: its entries are    *)
(* the first offset of each epoch, plus the leader's current epoch.        *)
(*                                                                         *)
(* Abstractions: the controller is two variables (ctrlLeader, ctrlEpoch);  *)
(* every replica is in the ISR (ISR changes live in Election.tla); a       *)
(* LeaderAndIsr request is delivered late but never lost; a fetch or an    *)
(* OffsetsForLeaderEpoch round trip is one atomic step; at most one     *)
(* record per fetch. A follower may re-run BecomeFollower at its current   *)
(* epoch: that is a broker restart, which reloads the log and truncates    *)
(* again.                                                                  *)
(*                                                                         *)
(* Historical bugs, each switched on by a constant:                        *)
(*   TruncationMode = "HighWatermark"  truncate to the local HW            *)
(*                                     (before KIP-101)                    *)
(*   TruncationMode = "Kip101"         one OffsetsForLeaderEpoch round     *)
(*                                     (KIP-101, before KIP-279)           *)
(*   FenceEpochs = FALSE               fetch and truncation not fenced by  *)
(*                                     leader epoch (before KIP-320)       *)
(*   AckBeforeIsr = TRUE               acks=all acknowledged on append     *)
(*   Kip207 = FALSE                    a new leader exposes its lagging HW *)
(*                                     (KAFKA-2334, fixed by KIP-207)      *)
(***************************************************************************)
EXTENDS Integers, Sequences, FiniteSets

CONSTANTS
    Replicas,        \* broker ids that host the partition
    None,            \* "no leader"
    MaxLogSize,      \* bound on every log's length
    MaxEpoch,        \* bound on leader epochs
    TruncationMode,  \* "HighWatermark" | "Kip101" | "Kip279"
    FenceEpochs,     \* KIP-320: requests carry the leader epoch and are fenced
    AckBeforeIsr,    \* bug: acknowledge acks=all before the ISR has the record
    Kip207           \* a new leader hides its HW until it reaches its epoch start

VARIABLES
    log,             \* log[r]: sequence of epochs; Replica.log
    highWatermark,   \* highWatermark[r]; Replica.high_watermark
    leaderEpoch,     \* leaderEpoch[r]: the latest epoch r has accepted; Replica.leader_epoch
    leader,          \* leader[r]: whom r follows (r itself when it leads)
    ctrlLeader,      \* controller: the partition leader
    ctrlEpoch,       \* controller: the partition leader epoch
    acked,           \* <<offset, epoch>> of records acknowledged under acks=all
    observedHw       \* the last high watermark a consumer was shown

vars == <<log, highWatermark, leaderEpoch, leader, ctrlLeader, ctrlEpoch, acked, observedHw>>

Min(S) == CHOOSE x \in S : \A y \in S : x <= y
Max(S) == CHOOSE x \in S : \A y \in S : x >= y

LogEndOffset(r) == Len(log[r])
Truncate(lg, o) == SubSeq(lg, 1, o)
HasRecord(r, rec) == rec[1] < Len(log[r]) /\ log[r][rec[1] + 1] = rec[2]
EpochsIn(lg) == {lg[i] : i \in 1..Len(lg)}

(* LeaderEpochCache.end_offset_for on a cache derived from lg: the first   *)
(* offset holding an epoch greater than e, or the log end offset.          *)
EndOffsetOf(lg, e) ==
    LET later == {i \in 1..Len(lg) : lg[i] > e}
    IN IF later = {} THEN Len(lg) ELSE Min(later) - 1

(* The leader's OffsetsForLeaderEpoch answer (KIP-279): the largest epoch  *)
(* <= e it knows and that epoch's end offset; <<-1, -1>> when it has none. *)
LeaderEndOffsetFor(l, e) ==
    LET known == {x \in EpochsIn(log[l]) \cup {leaderEpoch[l]} : x <= e}
    IN IF known = {} THEN <<-1, -1>>
       ELSE LET x == Max(known)
            IN <<x, IF x = leaderEpoch[l] THEN Len(log[l]) ELSE EndOffsetOf(log[l], x)>>

(* KIP-279: repeat OffsetsForLeaderEpoch until follower and leader agree on *)
(* the epoch of the truncation point.                                       *)
RECURSIVE Kip279Offset(_, _)
Kip279Offset(fl, l) ==
    IF fl = <<>> THEN 0
    ELSE LET resp == LeaderEndOffsetFor(l, fl[Len(fl)])
         IN IF resp[1] = -1 THEN 0
            ELSE LET t == Min({resp[2], EndOffsetOf(fl, resp[1]), Len(fl)})
                 IN IF resp[1] \in EpochsIn(fl) \/ t = 0 THEN t
                    ELSE Kip279Offset(Truncate(fl, t), l)

(* KIP-101 as first shipped: one round with the follower's latest epoch;   *)
(* the leader answers with the start of the first larger epoch.            *)
Kip101Offset(fl, l) ==
    IF fl = <<>> THEN 0
    ELSE LET e == fl[Len(fl)]
             leaderEnd == IF e = leaderEpoch[l] THEN Len(log[l]) ELSE EndOffsetOf(log[l], e)
         IN Min({leaderEnd, Len(fl)})

TruncationOffset(f, l, h) ==
    CASE TruncationMode = "HighWatermark" -> h
      [] TruncationMode = "Kip101"        -> Kip101Offset(log[f], l)
      [] TruncationMode = "Kip279"        -> Kip279Offset(log[f], l)

IsLeader(r) == leader[r] = r

(* The first offset of the leader's own epoch (KIP-207). *)
EpochStartOffset(l) == EndOffsetOf(log[l], leaderEpoch[l] - 1)

----------------------------------------------------------------------------
Init ==
    /\ log = [r \in Replicas |-> <<>>]
    /\ highWatermark = [r \in Replicas |-> 0]
    /\ ctrlLeader = CHOOSE r \in Replicas : TRUE
    /\ ctrlEpoch = 1
    /\ leaderEpoch = [r \in Replicas |-> 1]
    /\ leader = [r \in Replicas |-> ctrlLeader]
    /\ acked = {}
    /\ observedHw = 0

(* The controller elects any replica (all are in the ISR): a clean election. *)
ElectLeader(r) ==
    /\ ctrlEpoch < MaxEpoch
    /\ ctrlLeader' = r
    /\ ctrlEpoch' = ctrlEpoch + 1
    /\ UNCHANGED <<log, highWatermark, leaderEpoch, leader, acked, observedHw>>

(* r receives LeaderAndIsr naming it leader. A leader never truncates. *)
BecomeLeader(r) ==
    /\ ctrlLeader = r
    /\ leaderEpoch[r] < ctrlEpoch
    /\ leaderEpoch' = [leaderEpoch EXCEPT ![r] = ctrlEpoch]
    /\ leader' = [leader EXCEPT ![r] = r]
    /\ UNCHANGED <<log, highWatermark, ctrlLeader, ctrlEpoch, acked, observedHw>>

(* f receives LeaderAndIsr naming another leader (or restarts) and truncates *)
(* its log (Replica.truncate_to). Epoch-based truncation asks the leader,    *)
(* which must already lead this epoch when requests are fenced (KIP-320).   *)
(* A restarted f starts from the HW of its checkpoint file (Kafka's         *)
(* replication-offset-checkpoint, written every few seconds): any h up to   *)
(* the HW it had (found by trace validation).                              *)
BecomeFollower(f) ==
    LET l == ctrlLeader IN
    /\ f # l
    /\ TruncationMode # "HighWatermark" =>
         /\ IsLeader(l)
         /\ FenceEpochs => leaderEpoch[l] = ctrlEpoch
    /\ \E h \in 0..highWatermark[f] :
         LET t == TruncationOffset(f, l, h) IN
         /\ log' = [log EXCEPT ![f] = Truncate(@, t)]
         /\ highWatermark' = [highWatermark EXCEPT ![f] = Min({h, t})]
    /\ leaderEpoch' = [leaderEpoch EXCEPT ![f] = ctrlEpoch]
    /\ leader' = [leader EXCEPT ![f] = l]
    /\ UNCHANGED <<ctrlLeader, ctrlEpoch, acked, observedHw>>

(* Replica.append_as_leader: a produce request reaches a replica that leads. *)
LeaderAppend(l) ==
    /\ IsLeader(l)
    /\ Len(log[l]) < MaxLogSize
    /\ log' = [log EXCEPT ![l] = Append(@, leaderEpoch[l])]
    /\ acked' = IF AckBeforeIsr THEN acked \cup {<<Len(log[l]), leaderEpoch[l]>>} ELSE acked
    /\ UNCHANGED <<highWatermark, leaderEpoch, leader, ctrlLeader, ctrlEpoch, observedHw>>

(* A fetch from f to the replica it follows. The leader builds the        *)
(* response and f applies it later (ReplicaFetcher), so it shows the       *)
(* leader as it was at some point: at most one record f lacks (none if it  *)
(* left before the leader appended it) and an HW no larger than the        *)
(* leader's. A caught-up follower's empty fetch still moves its HW. (Found *)
(* by trace validation: a fetch with one record and the leader's current   *)
(* HW rejected traces of the correct reference.)                           *)
FollowerFetch(f) ==
    LET l == leader[f] IN
    /\ l # f
    /\ IsLeader(l)
    /\ FenceEpochs => leaderEpoch[l] = leaderEpoch[f]
    /\ Len(log[f]) <= Len(log[l])
    /\ \E n \in 0..Min({1, Len(log[l]) - Len(log[f])}) :
         LET fetched == log[f] \o SubSeq(log[l], Len(log[f]) + 1, Len(log[f]) + n) IN
         /\ log' = [log EXCEPT ![f] = fetched]
         /\ \E hw \in 0..Min({highWatermark[l], Len(fetched)}) :
              highWatermark' = [highWatermark EXCEPT ![f] = hw]
    /\ UNCHANGED <<leaderEpoch, leader, ctrlLeader, ctrlEpoch, acked, observedHw>>

(* A follower counts toward the HW when its fetches reach l in l's epoch. *)
FollowsLeader(f, l) ==
    /\ leader[f] = l
    /\ FenceEpochs => leaderEpoch[f] = leaderEpoch[l]

(* Replica.maybe_increment_high_watermark: the HW moves to the smallest log *)
(* end offset in the ISR; records below it are acknowledged (acks=all).     *)
AdvanceHighWatermark(l) ==
    /\ IsLeader(l)
    /\ \A f \in Replicas \ {l} : FollowsLeader(f, l)
    /\ LET hw == Min({Len(log[r]) : r \in Replicas}) IN
       /\ hw > highWatermark[l]
       /\ highWatermark' = [highWatermark EXCEPT ![l] = hw]
       /\ acked' = acked \cup {<<o, log[l][o + 1]>> : o \in highWatermark[l]..(hw - 1)}
    /\ UNCHANGED <<log, leaderEpoch, leader, ctrlLeader, ctrlEpoch, observedHw>>

(* A consumer learns the HW (ListOffsets latest, or a fetch) from the leader. *)
ConsumerReadHighWatermark(l) ==
    /\ IsLeader(l)
    /\ leaderEpoch[l] = ctrlEpoch
    /\ Kip207 => highWatermark[l] >= EpochStartOffset(l)
    /\ observedHw' = highWatermark[l]
    /\ UNCHANGED <<log, highWatermark, leaderEpoch, leader, ctrlLeader, ctrlEpoch, acked>>

Next ==
    \E r \in Replicas :
        \/ ElectLeader(r)
        \/ BecomeLeader(r)
        \/ BecomeFollower(r)
        \/ LeaderAppend(r)
        \/ FollowerFetch(r)
        \/ AdvanceHighWatermark(r)
        \/ ConsumerReadHighWatermark(r)

Spec == Init /\ [][Next]_vars

----------------------------------------------------------------------------
TypeOK ==
    /\ log \in [Replicas -> Seq(1..MaxEpoch)]
    /\ highWatermark \in [Replicas -> 0..MaxLogSize]
    /\ leaderEpoch \in [Replicas -> 1..MaxEpoch]
    /\ leader \in [Replicas -> Replicas \cup {None}]
    /\ ctrlLeader \in Replicas
    /\ ctrlEpoch \in 1..MaxEpoch

(* Two logs that hold the same record hold the same records before it. *)
LogMatching ==
    \A r1, r2 \in Replicas :
        \A i \in 1..Min({Len(log[r1]), Len(log[r2])}) :
            log[r1][i] = log[r2][i] => \A j \in 1..i : log[r1][j] = log[r2][j]

(* A replica that has taken over as the controller's leader holds every *)
(* record acknowledged under acks=all.                                  *)
LeaderCompleteness ==
    \A r \in Replicas :
        (IsLeader(r) /\ r = ctrlLeader /\ leaderEpoch[r] = ctrlEpoch)
            => \A rec \in acked : HasRecord(r, rec)

(* The high watermark a consumer sees never moves backwards. *)
HighWatermarkMonotonic == [][observedHw' >= observedHw]_vars

=============================================================================
