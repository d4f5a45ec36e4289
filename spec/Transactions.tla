--------------------------- MODULE Transactions ---------------------------
(***************************************************************************)
(* Exactly-once with one transactional producer and one partition: the     *)
(* transaction coordinator's states (Ongoing, PrepareCommit, PrepareAbort, *)
(* CompleteCommit, CompleteAbort), produce requests that the network can   *)
(* delay, the commit and abort markers the coordinator writes to the       *)
(* partition, the last stable offset (LSO) and a read_committed consumer.  *)
(*                                                                         *)
(* Transaction t sends one record. A log entry says which transaction the  *)
(* broker counted it in (txn) and which one really sent it (origin). The   *)
(* producer commits only after its record was acknowledged; it may abort  *)
(* while the record is still in flight (a request timeout). Abstractions:  *)
(* AddPartitionsToTxn, the transaction log and the coordinator's           *)
(* durability are folded into txnState; the partition is one log with no  *)
(* replication (Replication.tla covers that).                              *)
(*                                                                         *)
(* Switches: ReadCommitted = FALSE is isolation.level=read_uncommitted   *)
(* (reads up to the high watermark, keeps aborted records). Kip890 = FALSE is the protocol before KIP-890: a transaction    *)
(* does not bump the producer epoch and the partition leader does not      *)
(* verify that the transaction is ongoing, so a delayed write from an      *)
(* aborted transaction lands in the next one and is committed with it.     *)
(***************************************************************************)
EXTENDS Naturals, Sequences, FiniteSets

CONSTANTS
    NumTxns,       \* transactions the producer runs: 1..NumTxns
    None,
    Kip890,        \* per-transaction epoch bump and server-side verification
    ReadCommitted  \* isolation.level=read_committed (else read_uncommitted)

VARIABLES
    txnState,   \* txnState[t]: coordinator state, "None" before BeginTxn
    current,    \* the producer's latest transaction (0 before the first)
    requests,   \* transactions whose produce request is in flight
    log,        \* entries [kind |-> "data"|"commit"|"abort", txn, origin]
    position,   \* read_committed consumer: next offset
    delivered   \* origins of the records the consumer returned to the application

vars == <<txnState, current, requests, log, position, delivered>>
Txns == 1..NumTxns

Appended(t) == \E i \in 1..Len(log) : log[i].kind = "data" /\ log[i].origin = t
MarkerAfter(i) ==
    {j \in (i + 1)..Len(log) : log[j].kind # "data" /\ log[j].txn = log[i].txn}

(* The last stable offset: the first record of a still-open transaction. *)
LastStableOffset ==
    LET open == {i \in 1..Len(log) : log[i].kind = "data" /\ MarkerAfter(i) = {}}
    IN IF open = {} THEN Len(log)
       ELSE (CHOOSE i \in open : \A j \in open : i <= j) - 1

----------------------------------------------------------------------------
Init ==
    /\ txnState = [t \in Txns |-> "None"]
    /\ current = 0
    /\ requests = {}
    /\ log = <<>>
    /\ position = 0
    /\ delivered = {}

(* The producer begins the next transaction once the previous completed. *)
BeginTxn ==
    /\ current < NumTxns
    /\ IF current = 0 THEN TRUE ELSE txnState[current] \in {"CompleteCommit", "CompleteAbort"}
    /\ current' = current + 1
    /\ txnState' = [txnState EXCEPT ![current + 1] = "Ongoing"]
    /\ UNCHANGED <<requests, log, position, delivered>>

(* The producer sends the transaction's record. *)
Send ==
    /\ current > 0
    /\ txnState[current] = "Ongoing"
    /\ ~Appended(current) /\ current \notin requests
    /\ requests' = requests \cup {current}
    /\ UNCHANGED <<txnState, current, log, position, delivered>>

(* The partition leader handles a (possibly delayed) produce request. With *)
(* KIP-890 the request carries its transaction's epoch and is rejected     *)
(* unless that transaction is still ongoing; before it, the record is      *)
(* counted in whatever transaction the producer has open now.              *)
HandleProduce(t) ==
    /\ t \in requests
    /\ requests' = requests \ {t}
    /\ IF Kip890 /\ ~(t = current /\ txnState[t] = "Ongoing")
       THEN UNCHANGED log
       ELSE log' = Append(log, [kind |-> "data", txn |-> current, origin |-> t])
    /\ UNCHANGED <<txnState, current, position, delivered>>

(* EndTxn: commit once the record is acknowledged, or abort at any time. *)
EndTxn ==
    /\ current > 0
    /\ txnState[current] = "Ongoing"
    /\ \/ Appended(current) /\ txnState' = [txnState EXCEPT ![current] = "PrepareCommit"]
       \/ txnState' = [txnState EXCEPT ![current] = "PrepareAbort"]
    /\ UNCHANGED <<current, requests, log, position, delivered>>

(* The coordinator writes the marker (WriteTxnMarkers) and completes. *)
WriteMarker ==
    /\ current > 0
    /\ txnState[current] \in {"PrepareCommit", "PrepareAbort"}
    /\ LET commit == txnState[current] = "PrepareCommit" IN
       /\ log' = Append(log, [kind |-> IF commit THEN "commit" ELSE "abort",
                              txn |-> current, origin |-> current])
       /\ txnState' = [txnState EXCEPT ![current] =
                          IF commit THEN "CompleteCommit" ELSE "CompleteAbort"]
    /\ UNCHANGED <<current, requests, position, delivered>>

(* read_committed fetch: only below the LSO; records of aborted           *)
(* transactions and the markers are skipped. read_uncommitted reads up to *)
(* the high watermark (here the log end) and skips only markers.          *)
ConsumerRead ==
    /\ position < IF ReadCommitted THEN LastStableOffset ELSE Len(log)
    /\ LET e == log[position + 1]
           committedTxn == \E j \in MarkerAfter(position + 1) : log[j].kind = "commit"
       IN delivered' = IF e.kind = "data" /\ (committedTxn \/ ~ReadCommitted)
                       THEN delivered \cup {e.origin} ELSE delivered
    /\ position' = position + 1
    /\ UNCHANGED <<txnState, current, requests, log>>

Next ==
    \/ BeginTxn \/ Send \/ EndTxn \/ WriteMarker \/ ConsumerRead
    \/ \E t \in Txns : HandleProduce(t)

Spec == Init /\ [][Next]_vars

----------------------------------------------------------------------------
TypeOK ==
    /\ current \in 0..NumTxns
    /\ requests \subseteq Txns
    /\ delivered \subseteq Txns

(* A read_committed consumer never returns a record whose transaction aborted. *)
ReadCommittedSeesNoAborted ==
    \A t \in delivered : txnState[t] \notin {"PrepareAbort", "CompleteAbort"}

=============================================================================
