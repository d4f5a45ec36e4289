----------------------------- MODULE Delivery -----------------------------
(***************************************************************************)
(* Delivery semantics of one partition, end to end: a producer with acks   *)
(* 0, 1 or all (-1), retries and the idempotent producer (producer id and  *)
(* epoch fixed, sequence numbers, a window of the last batches the broker  *)
(* remembers); a consumer that commits its offset before or after          *)
(* processing (at-most-once, at-least-once).                               *)
(*                                                                         *)
(* Batch s carries sequence number s and is the producer's s-th send. The  *)
(* partition is its leader's log plus a high watermark (hw): the prefix    *)
(* the ISR holds. Replication is Replication.tla's concern; here a leader  *)
(* failover keeps exactly the committed prefix and the new leader rebuilds *)
(* producer state from its log. Requests and responses can be delayed,     *)
(* lost or answered after the producer timed out, and a timed-out request  *)
(* may still be appended: that is where duplicates come from.              *)
(*                                                                         *)
(* A producer that gave up a batch may take a fresh producer id (the Java *)
(* producer bumps its epoch): its next batch starts a new sequence, while  *)
(* batches sent under the old id keep it on their retries.                 *)
(*                                                                         *)
(* Switches: Acks ("0", "1", "all"); Retries; Idempotence (KIP-98: retries        *)
(* without it duplicate batches); CommitBeforeProcess (at-most-once).      *)
(***************************************************************************)
EXTENDS Integers, Sequences, FiniteSets

CONSTANTS
    NumBatches,           \* batches the application sends: 0..NumBatches-1
    MaxInFlight,          \* max.in.flight.requests.per.connection
    Window,               \* batches whose sequence the broker remembers (5 in Kafka)
    MaxFailovers,         \* bound on leader failovers
    MaxProducerIds,       \* bound on the producer ids the producer takes (1: no fresh one)
    Acks,                 \* acks: "0", "1" or "all"
    Retries,              \* retries > 0
    Idempotence,          \* enable.idempotence
    CommitBeforeProcess   \* the consumer commits before it processes

VARIABLES
    log,           \* sequence numbers of the appended batches, by offset
    hw,            \* high watermark: offsets below it are committed
    nextSeq,       \* the producer's next sequence number
    outstanding,   \* sent batches the producer has no answer for
    requests,      \* produce requests in flight
    responses,     \* successful produce responses in flight
    acked,         \* batches the application was told succeeded
    failovers,     \* leader failovers so far
    idStart,       \* idStart[p]: the first batch sent under the producer's p-th producer id
    position,      \* consumer: next offset to fetch
    holding,       \* consumer: offset fetched and not yet finished, or -1
    steps,         \* consumer: how many of {process, commit} it did for `holding`
    committed,     \* the group's committed offset
    processed      \* offsets the application has processed

vars == <<log, hw, nextSeq, outstanding, requests, responses, acked, failovers, idStart,
          position, holding, steps, committed, processed>>
producerVars == <<nextSeq, outstanding, requests, responses, acked, idStart>>
consumerVars == <<position, holding, steps, committed, processed>>

InLog(s) == \E i \in 1..Len(log) : log[i] = s
Committed(s) == \E i \in 1..hw : log[i] = s
LastSeq == IF log = <<>> THEN -1 ELSE log[Len(log)]

(* The producer id batch s was sent under (an index into idStart). *)
IdOf(s) == CHOOSE p \in 1..Len(idStart) :
               /\ idStart[p] <= s
               /\ p = Len(idStart) \/ s < idStart[p + 1]
(* The last batch of producer id p in the log (before its first: none yet). *)
LastSeqOf(p) ==
    LET mine == {i \in 1..Len(log) : IdOf(log[i]) = p}
    IN IF mine = {} THEN idStart[p] - 1
       ELSE log[CHOOSE i \in mine : \A j \in mine : j <= i]

(* ProducerStateManager.check_sequence: each producer id has its sequence. *)
CheckSequence(s) ==
    LET last == LastSeqOf(IdOf(s)) IN
    IF ~Idempotence THEN "append"
    ELSE IF s = last + 1 THEN "append"
    ELSE IF InLog(s) /\ s > last - Window THEN "duplicate"
    ELSE "out_of_order"

----------------------------------------------------------------------------
Init ==
    /\ log = <<>> /\ hw = 0
    /\ nextSeq = 0 /\ outstanding = {} /\ requests = {} /\ responses = {}
    /\ acked = {} /\ failovers = 0 /\ idStart = <<0>>
    /\ position = 0 /\ holding = -1 /\ steps = 0 /\ committed = 0 /\ processed = {}

(* The producer sends the next batch; with acks=0 it counts as sent. *)
Send ==
    /\ nextSeq < NumBatches
    /\ Cardinality(outstanding) < MaxInFlight
    /\ nextSeq' = nextSeq + 1
    /\ requests' = requests \cup {nextSeq}
    /\ IF Acks = "0"
       THEN /\ acked' = acked \cup {nextSeq}
            /\ UNCHANGED outstanding
       ELSE /\ outstanding' = outstanding \cup {nextSeq}
            /\ UNCHANGED acked
    /\ UNCHANGED <<log, hw, responses, failovers, idStart>> /\ UNCHANGED consumerVars

(* The leader handles a produce request (Replica.append_as_leader). *)
HandleProduce(s) ==
    /\ s \in requests
    /\ requests' = requests \ {s}
    /\ LET verdict == CheckSequence(s) IN
       /\ log' = IF verdict = "append" THEN Append(log, s) ELSE log
       /\ responses' = IF \/ Acks = "1" /\ verdict # "out_of_order"
                          \/ Acks = "all" /\ verdict = "duplicate" /\ Committed(s)
                       THEN responses \cup {s} ELSE responses
    /\ UNCHANGED <<hw, nextSeq, outstanding, acked, failovers, idStart>>
    /\ UNCHANGED consumerVars

(* The ISR catches up; with acks=all the leader answers committed batches. *)
AdvanceHighWatermark ==
    /\ hw < Len(log)
    /\ hw' = hw + 1
    /\ responses' = IF Acks = "all" THEN responses \cup {log[hw + 1]} ELSE responses
    /\ UNCHANGED <<log, nextSeq, outstanding, requests, acked, failovers, idStart>>
    /\ UNCHANGED consumerVars

(* A response reaches the producer. *)
ReceiveResponse(s) ==
    /\ s \in responses
    /\ responses' = responses \ {s}
    /\ acked' = IF s \in outstanding THEN acked \cup {s} ELSE acked
    /\ outstanding' = outstanding \ {s}
    /\ UNCHANGED <<log, hw, nextSeq, requests, failovers, idStart>> /\ UNCHANGED consumerVars

(* request.timeout.ms expires: resend the same batch, or give up. *)
Timeout(s) ==
    /\ s \in outstanding
    /\ s \notin requests
    /\ IF Retries
       THEN /\ requests' = requests \cup {s}
            /\ UNCHANGED outstanding
       ELSE /\ outstanding' = outstanding \ {s}
            /\ UNCHANGED requests
    /\ UNCHANGED <<log, hw, nextSeq, responses, acked, failovers, idStart>>
    /\ UNCHANGED consumerVars

(* The network drops a request or a response. *)
Drop ==
    /\ \/ \E s \in requests : requests' = requests \ {s} /\ UNCHANGED responses
       \/ \E s \in responses : responses' = responses \ {s} /\ UNCHANGED requests
    /\ UNCHANGED <<log, hw, nextSeq, outstanding, acked, failovers, idStart>>
    /\ UNCHANGED consumerVars

(* The leader fails; the new leader from the ISR has the committed prefix, *)
(* and perhaps more of the old leader's log (what it had fetched).        *)
LeaderFailover ==
    /\ failovers < MaxFailovers
    /\ failovers' = failovers + 1
    /\ \E k \in hw..Len(log) : log' = SubSeq(log, 1, k)
    /\ UNCHANGED <<hw, nextSeq, outstanding, requests, responses, acked, idStart>>
    /\ UNCHANGED consumerVars

(* The producer takes a fresh producer id (after giving up a batch): its   *)
(* next batch is sequence 0 of the new id.                                 *)
NewProducerId ==
    /\ Len(idStart) < MaxProducerIds
    /\ idStart' = Append(idStart, nextSeq)
    /\ UNCHANGED <<log, hw, nextSeq, outstanding, requests, responses, acked, failovers>>
    /\ UNCHANGED consumerVars

(* The consumer fetches the next committed record. *)
Poll ==
    /\ holding = -1
    /\ position < hw
    /\ holding' = position /\ steps' = 0
    /\ UNCHANGED <<position, committed, processed>>
    /\ UNCHANGED <<log, hw, failovers>> /\ UNCHANGED producerVars

(* Process and commit the held record, in the configured order. *)
Process ==
    /\ holding # -1
    /\ steps = IF CommitBeforeProcess THEN 1 ELSE 0
    /\ processed' = processed \cup {holding}
    /\ IF CommitBeforeProcess
       THEN holding' = -1 /\ position' = holding + 1 /\ steps' = 0
       ELSE steps' = 1 /\ UNCHANGED <<holding, position>>
    /\ UNCHANGED committed
    /\ UNCHANGED <<log, hw, failovers>> /\ UNCHANGED producerVars

CommitOffset ==
    /\ holding # -1
    /\ steps = IF CommitBeforeProcess THEN 0 ELSE 1
    /\ committed' = holding + 1
    /\ IF CommitBeforeProcess
       THEN steps' = 1 /\ UNCHANGED <<holding, position>>
       ELSE holding' = -1 /\ position' = holding + 1 /\ steps' = 0
    /\ UNCHANGED processed
    /\ UNCHANGED <<log, hw, failovers>> /\ UNCHANGED producerVars

(* The consumer crashes and resumes from the committed offset. *)
ConsumerRestart ==
    /\ holding # -1
    /\ holding' = -1 /\ steps' = 0 /\ position' = committed
    /\ UNCHANGED <<committed, processed>>
    /\ UNCHANGED <<log, hw, failovers>> /\ UNCHANGED producerVars

Next ==
    \/ Send \/ AdvanceHighWatermark \/ Drop \/ LeaderFailover \/ NewProducerId
    \/ Poll \/ Process \/ CommitOffset \/ ConsumerRestart
    \/ \E s \in 0..(NumBatches - 1) : HandleProduce(s) \/ ReceiveResponse(s) \/ Timeout(s)

Spec == Init /\ [][Next]_vars

----------------------------------------------------------------------------
TypeOK ==
    /\ log \in Seq(0..(NumBatches - 1))
    /\ hw \in 0..Len(log)
    /\ outstanding \subseteq 0..(NumBatches - 1)
    /\ idStart \in Seq(0..NumBatches)

(* No batch is appended twice. *)
NoDuplicateAppends ==
    \A i, j \in 1..Len(log) : log[i] = log[j] => i = j

(* Every batch the producer counts as delivered is in the log (or, for *)
(* acks=0, still on its way there).                                     *)
NoAckedRecordLost == \A s \in acked : InLog(s) \/ s \in requests

(* Every record below the committed offset was processed, or is the one *)
(* the live consumer holds right now.                                    *)
NoRecordSkipped == \A o \in 0..(committed - 1) : o \in processed \/ o = holding

=============================================================================
