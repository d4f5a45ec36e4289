"""Which operation on which resource each API needs: the one table of authorization rules.

As Kafka's ``KafkaApis``/``ControllerApis`` check them (StandardAuthorizer, Kafka 4.x). A
handler asks :func:`allowed` with the resource it is about to touch; the operation comes from
this table (the first rule of that resource type), unless the handler names another one of
the API's rules (Metadata's auto-creation, CreateTopics' CLUSTER alternative). Without an
authorizer (no ``authorizer.class.name``) everything is allowed, as in Kafka.

The error a denial gets is the resource type's (:data:`DENIED`), except where Kafka answers
otherwise (noted at the handler).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kio.schema.errors import ErrorCode

from refka.security.acl import CLUSTER_NAME, AclOperation, ResourceType

if TYPE_CHECKING:
    from refka.core.context import RequestContext

Op, RT = AclOperation, ResourceType
TOPIC, GROUP, CLUSTER, TXN = RT.TOPIC, RT.GROUP, RT.CLUSTER, RT.TRANSACTIONAL_ID
TOKEN, USER = RT.DELEGATION_TOKEN, RT.USER
Rule = tuple[ResourceType, AclOperation]

API_ACLS: dict[int, tuple[Rule, ...]] = {
    0: ((TOPIC, Op.WRITE), (TXN, Op.WRITE)),  # Produce
    1: ((TOPIC, Op.READ), (CLUSTER, Op.CLUSTER_ACTION)),  # Fetch: consumer; follower
    2: ((TOPIC, Op.DESCRIBE),),  # ListOffsets
    3: ((TOPIC, Op.DESCRIBE), (TOPIC, Op.CREATE), (CLUSTER, Op.CREATE)),  # Metadata (+auto)
    8: ((GROUP, Op.READ), (TOPIC, Op.READ)),  # OffsetCommit
    9: ((GROUP, Op.DESCRIBE), (TOPIC, Op.DESCRIBE)),  # OffsetFetch
    10: ((GROUP, Op.DESCRIBE), (TXN, Op.DESCRIBE)),  # FindCoordinator
    11: ((GROUP, Op.READ),),  # JoinGroup
    12: ((GROUP, Op.READ),),  # Heartbeat
    13: ((GROUP, Op.READ),),  # LeaveGroup
    14: ((GROUP, Op.READ),),  # SyncGroup
    15: ((GROUP, Op.DESCRIBE),),  # DescribeGroups
    16: ((GROUP, Op.DESCRIBE), (CLUSTER, Op.DESCRIBE)),  # ListGroups: cluster, or each group
    19: ((TOPIC, Op.CREATE), (CLUSTER, Op.CREATE)),  # CreateTopics: either
    20: ((TOPIC, Op.DELETE),),  # DeleteTopics
    21: ((TOPIC, Op.DELETE),),  # DeleteRecords
    22: ((TXN, Op.WRITE), (CLUSTER, Op.IDEMPOTENT_WRITE)),  # InitProducerId (or any topic WRITE)
    23: ((TOPIC, Op.DESCRIBE), (CLUSTER, Op.CLUSTER_ACTION)),  # OffsetForLeaderEpoch
    24: ((TXN, Op.WRITE), (TOPIC, Op.WRITE), (CLUSTER, Op.CLUSTER_ACTION)),  # AddPartitionsToTxn
    25: ((TXN, Op.WRITE), (GROUP, Op.READ)),  # AddOffsetsToTxn
    26: ((TXN, Op.WRITE),),  # EndTxn
    27: ((CLUSTER, Op.CLUSTER_ACTION),),  # WriteTxnMarkers
    28: ((TXN, Op.WRITE), (GROUP, Op.READ), (TOPIC, Op.READ)),  # TxnOffsetCommit
    29: ((CLUSTER, Op.DESCRIBE),),  # DescribeAcls
    30: ((CLUSTER, Op.ALTER),),  # CreateAcls
    31: ((CLUSTER, Op.ALTER),),  # DeleteAcls
    32: ((TOPIC, Op.DESCRIBE_CONFIGS), (CLUSTER, Op.DESCRIBE_CONFIGS)),  # DescribeConfigs
    33: ((TOPIC, Op.ALTER_CONFIGS), (CLUSTER, Op.ALTER_CONFIGS)),  # AlterConfigs
    34: ((CLUSTER, Op.ALTER),),  # AlterReplicaLogDirs
    35: ((CLUSTER, Op.DESCRIBE),),  # DescribeLogDirs
    37: ((TOPIC, Op.ALTER),),  # CreatePartitions
    38: ((USER, Op.CREATE_TOKENS),),  # CreateDelegationToken: for another owner (KIP-373)
    41: ((TOKEN, Op.DESCRIBE), (USER, Op.DESCRIBE_TOKENS)),  # DescribeDelegationToken: others'
    42: ((GROUP, Op.DELETE),),  # DeleteGroups
    43: ((CLUSTER, Op.ALTER),),  # ElectLeaders
    44: ((TOPIC, Op.ALTER_CONFIGS), (CLUSTER, Op.ALTER_CONFIGS)),  # IncrementalAlterConfigs
    45: ((CLUSTER, Op.ALTER),),  # AlterPartitionReassignments
    46: ((CLUSTER, Op.DESCRIBE),),  # ListPartitionReassignments
    47: ((GROUP, Op.DELETE), (TOPIC, Op.READ)),  # OffsetDelete
    48: ((CLUSTER, Op.DESCRIBE_CONFIGS),),  # DescribeClientQuotas
    49: ((CLUSTER, Op.ALTER_CONFIGS),),  # AlterClientQuotas
    50: ((CLUSTER, Op.DESCRIBE),),  # DescribeUserScramCredentials
    51: ((CLUSTER, Op.ALTER),),  # AlterUserScramCredentials
    55: ((CLUSTER, Op.DESCRIBE),),  # DescribeQuorum (controller)
    56: ((CLUSTER, Op.CLUSTER_ACTION),),  # AlterPartition (controller)
    58: ((CLUSTER, Op.CLUSTER_ACTION),),  # Envelope (controller): a broker forwards
    61: ((TOPIC, Op.READ),),  # DescribeProducers
    62: ((CLUSTER, Op.CLUSTER_ACTION),),  # BrokerRegistration (controller)
    63: ((CLUSTER, Op.CLUSTER_ACTION),),  # BrokerHeartbeat (controller)
    57: ((CLUSTER, Op.ALTER),),  # UpdateFeatures
    64: ((CLUSTER, Op.ALTER),),  # UnregisterBroker
    65: ((TXN, Op.DESCRIBE),),  # DescribeTransactions
    66: ((TXN, Op.DESCRIBE),),  # ListTransactions: the ids it may describe
    67: ((CLUSTER, Op.CLUSTER_ACTION),),  # AllocateProducerIds (controller)
    68: ((GROUP, Op.READ),),  # ConsumerGroupHeartbeat
    69: ((GROUP, Op.DESCRIBE),),  # ConsumerGroupDescribe
    74: ((CLUSTER, Op.DESCRIBE_CONFIGS),),  # ListConfigResources
    75: ((TOPIC, Op.DESCRIBE),),  # DescribeTopicPartitions
    80: ((CLUSTER, Op.ALTER),),  # AddRaftVoter (KIP-853)
    81: ((CLUSTER, Op.ALTER),),  # RemoveRaftVoter (KIP-853)
    94: ((CLUSTER, Op.ALTER),),  # UnregisterController (KIP-853)
}
"""api key -> the (resource type, operation) rules it checks. ApiVersions, DescribeCluster,
SaslHandshake, SaslAuthenticate and the telemetry APIs check none (DescribeCluster reports
authorized operations only); Renew and ExpireDelegationToken check none either: the controller
lets the token's owner and renewers only."""

DENIED: dict[ResourceType, ErrorCode] = {
    TOPIC: ErrorCode.topic_authorization_failed,
    GROUP: ErrorCode.group_authorization_failed,
    CLUSTER: ErrorCode.cluster_authorization_failed,
    TXN: ErrorCode.transactional_id_authorization_failed,
    TOKEN: ErrorCode.delegation_token_authorization_failed,
}


def operation(api_key: int, resource_type: ResourceType) -> AclOperation:
    """The operation ``api_key`` needs on a resource of ``resource_type`` (its first rule)."""
    for rtype, op in API_ACLS.get(api_key, ()):
        if rtype == resource_type:
            return op
    raise KeyError(f"API {api_key} checks no {resource_type.name} rule")


def allowed(
    ctx: RequestContext,
    resource_type: ResourceType,
    name: str = CLUSTER_NAME,
    op: AclOperation | None = None,
) -> bool:
    """Whether ``ctx``'s principal, from its host, may do what its API does to the resource."""
    if ctx.authorizer is None:
        return True
    wanted = operation(ctx.api_key, resource_type) if op is None else op
    return ctx.authorizer.authorize(ctx.principal, ctx.client_host, wanted, resource_type, name)


def allowed_on_any(ctx: RequestContext, resource_type: ResourceType, op: AclOperation) -> bool:
    """Whether ``op`` is allowed on some resource of the type (``authorize_any``)."""
    if ctx.authorizer is None:
        return True
    return ctx.authorizer.authorize_any(ctx.principal, ctx.client_host, op, resource_type)


def authorized_operations(ctx: RequestContext, resource_type: ResourceType, name: str) -> int:
    """KIP-430's bit field for the resource; every operation of its type without authorizer."""
    if ctx.authorizer is None:
        from refka.security.acl import OPERATIONS

        return sum(1 << int(op) for op in OPERATIONS.get(resource_type, ()))
    return ctx.authorizer.authorized_operations(ctx.principal, ctx.client_host, resource_type, name)


def reported_operations(
    ctx: RequestContext, resource_type: ResourceType, name: str = CLUSTER_NAME
) -> int:
    """The authorized operations a response reports (KIP-430): 0 when the principal may not
    even DESCRIBE the resource, as Kafka answers."""
    if ctx.authorizer is not None and not ctx.authorizer.authorize(
        ctx.principal, ctx.client_host, Op.DESCRIBE, resource_type, name
    ):
        return 0
    return authorized_operations(ctx, resource_type, name)
