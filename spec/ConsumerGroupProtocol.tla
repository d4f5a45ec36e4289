------------------------- MODULE ConsumerGroupProtocol -------------------------
(***************************************************************************)
(* The KIP-848 consumer group protocol (group.protocol=consumer): the      *)
(* coordinator bumps the group epoch on every membership change, computes  *)
(* a target assignment for that epoch (the assignment epoch), and moves    *)
(* each member towards it one ConsumerGroupHeartbeat at a time             *)
(* (Kafka's CurrentAssignmentBuilder):                                     *)
(*   - a member that owns partitions it must give up first gets an         *)
(*     assignment without them and keeps its member epoch                  *)
(*     (UNREVOKED_PARTITIONS); one whose heartbeat reports it no longer    *)
(*     owns them moves on at once;                                         *)
(*   - once its heartbeat no longer reports them as owned, it moves to the *)
(*     assignment epoch and receives its new partitions, except those      *)
(*     another member still holds (assigned or pending revocation): they   *)
(*     come later (UNRELEASED_PARTITIONS), else it is STABLE.              *)
(* A member whose session expires leaves at once and its partitions are    *)
(* free; the member itself does not know (a zombie) until its next         *)
(* heartbeat answers UNKNOWN_MEMBER_ID / FENCED_MEMBER_EPOCH, when it      *)
(* drops its partitions (onPartitionsLost) and may join again at epoch 0.  *)
(*                                                                         *)
(* Each member's own view (its epoch, the partitions it owns, a response   *)
(* not yet applied) is separate from the coordinator's. A heartbeat is one *)
(* atomic request/response; the member applies the response later          *)
(* (ApplyResponse) and only then sends its next heartbeat, so the          *)
(* coordinator accepts its epoch (current or previous) as long as it is a  *)
(* member. Abstractions: the assignor is any function of the partitions to *)
(* the members (uniform and range are instances); subscriptions are all    *)
(* the same; static membership, regexes and commits are not modelled.      *)
(*                                                                         *)
(* Switch: WaitForRevocation = FALSE gives a member its new target         *)
(* partitions at once, even while their previous owner has not yet         *)
(* acknowledged their revocation.                                          *)
(***************************************************************************)
EXTENDS Naturals, FiniteSets

CONSTANTS
    Members,            \* consumer instances (member ids)
    Partitions,         \* partitions of the subscribed topics
    None,
    MaxEpoch,           \* bound on the group epoch
    WaitForRevocation   \* assign a partition only once no other member holds it

VARIABLES
    groupEpoch,     \* coordinator: bumped on every membership change
    targetEpoch,    \* coordinator: the assignment epoch (group epoch of `target`)
    target,         \* coordinator: partition -> member, the target assignment
    group,          \* coordinator: current members
    cEpoch,         \* cEpoch[m]: coordinator's member epoch of m
    cState,         \* cState[m]: "STABLE" | "UNREVOKED_PARTITIONS" | "UNRELEASED_PARTITIONS"
    cAssigned,      \* cAssigned[m]: partitions assigned to m (sent in responses)
    cRevoking,      \* cRevoking[m]: partitions pending revocation by m
    mIn,            \* mIn[m]: the member believes it is in the group
    mEpoch,         \* mEpoch[m]: the member epoch m believes it has
    mOwned,         \* mOwned[m]: the partitions m owns (consumes from)
    mPending        \* mPending[m]: a response not yet applied, or None

vars == <<groupEpoch, targetEpoch, target, group, cEpoch, cState, cAssigned, cRevoking,
          mIn, mEpoch, mOwned, mPending>>
memberVars == <<mIn, mEpoch, mOwned, mPending>>
coordMemberVars == <<cEpoch, cState, cAssigned, cRevoking>>

(* Partitions some other current member holds: assigned or pending revocation. *)
HeldByOthers(m) == UNION {cAssigned[o] \cup cRevoking[o] : o \in group \ {m}}

TargetOf(m) == {p \in Partitions : target[p] = m}

----------------------------------------------------------------------------
Init ==
    /\ groupEpoch = 0
    /\ targetEpoch = 0
    /\ target = [p \in Partitions |-> None]
    /\ group = {}
    /\ cEpoch = [m \in Members |-> 0]
    /\ cState = [m \in Members |-> "STABLE"]
    /\ cAssigned = [m \in Members |-> {}]
    /\ cRevoking = [m \in Members |-> {}]
    /\ mIn = [m \in Members |-> FALSE]
    /\ mEpoch = [m \in Members |-> 0]
    /\ mOwned = [m \in Members |-> {}]
    /\ mPending = [m \in Members |-> None]

(* A heartbeat with member epoch 0: m joins, the group epoch is bumped. *)
Join(m) ==
    /\ ~mIn[m]
    /\ groupEpoch < MaxEpoch
    /\ groupEpoch' = groupEpoch + 1
    /\ group' = group \cup {m}
    /\ cEpoch' = [cEpoch EXCEPT ![m] = 0]
    /\ cState' = [cState EXCEPT ![m] = "STABLE"]
    /\ cAssigned' = [cAssigned EXCEPT ![m] = {}]
    /\ cRevoking' = [cRevoking EXCEPT ![m] = {}]
    /\ mIn' = [mIn EXCEPT ![m] = TRUE]
    /\ mEpoch' = [mEpoch EXCEPT ![m] = 0]
    /\ mPending' = [mPending EXCEPT ![m] = None]
    /\ UNCHANGED <<targetEpoch, target, mOwned>>

(* The assignor runs for the new group epoch. *)
ComputeTargetAssignment ==
    /\ targetEpoch < groupEpoch
    /\ targetEpoch' = groupEpoch
    /\ IF group = {}
       THEN target' = [p \in Partitions |-> None]
       ELSE \E a \in [Partitions -> group] : target' = a
    /\ UNCHANGED <<groupEpoch, group, coordMemberVars, memberVars>>

(* The coordinator's side of a heartbeat from a member (CurrentAssignmentBuilder). *)
Reconcile(m) ==
    LET owned == mOwned[m]
        revoked == cRevoking[m] \cap owned = {}
        newTarget == cEpoch[m] < targetEpoch
        keep == cAssigned[m] \cap TargetOf(m)
        toRevoke == cAssigned[m] \ TargetOf(m)
        wanted == TargetOf(m) \ cAssigned[m]
        free == IF WaitForRevocation THEN wanted \ HeldByOthers(m) ELSE wanted
    IN
    IF ~revoked
    THEN UNCHANGED coordMemberVars                            \* still UNREVOKED_PARTITIONS
    ELSE IF newTarget /\ toRevoke \cap owned # {}
    THEN /\ cAssigned' = [cAssigned EXCEPT ![m] = keep]
         /\ cRevoking' = [cRevoking EXCEPT ![m] = toRevoke]
         /\ cState' = [cState EXCEPT ![m] = "UNREVOKED_PARTITIONS"]
         /\ UNCHANGED cEpoch
    ELSE /\ cEpoch' = [cEpoch EXCEPT ![m] = targetEpoch]
         /\ cAssigned' = [cAssigned EXCEPT ![m] = keep \cup free]
         /\ cRevoking' = [cRevoking EXCEPT ![m] = {}]
         /\ cState' = [cState EXCEPT ![m] =
                         IF free = wanted THEN "STABLE" ELSE "UNRELEASED_PARTITIONS"]

(* ConsumerGroupHeartbeat from m, reporting the partitions it owns. A    *)
(* removed member is fenced: it loses its partitions and is out.         *)
Heartbeat(m) ==
    /\ mIn[m]
    /\ mPending[m] = None
    /\ IF m \in group
       THEN /\ Reconcile(m)
            /\ mPending' = [mPending EXCEPT ![m] =
                              [epoch |-> cEpoch'[m], parts |-> cAssigned'[m]]]
            /\ UNCHANGED <<mIn, mEpoch, mOwned>>
       ELSE /\ mIn' = [mIn EXCEPT ![m] = FALSE]
            /\ mEpoch' = [mEpoch EXCEPT ![m] = 0]
            /\ mOwned' = [mOwned EXCEPT ![m] = {}]
            /\ UNCHANGED <<mPending, coordMemberVars>>
    /\ UNCHANGED <<groupEpoch, targetEpoch, target, group>>

(* The member applies a response: it revokes what the assignment no longer *)
(* holds (onPartitionsRevoked), then takes the rest (onPartitionsAssigned). *)
ApplyResponse(m) ==
    /\ mPending[m] # None
    /\ mEpoch' = [mEpoch EXCEPT ![m] = mPending[m].epoch]
    /\ mOwned' = [mOwned EXCEPT ![m] = mPending[m].parts]
    /\ mPending' = [mPending EXCEPT ![m] = None]
    /\ UNCHANGED <<mIn, groupEpoch, targetEpoch, target, group, coordMemberVars>>

(* An eager (classic) member gives up everything it owns before it rejoins;  *)
(* its next heartbeat reports that it owns nothing.                          *)
RevokeAll(m) ==
    /\ mIn[m] /\ mPending[m] = None /\ mOwned[m] # {}
    /\ mOwned' = [mOwned EXCEPT ![m] = {}]
    /\ UNCHANGED <<mIn, mEpoch, mPending, groupEpoch, targetEpoch, target, group,
                   coordMemberVars>>

RemoveMember(m) ==
    /\ groupEpoch' = groupEpoch + 1
    /\ group' = group \ {m}
    /\ cAssigned' = [cAssigned EXCEPT ![m] = {}]
    /\ cRevoking' = [cRevoking EXCEPT ![m] = {}]
    /\ UNCHANGED <<targetEpoch, target, cEpoch, cState>>

(* A heartbeat with member epoch -1: m gives up its partitions and leaves. *)
Leave(m) ==
    /\ m \in group /\ mIn[m] /\ mPending[m] = None
    /\ groupEpoch < MaxEpoch
    /\ RemoveMember(m)
    /\ mIn' = [mIn EXCEPT ![m] = FALSE]
    /\ mEpoch' = [mEpoch EXCEPT ![m] = 0]
    /\ mOwned' = [mOwned EXCEPT ![m] = {}]
    /\ UNCHANGED mPending

(* group.consumer.session.timeout.ms passes without a heartbeat from m.  *)
SessionExpired(m) ==
    /\ m \in group
    /\ groupEpoch < MaxEpoch
    /\ RemoveMember(m)
    /\ UNCHANGED memberVars

Next ==
    \/ ComputeTargetAssignment
    \/ \E m \in Members :
        \/ Join(m)
        \/ Heartbeat(m)
        \/ ApplyResponse(m)
        \/ RevokeAll(m)
        \/ Leave(m)
        \/ SessionExpired(m)

Spec == Init /\ [][Next]_vars

----------------------------------------------------------------------------
TypeOK ==
    /\ groupEpoch \in 0..MaxEpoch
    /\ targetEpoch \in 0..groupEpoch
    /\ group \subseteq Members
    /\ \A m \in Members :
        /\ cEpoch[m] \in 0..targetEpoch
        /\ cState[m] \in {"STABLE", "UNREVOKED_PARTITIONS", "UNRELEASED_PARTITIONS"}
        /\ cAssigned[m] \cup cRevoking[m] \subseteq Partitions
        /\ mOwned[m] \subseteq Partitions

(* The coordinator never has a partition with two current members at once *)
(* (assigned to one, or pending its revocation).                            *)
CoordinatorAssignsEachPartitionOnce ==
    \A m1, m2 \in group :
        m1 # m2 => (cAssigned[m1] \cup cRevoking[m1]) \cap (cAssigned[m2] \cup cRevoking[m2]) = {}

(* What a member consumes from is what the coordinator gave it. *)
MembersOwnWhatTheyWereGiven ==
    \A m \in group : mOwned[m] \subseteq cAssigned[m] \cup cRevoking[m]

(* No partition is owned by two members at once, among the members whose  *)
(* epoch the coordinator accepts (the current members; a removed member    *)
(* is fenced at its next request and its commits are refused).             *)
NoPartitionOwnedTwice ==
    \A m1, m2 \in group : m1 # m2 => mOwned[m1] \cap mOwned[m2] = {}

=============================================================================
