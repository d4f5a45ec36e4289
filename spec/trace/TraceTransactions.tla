----------------------- MODULE TraceTransactions -----------------------
(***************************************************************************)
(* Trace validation of Transactions.tla (KIP-890, read_committed): the     *)
(* behaviours of the spec that follow the transaction coordinator's and    *)
(* the partition leader's recorded events step by step, as                 *)
(* TraceReplication.tla does for Replication.tla.                          *)
(*                                                                         *)
(* TraceData (refka/spec_trace_txn.py) defines Trace, a sequence of events *)
(* [action, txn, state, kind, logLen, delivered] (-1, "": none): txn is    *)
(* the spec's transaction (1, 2, ... in the order the producer's           *)
(* transactions add the partition), logLen the length of the spec's log    *)
(* after the step, delivered the consumer's delivered set after it. The    *)
(* mapping (docs/spec.md):                                                  *)
(*  - AddPartitionsToTxn of the partition: BeginTxn;                        *)
(*  - the transaction's first LeaderAppend to the partition: Send, then     *)
(*    HandleProduce that appends it; a later one of the same transaction:   *)
(*    a stuttering step (Transactions.tla's transaction sends one record);  *)
(*  - EndTxn (PrepareCommit, PrepareAbort; a timeout's abort): EndTxn;      *)
(*  - WriteMarker in the partition: WriteMarker; CompleteTxn: a stuttering  *)
(*    step (WriteMarker completed the transaction);                         *)
(*  - ReadCommitted of k log entries: k ConsumerRead steps.                 *)
(***************************************************************************)
EXTENDS Transactions, TraceData

VARIABLE pos

traceVars == <<vars, pos>>

IsEvent(a) == pos <= Len(Trace) /\ Trace[pos].action = a
Ev == Trace[pos]

TraceBeginTxn ==
    /\ IsEvent("BeginTxn")
    /\ BeginTxn
    /\ current' = Ev.txn

TraceSend ==
    /\ IsEvent("Send")
    /\ current = Ev.txn
    /\ Send

TraceHandleProduce ==
    /\ IsEvent("HandleProduce")
    /\ HandleProduce(Ev.txn)
    /\ Len(log') = Ev.logLen

(* A further record of the ongoing transaction: it joins its first one. *)
TraceAppendMore ==
    /\ IsEvent("AppendMore")
    /\ current = Ev.txn
    /\ txnState[current] = "Ongoing"
    /\ Appended(current)
    /\ UNCHANGED vars

TraceEndTxn ==
    /\ IsEvent("EndTxn")
    /\ current = Ev.txn
    /\ EndTxn
    /\ txnState'[current] = Ev.state

TraceWriteMarker ==
    /\ IsEvent("WriteMarker")
    /\ current = Ev.txn
    /\ WriteMarker
    /\ log'[Len(log')].kind = Ev.kind
    /\ Len(log') = Ev.logLen

TraceCompleteTxn ==
    /\ IsEvent("CompleteTxn")
    /\ current = Ev.txn
    /\ txnState[current] = Ev.state
    /\ UNCHANGED vars

TraceConsumerRead ==
    /\ IsEvent("ConsumerRead")
    /\ ConsumerRead
    /\ delivered' = Ev.delivered

TraceInit == Init /\ pos = 1

TraceNext ==
    /\ \/ TraceBeginTxn
       \/ TraceSend
       \/ TraceHandleProduce
       \/ TraceAppendMore
       \/ TraceEndTxn
       \/ TraceWriteMarker
       \/ TraceCompleteTxn
       \/ TraceConsumerRead
    /\ pos' = pos + 1

TraceSpec == TraceInit /\ [][TraceNext]_traceVars

(* Violated exactly when the whole trace was matched (accepted). *)
TraceNotAccepted == pos <= Len(Trace)

(* Set by `refka spec validate` to the first unmatched event, to print the state before it. *)
TraceBeforeStop == TraceStopAt = 0 \/ pos < TraceStopAt
=============================================================================
