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
(* The coordinator writes the group (GroupMetadata: generation, members,   *)
(* assignment) to __consumer_offsets when the leader's assignment arrives  *)
(* and when a join phase ends with no member; the write commits later      *)
(* (CommitGroupRecord). CoordinatorFailover: the next coordinator (another *)
(* broker, or the same one restarted) reloads the group from the log: the  *)
(* last record written if its replicas had it, else the last committed;    *)
(* the group is Stable with its members (Empty without), pending members   *)
(* and joins are lost, offsets commits after the record are lost with it.  *)
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
    commits,        \* accepted OffsetCommits: <<member, coordinator generation, partition>>
    written,        \* the last GroupMetadata record written: [generation, members, assignment]
    stored          \* the last one committed (a failover loads one of the two)

vars == <<groupState, generation, members, joined, assignment, memberGen, memberPhase,
          owned, commits, written, stored>>
logVars == <<written, stored>>
coordinatorVars == <<groupState, generation, members, joined, assignment>>

(* Any change of membership restarts the rebalance. *)
RebalanceState == IF groupState = "Empty" THEN "Empty" ELSE "PreparingRebalance"

NoRecord == [generation |-> 0, members |-> {}, assignment |-> [p \in Partitions |-> None]]

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
    /\ written = NoRecord
    /\ stored = NoRecord

(* A member that is out of the group sends JoinGroup. *)
JoinGroup(m) ==
    /\ memberPhase[m] = "out"
    /\ groupState' = "PreparingRebalance"
    /\ members' = members \cup {m}
    /\ joined' = joined \cup {m}
    /\ memberPhase' = [memberPhase EXCEPT ![m] = "joining"]
    /\ UNCHANGED <<generation, assignment, memberGen, owned, commits, written, stored>>

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
    /\ UNCHANGED <<groupState, generation, members, assignment, commits, logVars>>

(* A stable member sends JoinGroup on its own (its subscription changed, *)
(* or the leader saw new metadata): it revokes its partitions (eager      *)
(* protocol) and the group rebalances. JoinGroup carries no generation:   *)
(* after a failover the member's may be one the log lost, and a member    *)
(* whose JoinGroup or SyncGroup the old coordinator dropped sends it anew. *)
RejoinGroup(m) ==
    /\ memberPhase[m] # "out"
    /\ m \in members
    /\ groupState = "Stable"
    /\ groupState' = "PreparingRebalance"
    /\ joined' = joined \cup {m}
    /\ memberPhase' = [memberPhase EXCEPT ![m] = "joining"]
    /\ owned' = [owned EXCEPT ![m] = {}]
    /\ UNCHANGED <<generation, members, assignment, memberGen, commits, logVars>>

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
    /\ UNCHANGED <<owned, commits, written, stored>>

(* The join phase ends with no member left (all expired or left): the      *)
(* group is Empty in the next generation, and the coordinator writes it.   *)
CompleteEmptyJoin ==
    /\ groupState = "PreparingRebalance"
    /\ generation < MaxGeneration
    /\ joined = {}
    /\ generation' = generation + 1
    /\ members' = {}
    /\ groupState' = "Empty"
    /\ assignment' = [p \in Partitions |-> None]
    /\ written' = [generation |-> generation + 1, members |-> {}, assignment |-> assignment']
    /\ UNCHANGED <<joined, memberGen, memberPhase, owned, commits, stored>>

(* The leader's SyncGroup carries the assignment; the group is Stable and *)
(* the coordinator writes it.                                             *)
SyncGroupLeader ==
    /\ groupState = "CompletingRebalance"
    /\ \E a \in [Partitions -> members] : assignment' = a
    /\ groupState' = "Stable"
    /\ written' = [generation |-> generation, members |-> members, assignment |-> assignment']
    /\ UNCHANGED <<generation, members, joined, memberGen, memberPhase, owned, commits, stored>>

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
    /\ UNCHANGED <<coordinatorVars, commits, logVars>>

(* session.timeout.ms passes without a heartbeat from m: the coordinator   *)
(* removes it. m does not know, and keeps its partitions: a zombie.        *)
MemberExpired(m) ==
    /\ m \in members
    /\ members' = members \ {m}
    /\ joined' = joined \ {m}
    /\ groupState' = IF members = {m} /\ groupState # "PreparingRebalance"
                     THEN "Empty" ELSE "PreparingRebalance"
    /\ UNCHANGED <<generation, assignment, memberGen, memberPhase, owned, commits, written, stored>>

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
    /\ UNCHANGED <<generation, assignment, commits, logVars>>

(* OffsetCommit for a partition m believes it owns. The coordinator accepts *)
(* it only from a current member in the current generation.                  *)
CommitOffset(m, p) ==
    /\ p \in owned[m]
    /\ FenceCommits =>
         /\ m \in members
         /\ memberGen[m] = generation
         /\ groupState \in {"Stable", "PreparingRebalance"}
    /\ commits' = commits \cup {<<m, generation, p>>}
    /\ UNCHANGED <<coordinatorVars, memberGen, memberPhase, owned, logVars>>

(* The last GroupMetadata record reaches the HW of its offsets partition. *)
CommitGroupRecord ==
    /\ stored # written
    /\ stored' = written
    /\ UNCHANGED <<coordinatorVars, memberGen, memberPhase, owned, commits, written>>

(* Another broker (or the same, restarted) becomes the group's coordinator *)
(* and loads it from __consumer_offsets (GroupCoordinator.load): the last   *)
(* record its log holds, committed or not. Pending members and joins are    *)
(* lost; commits written after a lost record are lost with it. The members *)
(* learn it from their next answers (Heartbeat, SyncGroup).                *)
CoordinatorFailover ==
    /\ \E r \in {stored, written} :
        /\ groupState' = IF r.members = {} THEN "Empty" ELSE "Stable"
        /\ generation' = r.generation
        /\ members' = r.members
        /\ joined' = {}
        /\ assignment' = r.assignment
        /\ written' = r
        /\ stored' = r
        /\ commits' = {c \in commits : c[2] <= r.generation}
    /\ UNCHANGED <<memberGen, memberPhase, owned>>

Next ==
    \/ CompleteJoin
    \/ CompleteEmptyJoin
    \/ CommitGroupRecord
    \/ CoordinatorFailover
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
