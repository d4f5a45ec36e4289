"""ApiVersions (KIP-35, KIP-511): the APIs and version ranges this broker speaks.

From v3 the client names its software; a name or version that is not a legal identifier
gets INVALID_REQUEST, as in Kafka's ``ApiVersionsRequest.isValid``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from kio.schema.errors import ErrorCode

from refka.protocol import codec

if TYPE_CHECKING:
    from refka.core.context import RequestContext
    from refka.core.dispatch import Api

KEY = 18
_SOFTWARE_NAME = re.compile(r"[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?")


def _response(apis: Mapping[int, Api], version: int, error_code: ErrorCode) -> Any:
    module = codec.response_module(KEY, version)
    keys = tuple(
        codec.build(module.ApiVersion, api_key=api.key, min_version=low, max_version=high)
        for api in sorted(apis.values(), key=lambda a: a.key)
        for low, high in [api.advertised]
    )
    return codec.build(
        module.ApiVersionsResponse,
        error_code=error_code,
        api_keys=keys,
        throttle_time=codec.millis(0),
        supported_features=(),
        finalized_features_epoch=-1,
        finalized_features=(),
        zk_migration_ready=False,
    )


def handle_api_versions(apis: Mapping[int, Api], ctx: RequestContext, request: Any) -> Any:
    if ctx.api_version >= 3 and not _valid_software(request):
        m = codec.response_module(KEY, ctx.api_version)
        return codec.build(
            m.ApiVersionsResponse,
            error_code=ErrorCode.invalid_request,
            api_keys=(),
            throttle_time=codec.millis(0),
        )
    return _response(apis, ctx.api_version, ErrorCode.none)


def _valid_software(request: Any) -> bool:
    return all(
        _SOFTWARE_NAME.fullmatch(value or "") is not None
        for value in (request.client_software_name, request.client_software_version)
    )


def unsupported_version_response(apis: Mapping[int, Api]) -> Any:
    """The v0 answer to an ApiVersions request at a version we do not speak."""
    return _response(apis, 0, ErrorCode.unsupported_version)
