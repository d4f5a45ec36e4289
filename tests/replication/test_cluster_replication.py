"""Three (or two) ReplicaManagers replicating through a fake network and a fake controller:
FollowerFetch, AdvanceHighWatermark, ShrinkIsr / ExpandIsr through AlterPartition, acks=all
through DelayedProduce, leader changes with truncation."""

from __future__ import annotations

from typing import Any

from kio.schema.errors import ErrorCode
from refka.core.context import PENDING, RequestContext
from refka.handlers import offset_for_leader_epoch
from refka.protocol import codec
from refka.replica import AppendResult, ReplicaRole
from refka.replication.replica_fetcher import FetchState
from replication_helpers import TOPIC, Cluster, epochs_of, wire

TP = (TOPIC, 0)


def ctx(now_ms: int) -> RequestContext:
    return RequestContext(1, 1, 0, 11, "producer", now_ms, 0)


def wait_all(cluster: Cluster, leader: int, result: AppendResult, timeout_ms: int) -> Any:
    """acks=all: park the request as the Produce handler will."""
    return cluster.managers[leader].delay_produce(
        ctx(cluster.now_ms), timeout_ms, {TP: result}, lambda results: results
    )


def test_roles_follow_the_registration() -> None:
    cluster = Cluster()
    assert cluster.replica(1).role is ReplicaRole.LEADER
    assert cluster.replica(2).role is ReplicaRole.FOLLOWER
    assert cluster.replica(3).leader_id == 1
    assert set(cluster.managers[2].fetchers) == {1}


def test_followers_replicate_and_the_high_watermark_advances() -> None:
    cluster = Cluster()
    result = cluster.produce(3, acks=1)
    assert result.error_code == ErrorCode.none and result.base_offset == 0
    assert cluster.replica(1).high_watermark == 0
    cluster.run(4)
    for n in (1, 2, 3):
        assert epochs_of(cluster.replica(n)) == [0, 0, 0]
    assert cluster.replica(1).high_watermark == 3
    assert cluster.replica(2).high_watermark == 3  # learned on the next fetch


def test_fetch_v17_carries_replica_state_and_topic_ids() -> None:
    """Fetch v15+: ReplicaState(replica_id, replica_epoch = broker epoch), topics by id."""
    cluster = Cluster(fetch_version=17)
    cluster.produce(2, acks=1)
    cluster.run(4)
    assert epochs_of(cluster.replica(3)) == [0, 0]
    assert cluster.replica(1).high_watermark == 2
    assert cluster.replica(1).followers[2].broker_epoch == 102


def test_offset_for_leader_epoch_handler() -> None:
    """Key 23 v4 on the wire: a follower answers only a debugging request (replica id -2)."""
    cluster = Cluster(node_ids=(1, 2))
    cluster.produce(2, acks=1)
    cluster.run(3)
    m = codec.request_module(23, 4)

    def ask(node: int, replica_id: int) -> Any:
        request = m.OffsetForLeaderEpochRequest(
            replica_id=replica_id,
            topics=(
                m.OffsetForLeaderTopic(
                    topic=TOPIC,
                    partitions=(m.OffsetForLeaderPartition(partition=0, leader_epoch=0),),
                ),
            ),
        )
        ctx = RequestContext(1, 1, 23, 4, "c", 0, 0)
        answer = wire(offset_for_leader_epoch.handle(cluster.managers[node], ctx, request))
        return answer.topics[0].partitions[0]

    leader = ask(1, -1)
    assert (leader.error_code, leader.leader_epoch, leader.end_offset) == (ErrorCode.none, 0, 2)
    assert ask(2, -1).error_code == ErrorCode.not_leader_or_follower
    assert ask(2, -2).end_offset == 2


def test_acks_all_waits_for_the_isr_and_completes() -> None:
    cluster = Cluster()
    result = cluster.produce(2)
    assert wait_all(cluster, 1, result, 30_000) is PENDING
    assert cluster.completed[1] == []
    cluster.run(4)
    [(_, results)] = cluster.completed[1]
    assert results[TP].error_code == ErrorCode.none and results[TP].base_offset == 0


def test_acks_all_times_out_when_a_follower_is_down() -> None:
    cluster = Cluster()
    cluster.down.add(3)
    result = cluster.produce(1)
    assert wait_all(cluster, 1, result, 1_000) is PENDING
    cluster.run(4)
    assert cluster.completed[1] == []
    expired = cluster.managers[1].purgatory.expire(cluster.now_ms + 1_000)
    [(_, results)] = expired
    assert results[TP].error_code == ErrorCode.request_timed_out


def test_not_enough_replicas_before_append() -> None:
    cluster = Cluster(min_isr=3)
    cluster.registrations[TP] = cluster.registrations[TP].__class__((1, 2, 3), (1, 2), 1, 1, 1)
    cluster.publish([TP])
    before = cluster.replica(1).log_end_offset
    assert cluster.produce(1).error_code == ErrorCode.not_enough_replicas
    assert cluster.replica(1).log_end_offset == before
    assert cluster.produce(1, acks=1).error_code == ErrorCode.none


def test_isr_shrinks_after_lag_time_and_expands_when_caught_up() -> None:
    cluster = Cluster(lag_ms=10_000)
    cluster.produce(1, acks=1)
    cluster.run(3)
    cluster.down.add(3)
    cluster.produce(1, acks=1)
    cluster.run(3)
    cluster.tick(5_000)
    cluster.run(2)
    assert cluster.registrations[TP].isr == (1, 2, 3)  # 5 s of lag: still in sync
    cluster.tick(6_000)
    cluster.run(2)
    assert cluster.registrations[TP].isr == (1, 2)  # ShrinkIsr through AlterPartition
    leader = cluster.replica(1)
    assert leader.isr == {1, 2} and leader.partition_epoch == 1
    assert leader.high_watermark == 2  # the smaller ISR commits what 1 and 2 hold
    cluster.down.discard(3)
    cluster.run(4)
    assert cluster.registrations[TP].isr == (1, 2, 3)  # ExpandIsr
    assert cluster.replica(1).isr == {1, 2, 3}


def test_shrink_below_min_isr_stops_the_high_watermark_and_the_request_times_out() -> None:
    """Strict min ISR (KIP-966): once the ISR is below min.insync.replicas the HW stops, so
    an acks=all request appended before the shrink is never acknowledged: REQUEST_TIMED_OUT."""
    cluster = Cluster(min_isr=3, lag_ms=10_000)
    cluster.down.add(3)
    result = cluster.produce(1)
    assert result.error_code == ErrorCode.none
    assert wait_all(cluster, 1, result, 60_000) is PENDING
    cluster.run(3)
    cluster.tick(11_000)
    cluster.run(2)
    assert cluster.registrations[TP].isr == (1, 2)
    assert cluster.completed[1] == [] and cluster.replica(1).high_watermark == 0
    [(_, results)] = cluster.managers[1].purgatory.expire(60_000)
    assert results[TP].error_code == ErrorCode.request_timed_out


def test_not_enough_replicas_after_append_when_the_hw_passed_a_shrunk_isr() -> None:
    """Kafka's checkEnoughReplicasReachOffset: the HW passed the records, but by the time the
    request is checked the ISR is below min ISR: NOT_ENOUGH_REPLICAS_AFTER_APPEND."""
    cluster = Cluster(min_isr=2)
    result = cluster.produce(1)
    assert wait_all(cluster, 1, result, 60_000) is PENDING
    cluster.run(3)  # the HW passes offset 0 ...
    leader = cluster.replica(1)
    assert leader.high_watermark == 1
    cluster.completed[1].clear()
    late = cluster.produce(1)
    leader.update_follower_fetch_state(2, 2, cluster.now_ms)
    leader.update_follower_fetch_state(3, 2, cluster.now_ms)  # ... then offset 1 too,
    leader.become_leader(0, 9, (1,), (1, 2, 3), cluster.now_ms)  # and the ISR shrinks to {1}
    answer = wait_all(cluster, 1, late, 60_000)
    assert answer[TP].error_code == ErrorCode.not_enough_replicas_after_append


def test_leader_change_while_waiting_answers_not_leader() -> None:
    cluster = Cluster()
    cluster.down.update({2, 3})
    result = cluster.produce(1)
    assert wait_all(cluster, 1, result, 60_000) is PENDING
    cluster.down.clear()
    cluster.elect(2)
    assert cluster.completed[1] == []  # answered when the broker next polls
    cluster.step()
    [(_, results)] = cluster.completed[1]
    assert results[TP].error_code == ErrorCode.not_leader_or_follower


def test_new_leader_truncates_the_old_leaders_uncommitted_suffix() -> None:
    """BecomeLeader on 2, BecomeFollower on 1: 1's records that never reached 2 go."""
    cluster = Cluster(node_ids=(1, 2))
    cluster.produce(2, acks=1)
    cluster.run(3)
    cluster.down.add(2)
    cluster.produce(2, acks=1)  # offsets 2-3 only on 1
    cluster.down.clear()
    cluster.elect(2)
    cluster.produce(1, acks=1)
    cluster.run(6)
    assert epochs_of(cluster.replica(1)) == epochs_of(cluster.replica(2)) == [0, 0, 1]
    assert cluster.managers[1].fetchers[2].state_of(TP) is FetchState.FETCHING


def test_consumer_fetch_from_a_follower_names_the_leader() -> None:
    """KIP-951: NOT_LEADER_OR_FOLLOWER carries the current leader and epoch."""
    cluster = Cluster()
    read = cluster.managers[2].read_for_consumer(TOPIC, 0, -1, 0, 1 << 20, True, False)
    assert (read.error_code, read.leader_id, read.leader_epoch) == (
        ErrorCode.not_leader_or_follower,
        1,
        0,
    )
    fenced = cluster.managers[1].read_for_consumer(TOPIC, 0, 5, 0, 1 << 20, True, False)
    assert fenced.error_code == ErrorCode.unknown_leader_epoch


def test_consumer_fetch_from_a_follower_v11_reads_below_its_high_watermark() -> None:
    """KIP-392: with client metadata (v11+) a follower serves consumers up to its own HW."""
    cluster = Cluster()
    cluster.produce(2, acks=1)
    cluster.run(2)  # truncation round, then one fetch: records there, HW still 0
    assert (cluster.replica(2).log_end_offset, cluster.replica(2).high_watermark) == (2, 0)
    follower = cluster.managers[2]
    early = follower.read_for_consumer(TOPIC, 0, -1, 0, 1 << 20, True, False, False)
    assert early.error_code == ErrorCode.none and early.read is not None
    assert early.read.size == 0 and early.read.high_watermark == 0
    cluster.run(3)
    later = follower.read_for_consumer(TOPIC, 0, -1, 0, 1 << 20, True, False, False)
    assert later.read is not None and later.read.high_watermark == 2 and later.read.size > 0


def test_non_replica_answers_not_leader_with_the_leader() -> None:
    """A broker without a replica of an existing partition: NOT_LEADER_OR_FOLLOWER naming the
    leader (as Kafka answers); an unknown partition: UNKNOWN_TOPIC_OR_PARTITION."""
    cluster = Cluster()
    reg = cluster.registrations[TP]
    cluster.registrations[TP] = reg.__class__((1, 2), (1, 2), 1, 0, 1)
    cluster.publish([TP])
    outsider = cluster.managers[3]
    read = outsider.read_for_consumer(TOPIC, 0, -1, 0, 1 << 20, True, False)
    assert (read.error_code, read.leader_id, read.leader_epoch) == (
        ErrorCode.not_leader_or_follower,
        1,
        0,
    )
    assert outsider.append_records(TOPIC, 0, b"", 1, 0).error_code == (
        ErrorCode.not_leader_or_follower
    )
    assert outsider.read_for_consumer("nope", 0, -1, 0, 1, True, False).error_code == (
        ErrorCode.unknown_topic_or_partition
    )


def test_follower_fetch_fencing_and_non_replicas() -> None:
    cluster = Cluster(node_ids=(1, 2))
    cluster.elect(1)
    leader = cluster.managers[1]
    stale = leader.fetch_for_follower(TOPIC, 0, 2, 0, 0, -1, 1 << 20, True, 0)
    assert stale.error_code == ErrorCode.fenced_leader_epoch
    ahead = leader.fetch_for_follower(TOPIC, 0, 2, 7, 0, -1, 1 << 20, True, 0)
    assert ahead.error_code == ErrorCode.unknown_leader_epoch
    stranger = leader.fetch_for_follower(TOPIC, 0, 9, 1, 0, -1, 1 << 20, True, 0)
    assert stranger.error_code == ErrorCode.not_leader_or_follower


def test_offset_for_leader_epoch_answers() -> None:
    cluster = Cluster(node_ids=(1, 2))
    cluster.produce(2, acks=1)
    cluster.run(3)
    cluster.elect(1)  # epoch 1 starts at 2
    cluster.produce(1, acks=1)
    leader = cluster.managers[1]
    assert leader.offset_for_leader_epoch(TOPIC, 0, 1, 0) == (ErrorCode.none, 0, 2)
    assert leader.offset_for_leader_epoch(TOPIC, 0, 1, 1) == (ErrorCode.none, 1, 3)
    # an epoch beyond every known one: Kafka's (-1, -1) (fencing keeps followers below it)
    assert leader.offset_for_leader_epoch(TOPIC, 0, -1, 5) == (ErrorCode.none, -1, -1)
    assert leader.offset_for_leader_epoch(TOPIC, 0, 0, 1)[0] == ErrorCode.fenced_leader_epoch
    follower = cluster.managers[2]
    assert follower.offset_for_leader_epoch(TOPIC, 0, -1, 0)[0] == ErrorCode.not_leader_or_follower
    assert follower.offset_for_leader_epoch(TOPIC, 0, -1, 0, fetch_only_from_leader=False) == (
        ErrorCode.none,
        0,
        2,
    )


def test_stale_alter_partition_is_dropped_and_metadata_wins() -> None:
    """INVALID_UPDATE_VERSION: the controller changed the partition meanwhile."""
    cluster = Cluster(lag_ms=10_000)
    cluster.down.add(3)
    cluster.tick(11_000)  # shrink 3 is queued and sent on the next step
    reg = cluster.registrations[TP]
    cluster.registrations[TP] = reg.__class__(reg.replicas, reg.isr, reg.leader, 0, 5)
    cluster.run(1)
    assert cluster.registrations[TP].isr == (1, 2, 3)
    assert cluster.replica(1).pending_isr is None
    cluster.publish([TP])
    assert cluster.replica(1).partition_epoch == 5


def test_removed_replica_is_stopped_and_its_log_deleted() -> None:
    cluster = Cluster()
    reg = cluster.registrations[TP]
    cluster.registrations[TP] = reg.__class__((1, 2), (1, 2), 1, 0, 1)
    cluster.publish([TP])
    assert cluster.managers[3].replica(TOPIC, 0) is None
    assert cluster.managers[3].logs.get(TOPIC, 0) is None
    assert cluster.managers[3].fetchers == {}


def follower_fetch(cluster: Cluster, version: int, known_high_watermark: int | None) -> Any:
    """Follower 2's Fetch at ``version`` from its log end, its high watermark as given (v18)."""
    m = codec.request_module(1, version)
    fields = {} if known_high_watermark is None else {"high_watermark": known_high_watermark}
    partition = codec.build(m.FetchPartition, partition=0, current_leader_epoch=0,
                            fetch_offset=cluster.replica(2).log_end_offset, last_fetched_epoch=0,
                            log_start_offset=0, partition_max_bytes=1 << 20, **fields)  # fmt: skip
    return codec.build(
        m.FetchRequest,
        cluster_id=None,
        replica_state=codec.build(m.ReplicaState, replica_id=2, replica_epoch=102),
        max_wait=codec.millis(500),
        min_bytes=1,
        max_bytes=1 << 20,
        isolation_level=0,
        session_id=0,
        session_epoch=-1,
        topics=(codec.build(m.FetchTopic, topic_id=cluster.topic_id, partitions=(partition,)),),
        forgotten_topics_data=(),
        rack_id="",
    )


def test_fetch_v18_follower_behind_the_high_watermark_is_answered_at_once() -> None:
    """KIP-1166: a follower's Fetch with nothing to read waits in the purgatory, unless the
    high watermark it tells (v18) is behind the leader's; before v18 it always waits."""
    from types import SimpleNamespace

    from refka.core.context import Encoded
    from refka.handlers.fetch import handle_fetch

    cluster = Cluster(node_ids=(1, 2), fetch_version=17)
    cluster.produce(2, acks=1)
    cluster.run(4)
    leader = cluster.managers[1]
    assert cluster.replica(1).high_watermark == 2 == cluster.replica(2).log_end_offset
    image = leader.image
    topic = image.topics_by_name[TOPIC]
    leader.image = SimpleNamespace(  # the handler finds v13+'s topics by id
        brokers=image.brokers,
        topics_by_name=image.topics_by_name,
        topics_by_id={topic.topic_id: topic},
    )
    for version, known, answered in ((17, None, False), (18, 2, False), (18, 1, True)):
        parked: list[Any] = []
        partitions = SimpleNamespace(watch=parked.append)
        context = RequestContext(1, 1, 1, version, "follower", cluster.now_ms, 0)
        request = wire(follower_fetch(cluster, version, known))
        response = handle_fetch(partitions, leader, context, request)  # type: ignore[arg-type]
        assert isinstance(response, Encoded) is answered, (version, known)
        assert (response is PENDING) is (not answered) and len(parked) == (not answered)


def delete_records_request(offset: int, timeout_ms: int) -> Any:
    from conformance.wire import build

    partitions = [{"partition_index": 0, "offset": offset}]
    return wire(
        build(21, 2, topics=[{"name": TOPIC, "partitions": partitions}], timeout=timeout_ms)
    )


def delete_records(cluster: Cluster, node: int, offset: int, timeout_ms: int = 30_000) -> Any:
    from refka.handlers.delete_records import handle_delete_records

    context = RequestContext(1, 1, 21, 2, "admin", cluster.now_ms, 0)
    request = delete_records_request(offset, timeout_ms)
    return handle_delete_records(cluster.managers[node], context, request)


def deleted(response: Any) -> tuple[ErrorCode, int]:
    [topic] = response.topics
    [partition] = topic.partitions
    return partition.error_code, partition.low_watermark


def test_delete_records_waits_until_the_followers_follow_the_log_start_offset() -> None:
    """KIP-107: the leader moves its log start offset; the followers raise theirs to it from
    Fetch's log_start_offset (never past their high watermarks) and report it on their next
    fetch; the request is answered when the lowest of them reaches the requested offset."""
    cluster = Cluster()
    cluster.produce(5, acks=1)
    cluster.run(4)
    assert delete_records(cluster, 1, 3) is PENDING
    assert deleted(delete_records(cluster, 2, 4)) == (ErrorCode.not_leader_or_follower, -1)
    assert deleted(delete_records(cluster, 1, 6)) == (ErrorCode.offset_out_of_range, -1)
    cluster.run(4)
    [(_, response)] = cluster.completed[1]
    assert deleted(response) == (ErrorCode.none, 3)
    for n in (1, 2, 3):
        assert cluster.replica(n).log_start_offset == 3
        assert cluster.replica(n).log_end_offset == 5
    assert deleted(delete_records(cluster, 1, 2)) == (ErrorCode.none, 3)  # never back


def test_delete_records_times_out_while_a_follower_is_down() -> None:
    cluster = Cluster()
    cluster.produce(5, acks=1)
    cluster.run(4)
    cluster.down.add(3)
    assert delete_records(cluster, 1, 3, timeout_ms=1_000) is PENDING
    cluster.run(4)
    assert cluster.completed[1] == [] and cluster.replica(2).log_start_offset == 3
    [(_, response)] = cluster.managers[1].purgatory.expire(cluster.now_ms + 1_000)
    assert deleted(response) == (ErrorCode.request_timed_out, 0)


def test_fetch_v18_carries_the_followers_high_watermark() -> None:
    """KIP-1166: a follower's Fetch v18 names its high watermark (the leader answers a follower
    behind its own at once: conformance/test_versions_4x.py)."""
    cluster = Cluster(fetch_version=18)
    cluster.produce(3, acks=1)
    cluster.run(4)
    fetcher = cluster.managers[2].fetchers[1]
    request, _ = fetcher._fetch_request([TP])
    sent = wire(request).topics[0].partitions[0]
    assert (sent.fetch_offset, sent.high_watermark) == (3, cluster.replica(2).high_watermark)
    assert cluster.replica(2).high_watermark == 3
