"""AddRaftVoter and RemoveRaftVoter on refka's static quorum: the controller's refusals, and
the broker's answer when forwarding fails."""

from __future__ import annotations

from kio.schema.errors import ErrorCode
from refka.broker.forwarding import failed
from refka.controller.raft_voters import ADD_RAFT_VOTER, REMOVE_RAFT_VOTER, refusal
from refka.core.context import RequestContext


def test_the_cluster_id_first_then_kraft_version_0() -> None:
    assert refusal(ADD_RAFT_VOTER, "other", "mine") == (
        ErrorCode.inconsistent_cluster_id,
        'The given id "other" doesn\'t match the cluster id "mine"',
    )
    assert refusal(REMOVE_RAFT_VOTER, None, "mine") == (
        ErrorCode.unsupported_version,
        "Cluster doesn't support removing voter because the kraft.version feature is 0",
    )
    assert refusal(ADD_RAFT_VOTER, "mine", "mine")[1].startswith("Cluster doesn't support adding")


def test_a_forwarded_voter_change_that_fails_gets_its_own_response() -> None:
    """The broker's answer when the controller cannot be reached (or ACLs refuse)."""
    for key, name in ((80, "AddRaftVoterResponse"), (81, "RemoveRaftVoterResponse")):
        answer = failed(RequestContext(1, 1, key, 0, None, 0, 0), None)
        assert type(answer).__name__ == name
        assert answer.error_code == ErrorCode.request_timed_out
