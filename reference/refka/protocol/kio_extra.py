"""The two message versions Apache Kafka 4.4 speaks and kio 0.6.5 has no schema for, declared
as kio entities (kio's own reader and writer encode them; no codec is written here).

- ApiVersions v5: the request adds ``cluster_id`` and ``node_id``, the cluster and broker the
  client believes it is talking to (both or neither); the response is v4's.
- DeleteGroups v3: each result adds ``error_message``; the request is v2's.

Each version is v(n-1)'s entity with the new fields appended (a dataclass subclass keeps its
parent's fields first, in order, as the wire does). ``codec.request_module`` and
``codec.response_module`` fall back to :data:`MODULES` for a version kio lacks.

This module must not use postponed annotations: kio reads each field's type from the
dataclass field itself.
"""

import dataclasses
import types
from typing import ClassVar

from kio.schema.api_versions.v4 import request as api_versions_v4_request
from kio.schema.api_versions.v4 import response as api_versions_v4_response
from kio.schema.delete_groups.v2 import request as delete_groups_v2_request
from kio.schema.delete_groups.v2 import response as delete_groups_v2_response
from kio.static.primitive import i16, i32

API_VERSIONS, DELETE_GROUPS = 18, 42


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
    (DELETE_GROUPS, 3): _module(
        "delete_groups_v3",
        DeleteGroupsRequest=DeleteGroupsRequestV3,
        DeleteGroupsResponse=DeleteGroupsResponseV3,
        DeletableGroupResult=DeletableGroupResultV3,
    ),
}
"""(API key, version) -> the module standing in for kio's."""
