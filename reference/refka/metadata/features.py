"""Feature versions (KIP-584, KIP-1022): what refka supports, and what a new cluster finalizes.

A cluster's finalized levels are ``FeatureLevelRecord``s in its metadata log, written once by
the controller when the log is new (``bootstrap_records``, as ``kafka-storage format`` puts
them in ``bootstrap.checkpoint``); every broker's ``MetadataImage.features`` holds them and
ApiVersions v3+ advertises both sets. ``transaction.version`` 2 (KIP-890 part 2) is the
default of a new Kafka 4.x cluster and of refka's; 1 or 0 keeps clients on the older protocol.
"""

from __future__ import annotations

from collections.abc import Mapping

from refka.metadata.records import FeatureLevelRecord

METADATA_VERSION = "metadata.version"
TRANSACTION_VERSION = "transaction.version"
GROUP_VERSION = "group.version"

SUPPORTED: Mapping[str, tuple[int, int]] = {
    METADATA_VERSION: (7, 27),  # 3.3-IV3 .. 4.x: the record formats refka writes and reads
    TRANSACTION_VERSION: (0, 2),
}
"""name -> (min, max) levels this software supports."""

DEFAULT_FINALIZED: Mapping[str, int] = {
    METADATA_VERSION: 27,
    TRANSACTION_VERSION: 2,
}
"""The levels a new cluster finalizes (Kafka 4.4's ``kafka-storage format`` finalizes
``transaction.version`` 2 too; refka leaves ``group.version`` unset, as it has no KIP-848
group coordinator)."""


def bootstrap_records(overrides: Mapping[str, int] | None = None) -> list[FeatureLevelRecord]:
    """The FeatureLevelRecords of a new metadata log, ``metadata.version`` first; a level of 0
    leaves the feature out."""
    levels = dict(DEFAULT_FINALIZED) | dict(overrides or {})
    ordered = sorted(levels.items(), key=lambda kv: (kv[0] != METADATA_VERSION, kv[0]))
    return [FeatureLevelRecord(name=n, feature_level=level) for n, level in ordered if level > 0]


def transaction_version(features: Mapping[str, int]) -> int:
    """The finalized ``transaction.version`` (0 when not finalized)."""
    return int(features.get(TRANSACTION_VERSION, 0))
