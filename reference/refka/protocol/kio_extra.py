"""The message versions and the API that Apache Kafka 4.4 speaks and kio 0.6.5 has no schema for,
declared as kio entities (kio's own reader and writer encode them; no codec is written here).

- ApiVersions v5: the request adds ``cluster_id`` and ``node_id``, the cluster and broker the
  client believes it is talking to (both or neither); the response is v4's.
- DeleteGroups v3: each result adds ``error_message``; the request is v2's.
- TxnOffsetCommit v6 (KIP-1319): each topic, in the request and the response, is named by
  ``topic_id`` instead of ``name``; the rest is v5's.
- UnregisterController v0 (API 94, KIP-853): a whole API kio lacks; :data:`APIS` names it for
  the request-header lookup (``framing``) and the suite.

Each version is v(n-1)'s entity with the new fields appended (a dataclass subclass keeps its
parent's fields first, in order, as the wire does); a topic that trades its name for an id is a
new entity in the name's place. ``codec.request_module`` and
``codec.response_module`` fall back to :data:`MODULES` for a version kio lacks.

This module must not use postponed annotations: kio reads each field's type from the
dataclass field itself.
"""

import dataclasses
import types
import uuid
from typing import ClassVar

from kio.schema.api_versions.v4 import request as api_versions_v4_request
from kio.schema.api_versions.v4 import response as api_versions_v4_response
from kio.schema.delete_groups.v2 import request as delete_groups_v2_request
from kio.schema.delete_groups.v2 import response as delete_groups_v2_response
from kio.schema.request_header.v2.header import RequestHeader
from kio.schema.response_header.v1.header import ResponseHeader
from kio.schema.txn_offset_commit.v5 import request as txn_offset_commit_v5_request
from kio.schema.txn_offset_commit.v5 import response as txn_offset_commit_v5_response
from kio.static.constants import EntityType
from kio.static.primitive import i16, i32, i32Timedelta

API_VERSIONS, TXN_OFFSET_COMMIT, DELETE_GROUPS, UNREGISTER_CONTROLLER = 18, 28, 42, 94


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ApiVersionsRequestV5(api_versions_v4_request.ApiVersionsRequest):
    __version__: ClassVar[i16] = i16(5)
    cluster_id: str | None = dataclasses.field(metadata={"kafka_type": "string"}, default=None)
    """The cluster the client expects, or null."""
    node_id: i32 = dataclasses.field(metadata={"kafka_type": "int32"}, default=i32(-1))
    """The broker the client expects, or -1."""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ApiVersionsResponseV5(api_versions_v4_response.ApiVersionsResponse):
    __version__: ClassVar[i16] = i16(5)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class DeleteGroupsRequestV3(delete_groups_v2_request.DeleteGroupsRequest):
    __version__: ClassVar[i16] = i16(3)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class DeletableGroupResultV3(delete_groups_v2_response.DeletableGroupResult):
    __version__: ClassVar[i16] = i16(3)
    error_message: str | None = dataclasses.field(metadata={"kafka_type": "string"}, default=None)
    """Why the group was not deleted, or null."""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class DeleteGroupsResponseV3(delete_groups_v2_response.DeleteGroupsResponse):
    __version__: ClassVar[i16] = i16(3)
    results: tuple[DeletableGroupResultV3, ...]  # same place as v2's, of the v3 entity
    """The deletion results."""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class UnregisterControllerRequest:
    """KIP-853: take a controller that is no longer a voter out of the registrations."""

    __type__: ClassVar = EntityType.request
    __version__: ClassVar[i16] = i16(0)
    __flexible__: ClassVar[bool] = True
    __api_key__: ClassVar[i16] = i16(UNREGISTER_CONTROLLER)
    __header_schema__: ClassVar[type[RequestHeader]] = RequestHeader
    controller_id: i32 = dataclasses.field(metadata={"kafka_type": "int32"})
    """The controller ID to unregister."""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class UnregisterControllerResponse:
    """The error is a plain int16: Kafka answers 136, which kio's ``ErrorCode`` lacks."""

    __type__: ClassVar = EntityType.response
    __version__: ClassVar[i16] = i16(0)
    __flexible__: ClassVar[bool] = True
    __api_key__: ClassVar[i16] = i16(UNREGISTER_CONTROLLER)
    __header_schema__: ClassVar[type[ResponseHeader]] = ResponseHeader
    throttle_time: i32Timedelta = dataclasses.field(metadata={"kafka_type": "timedelta_i32"})
    error_code: i16 = dataclasses.field(metadata={"kafka_type": "int16"})
    error_message: str | None = dataclasses.field(metadata={"kafka_type": "string"})
    """The top-level error message, or null."""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class TxnOffsetCommitRequestPartitionV6(
    txn_offset_commit_v5_request.TxnOffsetCommitRequestPartition
):
    __version__: ClassVar[i16] = i16(6)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class TxnOffsetCommitRequestTopicV6:
    __type__: ClassVar = EntityType.nested
    __version__: ClassVar[i16] = i16(6)
    __flexible__: ClassVar[bool] = True
    __api_key__: ClassVar[i16] = i16(TXN_OFFSET_COMMIT)
    __header_schema__: ClassVar[type[RequestHeader]] = RequestHeader
    topic_id: uuid.UUID | None = dataclasses.field(metadata={"kafka_type": "uuid"})
    """The topic ID."""
    partitions: tuple[TxnOffsetCommitRequestPartitionV6, ...]
    """The partitions inside the topic that we want to commit offsets for."""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class TxnOffsetCommitRequestV6(txn_offset_commit_v5_request.TxnOffsetCommitRequest):
    """``generation_id`` is Kafka's GenerationIdOrMemberEpoch: the member epoch of a
    consumer-protocol member (KIP-848), the generation of a classic one."""

    __version__: ClassVar[i16] = i16(6)
    topics: tuple[TxnOffsetCommitRequestTopicV6, ...]  # type: ignore[assignment]  # v5's place
    """Each topic that we want to commit offsets for."""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class TxnOffsetCommitResponsePartitionV6(
    txn_offset_commit_v5_response.TxnOffsetCommitResponsePartition
):
    __version__: ClassVar[i16] = i16(6)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class TxnOffsetCommitResponseTopicV6:
    __type__: ClassVar = EntityType.nested
    __version__: ClassVar[i16] = i16(6)
    __flexible__: ClassVar[bool] = True
    __api_key__: ClassVar[i16] = i16(TXN_OFFSET_COMMIT)
    __header_schema__: ClassVar[type[ResponseHeader]] = ResponseHeader
    topic_id: uuid.UUID | None = dataclasses.field(metadata={"kafka_type": "uuid"})
    """The topic ID."""
    partitions: tuple[TxnOffsetCommitResponsePartitionV6, ...]
    """The responses for each partition in the topic."""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class TxnOffsetCommitResponseV6(txn_offset_commit_v5_response.TxnOffsetCommitResponse):
    __version__: ClassVar[i16] = i16(6)
    topics: tuple[TxnOffsetCommitResponseTopicV6, ...]  # type: ignore[assignment]  # v5's place
    """The responses for each topic."""


def _module(name: str, **entities: type) -> types.ModuleType:
    """A stand-in for kio's module of one version: the payload entities and the nested ones,
    under kio's names (handlers ask ``module.ApiVersion`` and the like)."""
    module = types.ModuleType(f"{__name__}.{name}")
    for entity_name, entity in entities.items():
        setattr(module, entity_name, entity)
    return module


MODULES: dict[tuple[int, int], types.ModuleType] = {
    (API_VERSIONS, 5): _module(
        "api_versions_v5",
        ApiVersionsRequest=ApiVersionsRequestV5,
        ApiVersionsResponse=ApiVersionsResponseV5,
        ApiVersion=api_versions_v4_response.ApiVersion,
        SupportedFeatureKey=api_versions_v4_response.SupportedFeatureKey,
        FinalizedFeatureKey=api_versions_v4_response.FinalizedFeatureKey,
    ),
    (TXN_OFFSET_COMMIT, 6): _module(
        "txn_offset_commit_v6",
        TxnOffsetCommitRequest=TxnOffsetCommitRequestV6,
        TxnOffsetCommitRequestTopic=TxnOffsetCommitRequestTopicV6,
        TxnOffsetCommitRequestPartition=TxnOffsetCommitRequestPartitionV6,
        TxnOffsetCommitResponse=TxnOffsetCommitResponseV6,
        TxnOffsetCommitResponseTopic=TxnOffsetCommitResponseTopicV6,
        TxnOffsetCommitResponsePartition=TxnOffsetCommitResponsePartitionV6,
    ),
    (DELETE_GROUPS, 3): _module(
        "delete_groups_v3",
        DeleteGroupsRequest=DeleteGroupsRequestV3,
        DeleteGroupsResponse=DeleteGroupsResponseV3,
        DeletableGroupResult=DeletableGroupResultV3,
    ),
    (UNREGISTER_CONTROLLER, 0): _module(
        "unregister_controller_v0",
        UnregisterControllerRequest=UnregisterControllerRequest,
        UnregisterControllerResponse=UnregisterControllerResponse,
    ),
}
"""(API key, version) -> the module standing in for kio's."""

APIS: dict[int, str] = {UNREGISTER_CONTROLLER: "unregister_controller"}
"""The APIs kio has no schema of at all: key -> kio-style name (``api_key_map``'s form)."""
