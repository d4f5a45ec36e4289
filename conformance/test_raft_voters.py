"""AddRaftVoter and RemoveRaftVoter (KIP-853): the answers that leave the voter set unchanged.

A static quorum (``controller.quorum.voters``, kraft.version 0: DescribeQuorum v2 shows no
voter directory id) refuses both with UNSUPPORTED_VERSION; a dynamic one (kraft.version 1)
answers VOTER_NOT_FOUND for a voter it does not have. Both check the cluster id first."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

import pytest
from kio.schema.errors import ErrorCode

from conformance.target import Target, require_api

METADATA = "__cluster_metadata"
NOT_A_VOTER = 99
TIMEOUT = datetime.timedelta(seconds=1)
LISTENER = {"name": "CONTROLLER", "host": "127.0.0.1", "port": 1}


def static_quorum(target: Target) -> bool:
    require_api(target, "DescribeQuorum", 2)
    wanted = [{"topic_name": METADATA, "partitions": [{"partition_index": 0}]}]
    answer = target.call("DescribeQuorum", 2, 2, topics=wanted)
    [part] = answer.topics[0].partitions
    return all(v.replica_directory_id in (None, uuid.UUID(int=0)) for v in part.current_voters)


def add_voter(target: Target, version: int, cluster_id: str | None) -> Any:
    return target.call(
        "AddRaftVoter",
        version,
        version,
        cluster_id=cluster_id,
        timeout=TIMEOUT,
        voter_id=NOT_A_VOTER,
        voter_directory_id=uuid.uuid4(),
        listeners=[LISTENER],
    )


def remove_voter(target: Target, cluster_id: str | None) -> Any:
    return target.call(
        "RemoveRaftVoter",
        0,
        0,
        cluster_id=cluster_id,
        voter_id=NOT_A_VOTER,
        voter_directory_id=uuid.uuid4(),
    )


def mismatch(target: Target) -> str:
    return f'The given id "nope" doesn\'t match the cluster id "{target.cluster_id}"'


@pytest.mark.api("AddRaftVoter", behaviour="another cluster's id: INCONSISTENT_CLUSTER_ID")
@pytest.mark.parametrize("version", [0, 1])
def test_add_voter_other_cluster(target: Target, version: int) -> None:
    answer = add_voter(target, version, "nope")
    assert (answer.error_code, answer.error_message) == (
        ErrorCode.inconsistent_cluster_id,
        mismatch(target),
    )


@pytest.mark.api("RemoveRaftVoter", behaviour="another cluster's id: INCONSISTENT_CLUSTER_ID")
def test_remove_voter_other_cluster(target: Target) -> None:
    answer = remove_voter(target, "nope")
    assert (answer.error_code, answer.error_message) == (
        ErrorCode.inconsistent_cluster_id,
        mismatch(target),
    )


@pytest.mark.api(
    "RemoveRaftVoter",
    behaviour="not a voter: UNSUPPORTED_VERSION (static quorum) or VOTER_NOT_FOUND (dynamic)",
)
def test_remove_unknown_voter(target: Target) -> None:
    answer = remove_voter(target, target.cluster_id)
    if static_quorum(target):
        assert (answer.error_code, answer.error_message) == (
            ErrorCode.unsupported_version,
            "Cluster doesn't support removing voter because the kraft.version feature is 0",
        )
    else:
        assert answer.error_code == ErrorCode.voter_not_found
        assert f"id={NOT_A_VOTER}," in answer.error_message


@pytest.mark.api(
    "AddRaftVoter",
    behaviour="an unreachable new voter: UNSUPPORTED_VERSION (static) or REQUEST_TIMED_OUT",
)
@pytest.mark.parametrize("version", [0, 1])
def test_add_unreachable_voter(target: Target, version: int) -> None:
    answer = add_voter(target, version, None)
    if static_quorum(target):
        assert (answer.error_code, answer.error_message) == (
            ErrorCode.unsupported_version,
            "Cluster doesn't support adding voter because the kraft.version feature is 0",
        )
    else:
        assert answer.error_code == ErrorCode.request_timed_out


def active_controller(target: Target) -> int:
    """The quorum leader (DescribeQuorum): the active controller."""
    require_api(target, "DescribeQuorum", 2)
    wanted = [{"topic_name": METADATA, "partitions": [{"partition_index": 0}]}]
    answer = target.call("DescribeQuorum", 2, 2, topics=wanted)
    return int(answer.topics[0].partitions[0].leader_id)


def unregister_controller(target: Target, controller_id: int) -> Any:
    return target.call("UnregisterController", 0, 0, controller_id=controller_id)


@pytest.mark.api("UnregisterController", behaviour="the active controller: INVALID_REQUEST")
def test_unregister_active_controller(target: Target) -> None:
    answer = unregister_controller(target, active_controller(target))
    assert (answer.error_code, answer.error_message) == (
        ErrorCode.invalid_request,
        "Controller cannot unregister itself while it is active.",
    )


@pytest.mark.api("UnregisterController", behaviour="an unregistered id: error 136")
def test_unregister_unknown_controller(target: Target) -> None:
    answer = unregister_controller(target, NOT_A_VOTER)
    assert (answer.error_code, answer.error_message) == (
        136,
        f"Controller ID {NOT_A_VOTER} is not currently registered.",
    )
