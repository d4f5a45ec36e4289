"""The replication bug switches (``refka.bugs``), each scenario run with the switch off
(Kafka's rule holds) and on (the TLA+ bug configuration's counterexample happens):

- TRUNCATE_TO_HIGH_WATERMARK (spec/bugs/Replication_TruncateToHighWatermark.cfg)
- FAST_LEADER_CHANGE (Replication_FastLeaderChange.cfg)
- STALE_EPOCH_FETCH (Replication_StaleEpochFetch.cfg)
- ACK_BEFORE_ISR (Replication_AckBeforeIsr.cfg)
- HIGH_WATERMARK_REGRESSION (Replication_HighWatermarkRegression.cfg)
- NO_IDEMPOTENCE_WINDOW (Delivery_RetriesWithoutIdempotence.cfg)
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from kio.schema.errors import ErrorCode
from refka.core.context import PENDING, RequestContext
from refka.protocol.records import NewRecord, build_batch
from refka.replica import Replica
from refka.replication.fetcher_config import FetcherConfig, TruncationMode
from refka.replication.replica_fetcher import FetchState
from replication_helpers import TOPIC, Cluster, epochs_of, make_replica
from test_replica_fetcher import (
    TP,
    ScriptedClient,
    epoch_answer,
    fetch_answer,
    fetcher_for,
    follower_with_epochs,
)

ON_OFF = [pytest.param(False, id="kafka"), pytest.param(True, id="bug")]


def set_leader(cluster: Cluster, leader: int, epoch: int, nodes: list[int]) -> None:
    """ElectLeader, published only to ``nodes`` (the others keep their old metadata)."""
    reg = cluster.registrations[TP]
    cluster.registrations[TP] = replace(
        reg, leader=leader, leader_epoch=epoch, partition_epoch=reg.partition_epoch + 1
    )
    cluster.publish([TP], nodes)


# ------------------------------------------------------------ TruncateToHighWatermark


@pytest.mark.parametrize("bug", ON_OFF)
def test_truncate_to_high_watermark_loses_an_acknowledged_record(bug: bool) -> None:
    """LeaderCompleteness: r2 holds the committed record but has not learnt the HW yet; it
    restarts (BecomeFollower again) and r1 dies. Before KIP-101 r2 cut its log to its own HW
    0 and led without the record; with OffsetsForLeaderEpoch it keeps it."""
    mode = TruncationMode.HIGH_WATERMARK if bug else TruncationMode.KIP279
    cluster = Cluster(node_ids=(1, 2), fetcher_switches={"truncation": mode})
    cluster.run(2)
    cluster.produce(1)
    cluster.run(2)  # r2 fetched the record; r1's HW passed it (acks=all acknowledged)
    assert cluster.replica(1).high_watermark == 1
    assert (cluster.replica(2).log_end_offset, cluster.replica(2).high_watermark) == (1, 0)
    cluster.restart(2)
    cluster.publish([TP], [2])  # r2 starts following r1 again
    cluster.down.add(1)
    cluster.run(2)
    cluster.elect(2, isr=(2,))
    leader = cluster.replica(2)
    assert leader.is_leader
    assert leader.log_end_offset == (0 if bug else 1)


def test_truncation_to_the_high_watermark_sends_no_epoch_request() -> None:
    replica = follower_with_epochs([1, 1, 2], leader_epoch=3)
    replica.update_high_watermark_from_leader(1)
    client = ScriptedClient()
    config = FetcherConfig(fetch_version=12, truncation=TruncationMode.HIGH_WATERMARK)
    fetcher = fetcher_for(replica, client, config)
    assert epochs_of(replica) == [1] and fetcher.state_of(TP) is FetchState.FETCHING
    fetcher.poll(0)
    sent = client.sent[0][0].topics[0].partitions[0]
    assert client.sent[0][0].__api_key__ == 1  # a Fetch, no OffsetsForLeaderEpoch
    assert (sent.fetch_offset, sent.last_fetched_epoch) == (1, -1)


def test_truncation_to_the_high_watermark_is_traced_as_become_follower() -> None:
    """The truncation is Replication.tla's BecomeFollower under TruncationMode "HighWatermark":
    traced as such, so that a schedule's ``run_until`` can stop at it."""
    from refka.core.trace import BecomeFollower

    replica = follower_with_epochs([1, 1, 2], leader_epoch=3)
    replica.update_high_watermark_from_leader(1)
    seen: list[Any] = []
    replica.tracer = seen.append
    config = FetcherConfig(fetch_version=12, truncation=TruncationMode.HIGH_WATERMARK)
    fetcher_for(replica, ScriptedClient(), config)
    steps = [e for e in seen if isinstance(e, BecomeFollower)]
    assert [(e.leader_epoch, e.truncation_offset, e.high_watermark) for e in steps] == [(3, 1, 1)]


def test_ahead_of_the_leader_a_high_watermark_follower_asks_for_the_latest_offset() -> None:
    """OFFSET_OUT_OF_RANGE above the leader's log start: before KIP-101 the follower cut its
    log to the leader's end (here its HW, what ListOffsets LATEST answers)."""
    replica = follower_with_epochs([1, 1, 1], leader_epoch=3)
    replica.update_high_watermark_from_leader(3)
    client = ScriptedClient()
    config = FetcherConfig(fetch_version=12, truncation=TruncationMode.HIGH_WATERMARK)
    fetcher = fetcher_for(replica, client, config)
    fetcher.poll(0)
    client.answer(fetch_answer(ErrorCode.offset_out_of_range, hw=-1))
    assert fetcher.state_of(TP) is FetchState.RESETTING
    fetcher.poll(0)
    earliest = client.answer(list_offsets_answer(0))
    assert earliest.topics[0].partitions[0].timestamp == -2
    fetcher.poll(0)
    latest = client.answer(list_offsets_answer(2))
    assert latest.topics[0].partitions[0].timestamp == -1
    assert replica.log_end_offset == 2 and fetcher.state_of(TP) is FetchState.FETCHING


def list_offsets_answer(offset: int) -> Any:
    from refka.protocol import codec

    m = codec.response_module(2, 7)
    return codec.build(
        m.ListOffsetsResponse,
        throttle_time=codec.millis(0),
        topics=(
            codec.build(
                m.ListOffsetsTopicResponse,
                name=TOPIC,
                partitions=(
                    codec.build(
                        m.ListOffsetsPartitionResponse,
                        partition_index=0,
                        error_code=ErrorCode.none,
                        timestamp=-1,
                        offset=offset,
                        leader_epoch=-1,
                    ),
                ),
            ),
        ),
    )


# ------------------------------------------------------------------ FastLeaderChange


@pytest.mark.parametrize("bug", ON_OFF)
def test_fast_leader_change_keeps_a_diverging_record(bug: bool) -> None:
    """The cfg's counterexample: r2 holds (0, epoch 2); r1 leads epoch 3 with [1, 1] and
    answers (epoch 1, end 2) for epoch 2. KIP-101's one round truncates to min(2, LEO 1) and
    keeps (0, 2): the logs diverge at offset 0 (LogMatching). KIP-279 truncates to 0."""
    replica = follower_with_epochs([2], leader_epoch=3)
    client = ScriptedClient()
    mode = TruncationMode.KIP101 if bug else TruncationMode.KIP279
    fetcher = fetcher_for(replica, client, FetcherConfig(fetch_version=12, truncation=mode))
    fetcher.poll(0)
    client.answer(epoch_answer(1, 2))
    assert fetcher.state_of(TP) is FetchState.FETCHING
    assert epochs_of(replica) == ([2] if bug else [])
    if bug:  # Fetch before v12 (KIP-595): no last fetched epoch, no diverging epoch answer
        fetcher.poll(0)
        assert client.sent[0][0].topics[0].partitions[0].last_fetched_epoch == -1


@pytest.mark.parametrize("bug", ON_OFF)
def test_fast_leader_changes_in_a_cluster_diverge_the_logs(bug: bool) -> None:
    """r1 appends (0,0), (1,0) alone; r2 leads epoch 1 alone and appends (0,1); r1 leads
    epoch 2. r2 follows and asks for its epoch 1: r1 answers (epoch 0, end 2). KIP-101 cuts
    r2 to min(2, its LEO 1), keeps (0,1), then fetches (1,0): r2 = [1, 0] and r1 = [0, 0]
    hold the record (1,0) after different prefixes (LogMatching). KIP-279 sees that r2 has
    no epoch 0 and cuts to 0."""
    mode = TruncationMode.KIP101 if bug else TruncationMode.KIP279
    cluster = Cluster(node_ids=(1, 2), fetcher_switches={"truncation": mode})
    cluster.down = {2}
    cluster.produce(1, acks=1)  # (0,0), (1,0) on r1 only, one batch each
    cluster.produce(1, acks=1)
    cluster.down = {1}
    set_leader(cluster, 2, 1, [2])
    cluster.produce(1, acks=1)  # (0,1) on r2 only
    cluster.down = {2}
    set_leader(cluster, 1, 2, [1])
    cluster.down = set()
    cluster.publish([TP], [2])  # r2 follows r1 in epoch 2
    cluster.tick(1_000)
    cluster.run(6)
    assert epochs_of(cluster.replica(1)) == [0, 0]
    assert epochs_of(cluster.replica(2)) == ([1, 0] if bug else [0, 0])


# ------------------------------------------------------------------- StaleEpochFetch


def fencing_cluster(bug: bool) -> Cluster:
    return Cluster(
        switches={"fence_leader_epochs": not bug},
        fetcher_switches={"fence_epochs": not bug},
    )


@pytest.mark.parametrize("bug", ON_OFF)
def test_the_leader_fences_stale_and_unknown_epochs_only_without_the_switch(bug: bool) -> None:
    cluster = fencing_cluster(bug)
    cluster.elect(1)  # epoch 1
    manager = cluster.managers[1]
    stale = manager.fetch_for_follower(TOPIC, 0, 2, 0, 0, -1, 1 << 20, True, 0)
    newer = manager.offset_for_leader_epoch(TOPIC, 0, 5, 1)
    if bug:
        assert stale.error_code == ErrorCode.none and newer[0] == ErrorCode.none
    else:
        assert stale.error_code == ErrorCode.fenced_leader_epoch
        assert newer[0] == ErrorCode.unknown_leader_epoch


@pytest.mark.parametrize("bug", ON_OFF)
def test_stale_epoch_fetch_diverges_a_follower_with_old_metadata(bug: bool) -> None:
    """Replication_StaleEpochFetch.cfg: r3 keeps epoch 0 metadata (it missed two elections)
    and the uncommitted (0,0) r1 wrote then. r2 leads epoch 1 with (0,1); r1 leads epoch 2
    with (0,1), (1,2). Unfenced, r3's fetch at offset 1 gets (1,2) after its (0,0):
    LogMatching breaks. KIP-320: FENCED_LEADER_EPOCH, r3 waits for metadata."""
    cluster = fencing_cluster(bug)
    cluster.run(2)
    cluster.down.add(2)
    cluster.produce(1, acks=1)  # (0,0): r3 fetches it, r2 does not; not committed
    cluster.run(2)
    assert epochs_of(cluster.replica(3)) == [0]
    cluster.down = {3}
    set_leader(cluster, 2, 1, [1, 2])
    cluster.produce(1, acks=1)  # (0,1) on r2
    cluster.tick(1_000)
    cluster.run(4)
    assert epochs_of(cluster.replica(1)) == [1]  # r1 truncated its (0,0)
    set_leader(cluster, 1, 2, [1, 2])
    cluster.produce(1, acks=1)  # (1,2) on r1
    cluster.run(2)
    cluster.down = set()
    assert cluster.replica(3).leader_epoch == 0  # old metadata
    cluster.tick(1_000)
    cluster.run(4)
    r1, r3 = epochs_of(cluster.replica(1)), epochs_of(cluster.replica(3))
    assert r1 == [1, 2]
    if bug:
        assert r3 == [0, 2]  # the record (1,2) after a prefix r1 does not hold
    else:
        assert r3 == [0]
        assert cluster.managers[3].fetchers[1].state_of(TP) is None  # fenced


# -------------------------------------------------------------------- AckBeforeIsr


@pytest.mark.parametrize("bug", ON_OFF)
def test_ack_before_isr_answers_acks_all_on_append(bug: bool) -> None:
    cluster = Cluster(switches={"ack_before_isr": bug})
    cluster.down.add(3)
    result = cluster.produce(1)
    ctx = RequestContext(1, 1, 0, 11, "producer", cluster.now_ms, 0)
    answer = cluster.managers[1].delay_produce(ctx, 1_000, {TP: result}, lambda r: r)
    if bug:
        assert answer[TP].error_code == ErrorCode.none  # acknowledged, r3 lacks the record
        assert cluster.replica(1).high_watermark == 0
    else:
        assert answer is PENDING


# ------------------------------------------------------- HighWatermarkRegression


@pytest.mark.parametrize("bug", ON_OFF)
def test_a_new_leader_exposes_its_lagging_high_watermark_only_under_the_switch(
    bug: bool,
) -> None:
    """KAFKA-2334: consumers saw HW 2 from r1; r2 takes over with HW 0. KIP-207 hides it
    (ListOffsets LATEST: OFFSET_NOT_AVAILABLE) until it reaches the epoch start."""
    cluster = Cluster(node_ids=(1, 2), switches={"hide_lagging_high_watermark": not bug})
    cluster.run(2)
    cluster.produce(2)
    cluster.run(2)
    old = cluster.replica(1)
    assert old.high_watermark == 2 and old.is_high_watermark_exposable
    cluster.elect(2)  # r1 follows, but has not fetched in epoch 1 yet
    new = cluster.replica(2)
    assert new.high_watermark < old.high_watermark  # it lags
    assert new.is_high_watermark_exposable is bug


# -------------------------------------------------------------- no idempotence window


def idempotent_batch(sequence: int) -> bytes:
    records = [NewRecord(None, b"x", (), 0)]
    return build_batch(records, producer_id=7, producer_epoch=0, base_sequence=sequence)


@pytest.mark.parametrize("bug", ON_OFF)
def test_a_retried_idempotent_batch_is_appended_again_only_under_the_switch(bug: bool) -> None:
    """Delivery.tla NoDuplicateAppends: the retry of a batch whose first attempt was
    appended gets the first attempt's offset back (KIP-98), or is appended again."""
    storage_replica = make_replica()
    replica = Replica(storage_replica.log, 1, 0, deduplicate_batches=not bug)
    replica.become_leader(1, 0, (1,), (1,))
    first = replica.append_as_leader(idempotent_batch(0), 0, 1, -1)
    retry = replica.append_as_leader(idempotent_batch(0), 0, 1, -1)
    assert first.error_code == retry.error_code == ErrorCode.none
    assert first.base_offset == 0
    assert retry.base_offset == (1 if bug else 0)
    assert replica.log_end_offset == (2 if bug else 1)
    following = replica.append_as_leader(idempotent_batch(1), 0, 1, -1)
    assert following.error_code == ErrorCode.none  # the sequence goes on either way
    assert replica.log_end_offset == (3 if bug else 2)
