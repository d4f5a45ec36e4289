"""UpdateFeatures (key 57, v0-v2 as Kafka 4.4; KIP-584, KIP-1022) on the controller.

The updates are validated by ``refka.controller.feature_control`` against the levels this
software supports (``refka.metadata.features.SUPPORTED``), the finalized ones of the image and
each registered broker's range; accepted ones are committed as ``FeatureLevelRecord``s (not
with ``validate_only``), which every broker replays into its image, so ApiVersions' finalized
features and their epoch (the image's offset) follow. v0 and v1 list each feature with NONE
("NONE") on success and none on failure; v2 has no list. ALTER on the CLUSTER is checked by
the broker that forwards the request and by the controller (``controller_acls.GUARDED``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kio.schema.errors import ErrorCode

from refka.controller.feature_control import UPGRADE, FeatureUpdate, update_features
from refka.metadata.features import SUPPORTED
from refka.protocol import codec

if TYPE_CHECKING:
    from refka.controller.quorum_controller import QuorumController
    from refka.core.context import RequestContext


def handle_update_features(c: QuorumController, ctx: RequestContext, request: Any) -> Any:
    m = codec.response_module(ctx.api_key, ctx.api_version)
    updates = [
        FeatureUpdate(
            u.feature,
            int(u.max_version_level),
            int(u.upgrade_type) if ctx.api_version >= 1 else UPGRADE,
        )
        for u in request.feature_updates
    ]
    brokers = {
        broker_id: {name: (low, high) for name, low, high in broker.supported_features}
        for broker_id, broker in c.image.brokers.items()
    }
    error, records = update_features(updates, c.image.features, SUPPORTED, brokers, c.node_id)
    if error is not None:
        return _response(m, ctx, ErrorCode.invalid_update_version, error, ())
    if not getattr(request, "validate_only", False):
        c.commit(records, ctx.now_ms)
    return _response(m, ctx, ErrorCode.none, None, updates)


def _response(
    m: Any, ctx: RequestContext, error: ErrorCode, message: str | None, updates: Any
) -> Any:
    fields: dict[str, Any] = {}
    if ctx.api_version < 2:
        fields["results"] = tuple(
            codec.build(
                m.UpdatableFeatureResult,
                feature=u.name,
                error_code=ErrorCode.none,
                error_message="NONE",
            )
            for u in updates
        )
    return codec.build(
        m.UpdateFeaturesResponse,
        throttle_time=codec.millis(0),
        error_code=error,
        error_message=message,
        **fields,
    )
