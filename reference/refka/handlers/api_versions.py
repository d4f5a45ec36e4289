"""ApiVersions (KIP-35, KIP-511): the APIs and version ranges this broker speaks.

From v3 the client names its software; a name or version that is not a legal identifier
gets INVALID_REQUEST, as in Kafka's ``ApiVersionsRequest.isValid``. From v5 the client may name
the cluster and the broker it expects (``cluster_id`` and ``node_id``, both or neither: one
alone is INVALID_REQUEST); a broker that is not the one expected answers REBOOTSTRAP_REQUIRED,
so that the client finds its cluster again (Kafka 4.4's answers, observed).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from kio.schema.errors import ErrorCode

from refka.core.context import RequestContext
from refka.core.dispatch import Api
from refka.metadata.features import SUPPORTED
from refka.protocol import codec

KEY = 18
_SOFTWARE_NAME = re.compile(r"[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?")


Features = Callable[[], tuple[Mapping[str, int], int]]
"""The finalized feature levels of this broker's metadata image, and the image's offset."""


def _response(
    apis: Mapping[int, Api], version: int, error_code: ErrorCode, features: Features | None = None
) -> Any:
    module = codec.response_module(KEY, version)
    with_features = features is not None and hasattr(module, "SupportedFeatureKey")  # v3+
    finalized, epoch = features() if with_features and features is not None else ({}, -1)
    keys = tuple(
        codec.build(module.ApiVersion, api_key=api.key, min_version=low, max_version=high)
        for api in sorted(apis.values(), key=lambda a: a.key)
        if api.listed
        for low, high in [api.advertised]
    )
    return codec.build(
        module.ApiVersionsResponse,
        error_code=error_code,
        api_keys=keys,
        throttle_time=codec.millis(0),
        supported_features=tuple(
            codec.build(module.SupportedFeatureKey, name=n, min_version=lo, max_version=hi)
            for n, (lo, hi) in SUPPORTED.items()
        )
        if with_features
        else (),
        finalized_features_epoch=epoch,
        finalized_features=tuple(
            codec.build(
                module.FinalizedFeatureKey, name=n, max_version_level=lv, min_version_level=lv
            )
            for n, lv in finalized.items()
        ),
        zk_migration_ready=False,
    )


Identity = Callable[[], tuple[str | None, int]]
"""This broker's (cluster id, node id), for v5's check."""

NO_NODE = -1


def handle_api_versions(
    apis: Mapping[int, Api],
    ctx: RequestContext,
    request: Any,
    identity: Identity | None = None,
    features: Features | None = None,
) -> Any:
    """The APIs, and from v3 the features (KIP-584): the levels this software supports and the
    cluster's finalized ones, with the metadata offset they were read at as their epoch."""
    error = _request_error(request, ctx.api_version, identity)
    if error is not ErrorCode.none:
        m = codec.response_module(KEY, ctx.api_version)
        return codec.build(
            m.ApiVersionsResponse, error_code=error, api_keys=(), throttle_time=codec.millis(0)
        )
    return _response(apis, ctx.api_version, ErrorCode.none, features)


def _request_error(request: Any, version: int, identity: Identity | None) -> ErrorCode:
    if version >= 3 and not _valid_software(request):
        return ErrorCode.invalid_request
    expected_cluster = getattr(request, "cluster_id", None)
    expected_node = getattr(request, "node_id", NO_NODE)
    if (expected_cluster is None) != (expected_node == NO_NODE):
        return ErrorCode.invalid_request
    mismatch = identity is not None and (expected_cluster, expected_node) != identity()
    if expected_cluster is not None and mismatch:
        return ErrorCode.rebootstrap_required
    return ErrorCode.none


def _valid_software(request: Any) -> bool:
    return all(
        _SOFTWARE_NAME.fullmatch(value or "") is not None
        for value in (request.client_software_name, request.client_software_version)
    )


def unsupported_version_response(apis: Mapping[int, Api]) -> Any:
    """The v0 answer to an ApiVersions request at a version we do not speak."""
    return _response(apis, 0, ErrorCode.unsupported_version)
