"""UpdateFeatures (KIP-584, KIP-1022): Kafka's validation, and a finalized level that changes
and shows in ApiVersions. The probes expect transaction.version 2 finalized (a new Kafka 4.4
cluster's default) and leave it so."""

from __future__ import annotations

import datetime
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from kio.schema.errors import ErrorCode

from conformance.target import Target, require_api

FAILED = "The update failed for all features since the following feature had an error: "
TV = "transaction.version"
MV = "metadata.version"
TIMEOUT = datetime.timedelta(seconds=15)
DEADLINE_S = 15.0


def update(target: Target, version: int, *updates: tuple[str, int, int], **more: Any) -> Any:
    entries = [
        {"feature": name, "max_version_level": level}
        | ({"upgrade_type": kind} if version >= 1 else {"allow_downgrade": kind > 1})
        for name, level, kind in updates
    ]
    return target.call(
        "UpdateFeatures", version, version, timeout=TIMEOUT, feature_updates=entries, **more
    )


def finalized(target: Target) -> tuple[dict[str, int], int]:
    answer = target.call(
        "ApiVersions", 3, 3, client_software_name="conform", client_software_version="1"
    )
    levels = {f.name: f.max_version_level for f in answer.finalized_features}
    return levels, answer.finalized_features_epoch


def refused(answer: Any) -> str:
    assert answer.error_code == ErrorCode.invalid_update_version, answer
    assert answer.error_message.startswith(FAILED), answer.error_message
    assert getattr(answer, "results", ()) == ()
    return str(answer.error_message).removeprefix(FAILED)


@pytest.fixture
def tv2(target: Target) -> Iterator[None]:
    require_api(target, "UpdateFeatures")
    if finalized(target)[0].get(TV) != 2:
        pytest.skip("transaction.version 2 is not finalized")
    yield
    update(target, 2, (TV, 2, 1))


@pytest.mark.api("UpdateFeatures", behaviour="an unknown feature: INVALID_UPDATE_VERSION")
@pytest.mark.parametrize("version", [0, 1, 2])
def test_unknown_feature(target: Target, version: int) -> None:
    reason = refused(update(target, version, ("no.such", 1, 1)))
    assert re.fullmatch(
        r"Invalid update version 1 for feature no\.such\. Local controller \d+ does not "
        r"support this feature\.",
        reason,
    ), reason


@pytest.mark.api("UpdateFeatures", behaviour="a level out of the supported range, below 0")
@pytest.mark.parametrize("version", [0, 1, 2])
def test_out_of_range(target: Target, tv2: None, version: int) -> None:
    reason = refused(update(target, version, (TV, 99, 1)))
    assert re.fullmatch(
        r"Invalid update version 99 for feature transaction\.version\. Local controller \d+ "
        r"only supports versions 0-2",
        reason,
    ), reason
    assert refused(update(target, version, (TV, -1, 1))) == (
        "Invalid update version -1 for feature transaction.version. A feature version cannot "
        "be less than 0."
    )


@pytest.mark.api("UpdateFeatures", behaviour="a downgrade needs a downgrade type (v0: never)")
@pytest.mark.parametrize("version", [0, 1, 2])
def test_downgrade_needs_its_type(target: Target, tv2: None, version: int) -> None:
    assert refused(update(target, version, (TV, 1, 2 if version == 0 else 1))) == (
        "Invalid update version 1 for feature transaction.version. Can't downgrade the version "
        "of this feature without setting the upgrade type to either safe or unsafe downgrade."
    )


@pytest.mark.api("UpdateFeatures", behaviour="an unknown upgrade type: INVALID_UPDATE_VERSION")
@pytest.mark.parametrize("version", [1, 2])
def test_unknown_upgrade_type(target: Target, tv2: None, version: int) -> None:
    assert refused(update(target, version, (TV, 2, 7), validate_only=True)) == (
        "Invalid update version 2 for feature transaction.version. The controller does not "
        "support the given upgrade type."
    )


@pytest.mark.api("UpdateFeatures", behaviour="metadata.version: no unsafe downgrade")
@pytest.mark.parametrize("version", [1, 2])
def test_no_unsafe_metadata_downgrade(target: Target, version: int) -> None:
    require_api(target, "UpdateFeatures", version, version)
    current = finalized(target)[0][MV]
    assert refused(update(target, version, (MV, current - 1, 3), validate_only=True)) == (
        f"Unsupported metadata.version downgrade from {current} to {current - 1}. Unsafe "
        "metadata downgrade is not supported in this version."
    )


@pytest.mark.api("UpdateFeatures", behaviour="validate_only: NONE, nothing changes")
@pytest.mark.parametrize("version", [1, 2])
def test_validate_only(target: Target, tv2: None, version: int) -> None:
    before = finalized(target)
    answer = update(target, version, (TV, 1, 2), validate_only=True)
    assert answer.error_code == ErrorCode.none, answer
    if version == 1:
        assert [(r.feature, r.error_code, r.error_message) for r in answer.results] == [
            (TV, ErrorCode.none, "NONE")
        ]
    assert finalized(target)[0] == before[0]


@pytest.mark.api(
    "UpdateFeatures", behaviour="a safe downgrade and an upgrade: ApiVersions' levels and epoch"
)
def test_downgrade_and_upgrade_show_in_api_versions(target: Target, tv2: None) -> None:
    _, epoch = finalized(target)
    assert update(target, 2, (TV, 1, 2)).error_code == ErrorCode.none
    downgraded = wait_level(target, TV, 1)
    assert downgraded > epoch
    assert update(target, 2, (TV, 2, 1)).error_code == ErrorCode.none
    assert wait_level(target, TV, 2) > downgraded


def wait_level(target: Target, name: str, level: int) -> int:
    deadline = time.monotonic() + DEADLINE_S
    while True:
        levels, epoch = finalized(target)
        if levels.get(name) == level:
            return epoch
        assert time.monotonic() < deadline, f"{name} is {levels.get(name)}, not {level}"
        time.sleep(0.05)
