--------------------------- MODULE ConsumerGroup ---------------------------
(***************************************************************************)
(* A classic consumer group (eager rebalance protocol): the coordinator's  *)
(* group state machine (Empty, PreparingRebalance, CompletingRebalance,    *)
(* Stable), generations, JoinGroup and SyncGroup, heartbeats that tell a   *)
(* member to rejoin or that it was fenced, LeaveGroup, session expiry,     *)
(* and offset commits fenced by member id and generation.                  *)
(*                                                                         *)
(* Each member's own view (its generation, the partitions it believes it   *)
(* owns) is separate from the coordinator's, so a member whose session     *)
(* expired keeps working as a zombie until a response tells it otherwise.  *)
(* Abstractions: the group leader's assignment is chosen by the            *)
(* coordinator at SyncGroup (any assignment of the partitions to the       *)
(* generation's members); the join timeout is the step CompleteJoin, which *)
(* drops members that did not rejoin; Dead (group deletion) is not         *)
(* modelled. Requests and responses are atomic steps.                      *)
(*                                                                         *)
(* Switch: FenceCommits = FALSE accepts an OffsetCommit whatever its       *)
(* member id and generation: a zombie consumer commits after its           *)
(* generation ended.                                                       *)
(***************************************************************************)
EXTENDS Naturals, FiniteSets

CONSTANTS
    Members,        \* consumer instances (member ids)
    Partitions,     \* partitions of the subscribed topics
    None,
    MaxGeneration,  \* bound on generations
    FenceCommits    \* OffsetCommit checks member id and generation

VARIABLES
    groupState,     \* coordinator: "Empty" | "PreparingRebalance" | "CompletingRebalance" | "Stable"
    generation,     \* coordinator: generation id
    members,        \* coordinator: current members
    joined,         \* coordinator: members that (re)joined this rebalance
    assignment,     \* coordinator: partition -> member, for the current generation
    memberGen,      \* memberGen[m]: the generation m believes it is in (0: none)
    memberPhase,    \* memberPhase[m]: "out" | "joining" | "syncing" | "stable"
    owned,          \* owned[m]: partitions m believes it owns
    commits         \* accepted OffsetCommits: <<member, coordinator generation, partition>>

vars == <<groupState, generation, members, joined, assignment, memberGen, memberPhase,
          owned, commits>>
coordinatorVars == <<groupState, generation, members, joined, assignment>>

(* Any change of membership restarts the rebalance. *)
RebalanceState == IF groupState = "Empty" THEN "Empty" ELSE "PreparingRebalance"

----------------------------------------------------------------------------
Init ==
    /\ groupState = "Empty"
    /\ generation = 0
    /\ members = {}
    /\ joined = {}
    /\ assignment = [p \in Partitions |-> None]
    /\ memberGen = [m \in Members |-> 0]
    /\ memberPhase = [m \in Members |-> "out"]
    /\ owned = [m \in Members |-> {}]
    /\ commits = {}

(* A member that is out of the group sends JoinGroup. *)
JoinGroup(m) ==
    /\ memberPhase[m] = "out"
    /\ groupState' = "PreparingRebalance"
    /\ members' = members \cup {m}
    /\ joined' = joined \cup {m}
    /\ memberPhase' = [memberPhase EXCEPT ![m] = "joining"]
    /\ UNCHANGED <<generation, assignment, memberGen, owned, commits>>

(* A stable member's heartbeat: REBALANCE_IN_PROGRESS makes it revoke its *)
(* partitions (eager protocol) and rejoin; UNKNOWN_MEMBER_ID or           *)
(* ILLEGAL_GENERATION fences it: it forgets its generation and partitions. *)
Heartbeat(m) ==
    /\ memberPhase[m] = "stable"
    /\ \/ /\ m \in members /\ memberGen[m] = generation
          /\ groupState = "PreparingRebalance"
          /\ joined' = joined \cup {m}
          /\ memberPhase' = [memberPhase EXCEPT ![m] = "joining"]
          /\ owned' = [owned EXCEPT ![m] = {}]
          /\ UNCHANGED memberGen
       \/ /\ m \notin members \/ memberGen[m] # generation
          /\ memberPhase' = [memberPhase EXCEPT ![m] = "out"]
          /\ memberGen' = [memberGen EXCEPT ![m] = 0]
          /\ owned' = [owned EXCEPT ![m] = {}]
          /\ UNCHANGED joined
    /\ UNCHANGED <<groupState, generation, members, assignment, commits>>

(* A stable member sends JoinGroup on its own (its subscription changed, *)
(* or the leader saw new metadata): it revokes its partitions (eager      *)
(* protocol) and the group rebalances.                                    *)
RejoinGroup(m) ==
    /\ memberPhase[m] = "stable"
    /\ m \in members /\ memberGen[m] = generation
    /\ groupState = "Stable"
    /\ groupState' = "PreparingRebalance"
    /\ joined' = joined \cup {m}
    /\ memberPhase' = [memberPhase EXCEPT ![m] = "joining"]
    /\ owned' = [owned EXCEPT ![m] = {}]
    /\ UNCHANGED <<generation, members, assignment, memberGen, commits>>

(* The join phase ends: members that did not rejoin are dropped and the *)
(* rest enter the next generation (ClassicGroup.init_next_generation).  *)
CompleteJoin ==
    /\ groupState = "PreparingRebalance"
    /\ generation < MaxGeneration
    /\ joined # {}
    /\ generation' = generation + 1
    /\ members' = joined
    /\ joined' = {}
    /\ groupState' = "CompletingRebalance"
    /\ assignment' = [p \in Partitions |-> None]
    /\ memberGen' = [m \in Members |-> IF m \in joined THEN generation + 1 ELSE memberGen[m]]
    /\ memberPhase' = [m \in Members |-> IF m \in joined THEN "syncing" ELSE memberPhase[m]]
    /\ UNCHANGED <<owned, commits>>

(* The leader's SyncGroup carries the assignment; the group is Stable. *)
SyncGroupLeader ==
    /\ groupState = "CompletingRebalance"
    /\ \E a \in [Partitions -> members] : assignment' = a
    /\ groupState' = "Stable"
    /\ UNCHANGED <<generation, members, joined, memberGen, memberPhase, owned, commits>>

(* A member's SyncGroup response: its partitions, or ILLEGAL_GENERATION. *)
SyncGroup(m) ==
    /\ memberPhase[m] = "syncing"
    /\ groupState # "CompletingRebalance"
    /\ IF groupState = "Stable" /\ m \in members /\ memberGen[m] = generation
       THEN /\ owned' = [owned EXCEPT ![m] = {p \in Partitions : assignment[p] = m}]
            /\ memberPhase' = [memberPhase EXCEPT ![m] = "stable"]
            /\ UNCHANGED memberGen
       ELSE /\ memberPhase' = [memberPhase EXCEPT ![m] = "out"]
            /\ memberGen' = [memberGen EXCEPT ![m] = 0]
            /\ UNCHANGED owned
    /\ UNCHANGED <<coordinatorVars, commits>>

(* session.timeout.ms passes without a heartbeat from m: the coordinator   *)
(* removes it. m does not know, and keeps its partitions: a zombie.        *)
MemberExpired(m) ==
    /\ m \in members
    /\ members' = members \ {m}
    /\ joined' = joined \ {m}
    /\ groupState' = IF members = {m} /\ groupState # "PreparingRebalance"
                     THEN "Empty" ELSE "PreparingRebalance"
    /\ UNCHANGED <<generation, assignment, memberGen, memberPhase, owned, commits>>

(* LeaveGroup: m gives up its partitions and the group rebalances. *)
LeaveGroup(m) ==
    /\ m \in members
    /\ memberPhase[m] = "stable"
    /\ members' = members \ {m}
    /\ joined' = joined \ {m}
    /\ groupState' = IF members = {m} THEN "Empty" ELSE "PreparingRebalance"
    /\ memberPhase' = [memberPhase EXCEPT ![m] = "out"]
    /\ memberGen' = [memberGen EXCEPT ![m] = 0]
    /\ owned' = [owned EXCEPT ![m] = {}]
    /\ UNCHANGED <<generation, assignment, commits>>

(* OffsetCommit for a partition m believes it owns. The coordinator accepts *)
(* it only from a current member in the current generation.                  *)
CommitOffset(m, p) ==
    /\ p \in owned[m]
    /\ FenceCommits =>
         /\ m \in members
         /\ memberGen[m] = generation
         /\ groupState \in {"Stable", "PreparingRebalance"}
    /\ commits' = commits \cup {<<m, generation, p>>}
    /\ UNCHANGED <<coordinatorVars, memberGen, memberPhase, owned>>

Next ==
    \/ CompleteJoin
    \/ SyncGroupLeader
    \/ \E m \in Members :
        \/ JoinGroup(m)
        \/ RejoinGroup(m)
        \/ Heartbeat(m)
        \/ SyncGroup(m)
        \/ MemberExpired(m)
        \/ LeaveGroup(m)
        \/ \E p \in Partitions : CommitOffset(m, p)

Spec == Init /\ [][Next]_vars

----------------------------------------------------------------------------
TypeOK ==
    /\ groupState \in {"Empty", "PreparingRebalance", "CompletingRebalance", "Stable"}
    /\ generation \in 0..MaxGeneration
    /\ members \subseteq Members /\ joined \subseteq members
    /\ \A m \in Members : memberPhase[m] \in {"out", "joining", "syncing", "stable"}

(* In every generation, offsets for a partition are committed by one member *)
(* only: the one the generation assigned it to.                             *)
SingleOwnerPerGeneration ==
    \A c1, c2 \in commits : (c1[2] = c2[2] /\ c1[3] = c2[3]) => c1[1] = c2[1]

=============================================================================
