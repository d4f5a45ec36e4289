"""A new cluster's finalized features (KIP-584): the FeatureLevelRecords its controller writes
first, replayed into the image every broker's ApiVersions reads."""

from __future__ import annotations

from refka.metadata.features import bootstrap_records, transaction_version
from refka.metadata.image import MetadataImage


def test_a_new_cluster_finalizes_transaction_version_2_after_metadata_version() -> None:
    records = bootstrap_records()
    assert [(r.name, r.feature_level) for r in records] == [
        ("metadata.version", 27),
        ("transaction.version", 2),
    ]
    image = MetadataImage.empty("c").apply(1, records)[0]
    assert transaction_version(image.features) == 2


def test_a_level_of_0_leaves_the_feature_out() -> None:
    records = bootstrap_records({"transaction.version": 0})
    assert [r.name for r in records] == ["metadata.version"]
    assert transaction_version({}) == 0
