------------------------- MODULE TraceDelivery -------------------------
(***************************************************************************)
(* Trace validation of Delivery.tla (the idempotent producer, acks=all,   *)
(* retries): the behaviours of the spec that follow the partition         *)
(* leader's recorded events step by step, as TraceReplication.tla does    *)
(* for Replication.tla.                                                    *)
(*                                                                         *)
(* TraceData (refka/spec_trace_delivery.py) defines Trace, a sequence of   *)
(* events [action, seq, logLen, hw] (-1: none): seq is the batch's         *)
(* sequence number (Delivery.tla's batch s), logLen the length of the      *)
(* spec's log (in batches) after the step, hw the high watermark (in       *)
(* batches) after it. The mapping (docs/spec.md):                          *)
(*  - LeaderAppend of the producer's batch s: Send (its first attempt) or  *)
(*    Timeout (a retry), then HandleProduce(s) that appends it;            *)
(*  - HandleProduce "duplicate": Timeout, then HandleProduce(s) that       *)
(*    appends nothing;                                                     *)
(*  - AdvanceHighWatermark past k more batches: k AdvanceHighWatermark;    *)
(*  - AcknowledgeProduce of batch s: its answer is on its way (s in        *)
(*    responses); the last one of s is ReceiveResponse(s), and one the     *)
(*    producer retried after is lost (Drop) before the retry's Timeout;    *)
(*  - BecomeLeader at a new epoch: LeaderFailover, the new leader's log    *)
(*    the first logLen batches.                                            *)
(*  - the first batch of a producer id after the first: NewProducerId      *)
(*    before its Send (batch numbers go on: seq is its batch number).      *)
(* The consumer's steps are no events here (ConsumerGroup.tla's ground).   *)
(***************************************************************************)
EXTENDS Delivery, TraceData

VARIABLE pos

traceVars == <<vars, pos>>

IsEvent(a) == pos <= Len(Trace) /\ Trace[pos].action = a
Ev == Trace[pos]

TraceSend ==
    /\ IsEvent("Send")
    /\ nextSeq = Ev.seq
    /\ Send

TraceTimeout ==
    /\ IsEvent("Timeout")
    /\ Timeout(Ev.seq)
    /\ Ev.seq \in requests'

TraceHandleProduce ==
    /\ IsEvent("HandleProduce")
    /\ HandleProduce(Ev.seq)
    /\ Len(log') = Ev.logLen
    /\ Ev.logLen > Len(log) => log'[Ev.logLen] = Ev.seq

TraceAdvanceHighWatermark ==
    /\ IsEvent("AdvanceHighWatermark")
    /\ AdvanceHighWatermark
    /\ hw' = Ev.hw

(* An answer of batch s leaves the leader (the spec's responses hold it). *)
TraceAcknowledge ==
    /\ IsEvent("Acknowledge")
    /\ Ev.seq \in responses
    /\ UNCHANGED vars

TraceDropResponse ==
    /\ IsEvent("DropResponse")
    /\ Ev.seq \in responses
    /\ responses' = responses \ {Ev.seq}
    /\ Drop

TraceReceiveResponse ==
    /\ IsEvent("ReceiveResponse")
    /\ ReceiveResponse(Ev.seq)
    /\ Ev.seq \in acked'

TraceLeaderFailover ==
    /\ IsEvent("LeaderFailover")
    /\ LeaderFailover
    /\ Len(log') = Ev.logLen

TraceNewProducerId ==
    /\ IsEvent("NewProducerId")
    /\ nextSeq = Ev.seq
    /\ NewProducerId

TraceInit == Init /\ pos = 1

TraceNext ==
    /\ \/ TraceSend
       \/ TraceTimeout
       \/ TraceHandleProduce
       \/ TraceAdvanceHighWatermark
       \/ TraceAcknowledge
       \/ TraceDropResponse
       \/ TraceReceiveResponse
       \/ TraceLeaderFailover
       \/ TraceNewProducerId
    /\ pos' = pos + 1

TraceSpec == TraceInit /\ [][TraceNext]_traceVars

(* Violated exactly when the whole trace was matched (accepted). *)
TraceNotAccepted == pos <= Len(Trace)

(* Set by `refka spec validate` to the first unmatched event, to print the state before it. *)
TraceBeforeStop == TraceStopAt = 0 \/ pos < TraceStopAt
=============================================================================
