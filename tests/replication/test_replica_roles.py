"""Replica roles (BecomeLeader / BecomeFollower), the high watermark (AdvanceHighWatermark), and
reads: consumers never see at or past the high watermark."""

from __future__ import annotations

import pytest
from kio.schema.errors import ErrorCode
from refka.protocol.batch_header import iter_headers
from refka.protocol.records import NewRecord, build_batch
from refka.replica import (
    VALID_PREVIOUS_ROLES,
    IllegalReplicaTransition,
    ReplicaRole,
)
from replication_helpers import client_batch, epochs_of, make_replica


def test_transition_table_names_every_role() -> None:
    assert set(VALID_PREVIOUS_ROLES) == set(ReplicaRole)
    assert ReplicaRole.STOPPED not in set().union(*VALID_PREVIOUS_ROLES.values())


def test_illegal_transition_raises_and_leaves_the_replica_unchanged() -> None:
    replica = make_replica()
    replica.become_leader(3, 1, (1, 2), (1, 2), now_ms=0)
    before = (replica.role, replica.leader_epoch, replica.partition_epoch, replica.isr)
    with pytest.raises(IllegalReplicaTransition):
        replica.become_follower(2, 5, 2, (1, 2))  # an older leader epoch
    with pytest.raises(IllegalReplicaTransition):
        replica.become_leader(2, 5, (1,), (1, 2))
    assert (replica.role, replica.leader_epoch, replica.partition_epoch, replica.isr) == before
    replica.stop()
    with pytest.raises(IllegalReplicaTransition):
        replica.become_leader(9, 9, (1,), (1,))  # nothing leaves STOPPED
    assert replica.role is ReplicaRole.STOPPED


def test_become_leader_starts_the_epoch_at_the_log_end_offset() -> None:
    """BecomeLeader (KIP-101): the new epoch's entry starts at the LEO."""
    replica = make_replica()
    replica.become_leader(1, 0, (1,), (1,))
    replica.append_as_leader(client_batch(2), 0, 1, -1)
    assert replica.become_leader(4, 1, (1,), (1,)) is True
    assert replica.epoch_cache.entries == [(1, 0), (4, 2)]
    assert replica.become_leader(4, 2, (1,), (1,)) is False  # same epoch: an ISR update only


def test_become_follower_reports_when_the_fetcher_must_restart() -> None:
    replica = make_replica(node_id=2)
    assert replica.become_follower(1, 0, 1, (1, 2)) is True
    assert replica.become_follower(1, 1, 1, (1, 2)) is False  # partition epoch only
    assert replica.become_follower(2, 2, 3, (1, 2, 3)) is True
    assert replica.leader_id == 3 and replica.role is ReplicaRole.FOLLOWER


def test_read_uncommitted_consumer_stops_at_the_high_watermark() -> None:
    """The bug: a read_uncommitted consumer read up to the LEO. Records a follower lacks are
    not committed and may be truncated by a new leader; consumers must not see them."""
    replica = make_replica()
    replica.become_leader(1, 0, (1, 2), (1, 2))
    replica.append_as_leader(client_batch(3), 0, 1, 1)
    assert replica.high_watermark == 0 and replica.log_end_offset == 3
    uncommitted = replica.read(0, 1 << 20, True, committed_only=False)
    committed = replica.read(0, 1 << 20, True, committed_only=True)
    assert uncommitted.slices == [] and committed.slices == []
    assert replica.read_for_follower(0, 1 << 20, True).size > 0
    replica.update_follower_fetch_state(2, 3, now_ms=1)
    assert replica.high_watermark == 3
    assert replica.read(0, 1 << 20, True, committed_only=False).size > 0


def test_high_watermark_is_the_min_leo_of_the_isr_and_never_moves_back() -> None:
    replica = make_replica()
    replica.become_leader(1, 0, (1, 2, 3), (1, 2, 3))
    replica.append_as_leader(client_batch(4), 0, 1, 1)
    replica.update_follower_fetch_state(2, 4, 1)
    assert replica.high_watermark == 0  # 3 has not fetched
    replica.update_follower_fetch_state(3, 2, 1)
    assert replica.high_watermark == 2
    replica.update_follower_fetch_state(3, 1, 2)  # a lower fetch offset (a truncated follower)
    assert replica.high_watermark == 2


def test_high_watermark_frozen_below_min_insync_replicas() -> None:
    """KIP-966 strict min ISR: with ISR {1} and min.insync.replicas=2 nothing commits."""
    replica = make_replica(min_isr=2)
    replica.become_leader(1, 0, (1,), (1, 2))
    replica.append_as_leader(client_batch(2), 0, 2, 1)
    assert replica.high_watermark == 0
    result = replica.append_as_leader(client_batch(1), 0, 2, -1)
    assert result.error_code == ErrorCode.not_enough_replicas
    assert replica.log_end_offset == 2  # nothing appended


def test_maximal_isr_holds_the_high_watermark_during_an_expansion() -> None:
    """KIP-497 (Election.tla CommitIsr, bug CommitBeforeIsrExpansion)."""
    replica = make_replica()
    replica.become_leader(1, 0, (1,), (1, 2))
    replica.pending_isr = frozenset({1, 2})
    replica.append_as_leader(client_batch(1), 0, 1, 1)
    assert replica.high_watermark == 0
    replica.update_follower_fetch_state(2, 1, 1)
    assert replica.high_watermark == 1


def test_append_as_follower_keeps_the_leaders_offsets_and_epochs() -> None:
    leader = make_replica(node_id=1)
    leader.become_leader(5, 0, (1, 2), (1, 2))
    leader.append_as_leader(client_batch(2), 0, 1, 1)
    data = leader.log.read_bytes(leader.read_for_follower(0, 1 << 20, True).slices)
    follower = make_replica(node_id=2)
    follower.become_follower(5, 0, 1, (1, 2))
    assert follower.append_as_follower(data, 0) == 2
    assert follower.log.read_bytes(follower.read_for_follower(0, 1 << 20, True).slices) == data
    assert epochs_of(follower) == [5, 5]
    assert follower.epoch_cache.entries == [(5, 0)]
    with pytest.raises(ValueError):
        follower.append_as_follower(data, 0)  # offsets 0-1 again: not at the LEO
    follower.update_high_watermark_from_leader(7)
    assert follower.high_watermark == 2  # bounded by its own LEO


def test_append_as_follower_updates_producer_state() -> None:
    leader = make_replica(node_id=1)
    leader.become_leader(1, 0, (1, 2), (1, 2))
    batch = build_batch(
        [NewRecord(None, b"x", (), 0)], producer_id=7, producer_epoch=0, base_sequence=0
    )
    leader.append_as_leader(batch, 0, 1, 1)
    data = leader.log.read_bytes(leader.read_for_follower(0, 1 << 20, True).slices)
    follower = make_replica(node_id=2)
    follower.become_follower(1, 0, 1, (1, 2))
    follower.append_as_follower(data, 0)
    header = next(iter_headers(data))
    assert follower.producer_state.check_sequence(header).__class__.__name__ == "SequenceDuplicate"


def test_append_as_follower_refused_on_a_leader() -> None:
    replica = make_replica()
    replica.become_leader(1, 0, (1,), (1,))
    with pytest.raises(IllegalReplicaTransition):
        replica.append_as_follower(b"", 0)
