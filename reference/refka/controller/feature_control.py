"""UpdateFeatures' validation (KIP-584, KIP-1022), as Kafka 4.4's ``FeatureControlManager``.

Each update is checked in Kafka's order; the first refused one fails the whole request with
INVALID_UPDATE_VERSION and "The update failed for all features since the following feature
had an error: " before its reason:

1. an upgrade type other than 1 (upgrade), 2 (safe downgrade), 3 (unsafe downgrade): "The
   controller does not support the given upgrade type.";
2. a level below 0: "A feature version cannot be less than 0.";
3. a level outside this controller's supported range: "Local controller N does not support
   this feature." or "... only supports versions a-b";
4. a level outside a registered broker's range: "Broker N does not support this feature." or
   "... only supports versions a-b" (a broker that lists no features is not asked);
5. a lower level with upgrade type 1: "Can't downgrade the version of this feature without
   setting the upgrade type to either safe or unsafe downgrade.";
6. ``metadata.version`` lower than the finalized one: refused (refka keeps no record of which
   levels changed the record formats, so it allows no downgrade; Kafka allows a safe one
   where the formats are the same).

Every accepted update becomes a ``FeatureLevelRecord`` (level 0 removes the feature), even
one that keeps the level, as Kafka writes it. UpdateFeatures v0's ``allow_downgrade`` is not
heeded: Kafka 4.4's controller reads v0 with the default upgrade type 1 (observed).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from refka.metadata.records import FeatureLevelRecord

METADATA_VERSION = "metadata.version"
UPGRADE, SAFE_DOWNGRADE, UNSAFE_DOWNGRADE = 1, 2, 3
FAILED = "The update failed for all features since the following feature had an error: "

Range = tuple[int, int]


@dataclass(frozen=True, slots=True)
class FeatureUpdate:
    """One entry of UpdateFeatures' ``feature_updates``."""

    name: str
    level: int
    upgrade_type: int = UPGRADE


def update_features(
    updates: Sequence[FeatureUpdate],
    finalized: Mapping[str, int],
    supported: Mapping[str, Range],
    brokers: Mapping[int, Mapping[str, Range]],
    node_id: int,
) -> tuple[str | None, list[FeatureLevelRecord]]:
    """The error message (None: accepted) and the records to write."""
    records: list[FeatureLevelRecord] = []
    for update in updates:
        reason = _refusal(update, finalized, supported, brokers, node_id)
        if reason is not None:
            return FAILED + reason, []
        records.append(FeatureLevelRecord(name=update.name, feature_level=update.level))
    return None, records


def _refusal(
    update: FeatureUpdate,
    finalized: Mapping[str, int],
    supported: Mapping[str, Range],
    brokers: Mapping[int, Mapping[str, Range]],
    node_id: int,
) -> str | None:
    name, level = update.name, update.level
    invalid = f"Invalid update version {level} for feature {name}. "
    if update.upgrade_type not in (UPGRADE, SAFE_DOWNGRADE, UNSAFE_DOWNGRADE):
        return invalid + "The controller does not support the given upgrade type."
    if level < 0:
        return invalid + "A feature version cannot be less than 0."
    unsupported = _outside(f"Local controller {node_id}", supported.get(name), level)
    if unsupported is not None:
        return invalid + unsupported
    for broker_id, features in sorted(brokers.items()):
        if features:
            outside = _outside(f"Broker {broker_id}", features.get(name), level)
            if outside is not None:
                return invalid + outside
    current = finalized.get(name, 0)
    if level < current and update.upgrade_type == UPGRADE:
        return invalid + (
            "Can't downgrade the version of this feature without setting the upgrade type to "
            "either safe or unsafe downgrade."
        )
    if name == METADATA_VERSION and level < current:
        why = (
            "Unsafe metadata downgrade is not supported in this version."
            if update.upgrade_type == UNSAFE_DOWNGRADE
            else "Refusing to perform the requested downgrade because it might delete "
            "metadata information."
        )
        return f"Unsupported metadata.version downgrade from {current} to {level}. {why}"
    return None


def _outside(who: str, versions: Range | None, level: int) -> str | None:
    if versions is None:
        return None if level == 0 else f"{who} does not support this feature."
    low, high = versions
    if low <= level <= high:
        return None
    return f"{who} only supports versions {low}-{high}"
