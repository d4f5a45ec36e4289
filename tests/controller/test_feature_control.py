"""UpdateFeatures' validation: the messages Kafka 4.4 answered, one by one (observed on
Kafka 4.4 with metadata.version 33 and transaction.version 2 finalized)."""

from __future__ import annotations

from refka.controller.feature_control import FAILED, FeatureUpdate, update_features
from refka.metadata.records import FeatureLevelRecord

SUPPORTED = {"metadata.version": (7, 33), "transaction.version": (0, 2), "group.version": (0, 1)}
FINALIZED = {"metadata.version": 33, "transaction.version": 2, "group.version": 1}


def refusal(*updates: FeatureUpdate, brokers: dict | None = None) -> str | None:
    error, records = update_features(updates, FINALIZED, SUPPORTED, brokers or {}, 1)
    assert (error is None) == bool(records)
    return None if error is None else error.removeprefix(FAILED)


def test_kafkas_refusals() -> None:
    assert refusal(FeatureUpdate("no.such", 1)) == (
        "Invalid update version 1 for feature no.such. Local controller 1 does not support "
        "this feature."
    )
    assert refusal(FeatureUpdate("transaction.version", 99)) == (
        "Invalid update version 99 for feature transaction.version. Local controller 1 only "
        "supports versions 0-2"
    )
    assert refusal(FeatureUpdate("transaction.version", 1)) == (
        "Invalid update version 1 for feature transaction.version. Can't downgrade the version "
        "of this feature without setting the upgrade type to either safe or unsafe downgrade."
    )
    assert refusal(FeatureUpdate("group.version", 1, 7)) == (
        "Invalid update version 1 for feature group.version. The controller does not support "
        "the given upgrade type."
    )
    assert refusal(FeatureUpdate("group.version", -1)) == (
        "Invalid update version -1 for feature group.version. A feature version cannot be less "
        "than 0."
    )
    assert refusal(FeatureUpdate("metadata.version", 21, 2)) == (
        "Unsupported metadata.version downgrade from 33 to 21. Refusing to perform the "
        "requested downgrade because it might delete metadata information."
    )
    assert refusal(FeatureUpdate("metadata.version", 21, 3)) == (
        "Unsupported metadata.version downgrade from 33 to 21. Unsafe metadata downgrade is not "
        "supported in this version."
    )
    assert refusal(FeatureUpdate("metadata.version", 0, 3)) == (
        "Invalid update version 0 for feature metadata.version. Local controller 1 only "
        "supports versions 7-33"
    )


def test_accepted_updates_become_feature_level_records() -> None:
    updates = (FeatureUpdate("transaction.version", 1, 2), FeatureUpdate("group.version", 1))
    error, records = update_features(updates, FINALIZED, SUPPORTED, {}, 1)
    assert error is None
    assert records == [
        FeatureLevelRecord(name="transaction.version", feature_level=1),
        FeatureLevelRecord(name="group.version", feature_level=1),  # the same level: written
    ]
    assert refusal(FeatureUpdate("transaction.version", 0, 3)) is None


def test_one_refusal_fails_them_all_and_brokers_are_asked() -> None:
    ok, bad = FeatureUpdate("transaction.version", 2), FeatureUpdate("no.such", 1)
    assert refusal(ok, bad) is not None
    brokers = {2: {"transaction.version": (0, 1)}, 3: {}}
    assert refusal(ok, brokers=brokers) == (
        "Invalid update version 2 for feature transaction.version. Broker 2 only supports "
        "versions 0-1"
    )
