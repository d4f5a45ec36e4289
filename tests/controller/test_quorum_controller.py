"""The QuorumController, sans-I/O, driven with real encoded request frames and a fake clock:
brokers register and heartbeat, a topic is created, the metadata log is fetched and decoded as
a broker would, AlterPartition, session expiry, controlled shutdown, unclean election."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from controller_driver import CLUSTER_ID, ControllerDriver, decode_metadata
from kio.schema.errors import ErrorCode
from refka.metadata.records import BrokerRegistrationChangeRecord, RegisterBrokerRecord
from refka.metadata.topic_records import PartitionChangeRecord, PartitionRecord, TopicRecord
from refka.protocol import codec

from conformance.wire import build

BROKERS = (1, 2, 3)
TOPIC = "orders"


def call(
    d: ControllerDriver, api_key: int, version: int, connection: int = 9, **values: Any
) -> Any:
    request = build(api_key, version, **values)
    return d.call(connection, request, codec.response_class(api_key, version))


def register(
    d: ControllerDriver, broker_id: int, incarnation: uuid.UUID | None = None, **kw: Any
) -> Any:
    values: dict[str, Any] = {
        "broker_id": broker_id,
        "cluster_id": CLUSTER_ID,
        "incarnation_id": incarnation or uuid.UUID(int=broker_id),
        "listeners": [
            {
                "name": "PLAINTEXT",
                "host": "127.0.0.1",
                "port": 9000 + broker_id,
                "security_protocol": 0,
            }
        ],
        "features": [
            {"name": "metadata.version", "min_supported_version": 1, "max_supported_version": 27}
        ],
        "rack": None,
        "log_dirs": [],
    }
    values.update(kw)
    return call(d, 62, 4, connection=broker_id, **values)


def heartbeat(d: ControllerDriver, broker_id: int, **kw: Any) -> Any:
    broker = d.image.brokers[broker_id]
    values = {
        "broker_id": broker_id,
        "broker_epoch": broker.broker_epoch,
        "current_metadata_offset": d.log.end_offset - 1,
        "want_fence": False,
        "want_shut_down": False,
    }
    values.update(kw)
    return call(d, 63, 1, connection=broker_id, **values)


def create_topic(
    d: ControllerDriver, name: str = TOPIC, partitions: int = 1, rf: int = 3, **kw: Any
) -> Any:
    topic = {
        "name": name,
        "num_partitions": partitions,
        "replication_factor": rf,
        "assignments": [],
        "configs": kw.pop("configs", []),
    }
    response = call(d, 19, 7, topics=[topic], timeout=5000, validate_only=False)
    return response.topics[0]


def cluster(**settings: Any) -> ControllerDriver:
    d = ControllerDriver(**settings)
    for broker_id in BROKERS:
        assert register(d, broker_id).error_code == ErrorCode.none
    for broker_id in BROKERS:
        answer = heartbeat(d, broker_id)
        assert answer.error_code == ErrorCode.none
        assert not answer.is_fenced and answer.is_caught_up
    return d


def partition(d: ControllerDriver, name: str = TOPIC, index: int = 0) -> Any:
    return d.image.topics_by_name[name].partitions[index]


def fetch_metadata(
    d: ControllerDriver, offset: int, max_wait_ms: int = 0, connection: int = 1
) -> list[Any]:
    request = build(
        1,
        17,
        cluster_id=CLUSTER_ID,
        replica_state={"replica_id": -1, "replica_epoch": -1},
        max_wait=max_wait_ms,
        min_bytes=1,
        max_bytes=1 << 20,
        isolation_level=0,
        session_id=0,
        session_epoch=-1,
        topics=[
            {
                "topic_id": uuid.UUID(int=1),
                "partitions": [
                    {
                        "partition": 0,
                        "current_leader_epoch": 1,
                        "fetch_offset": offset,
                        "last_fetched_epoch": 1 if offset else 0,
                        "log_start_offset": -1,
                        "partition_max_bytes": 1 << 20,
                    }
                ],
            }
        ],
        forgotten_topics_data=[],
        rack_id="",
    )
    effects = d.send(connection, request)
    return d.answers(effects, connection, codec.response_class(1, 17))


# --------------------------------------------------------------------- scenarios


def test_register_heartbeat_create_topic_and_fetch_the_metadata_log() -> None:
    d = cluster()
    epochs = {b: d.image.brokers[b].broker_epoch for b in BROKERS}
    assert len(set(epochs.values())) == 3
    result = create_topic(d)
    assert result.error_code == ErrorCode.none, result.error_message
    assert (result.num_partitions, result.replication_factor) == (1, 3)
    p = partition(d)
    assert sorted(p.replicas) == [1, 2, 3] and p.isr == p.replicas and p.leader == p.replicas[0]

    [answer] = fetch_metadata(d, 0)
    data = answer.responses[0].partitions[0]
    assert data.error_code == ErrorCode.none
    assert data.high_watermark == d.log.end_offset
    records = decode_metadata(bytes(data.records))
    assert [off for off, _ in records] == list(range(d.log.end_offset))
    registered = {r.broker_id: off for off, r in records if isinstance(r, RegisterBrokerRecord)}
    assert registered == epochs  # the broker epoch is the RegisterBrokerRecord's offset
    assert any(isinstance(r, TopicRecord) and r.name == TOPIC for _, r in records)
    [part] = [r for _, r in records if isinstance(r, PartitionRecord)]
    assert part.replicas == p.replicas and part.leader == p.leader


def test_a_fetch_at_the_end_waits_for_the_next_commit() -> None:
    d = cluster()
    end = d.log.end_offset
    assert fetch_metadata(d, end, max_wait_ms=500) == []
    create_topic(d)
    [answer] = d.answers(d.effects[-3:], 1, codec.response_class(1, 17))
    records = decode_metadata(bytes(answer.responses[0].partitions[0].records))
    assert records[0][0] == end and isinstance(records[0][1], TopicRecord)


def test_a_waiting_fetch_answers_empty_at_max_wait() -> None:
    d = cluster()
    assert fetch_metadata(d, d.log.end_offset, max_wait_ms=500) == []
    [answer] = d.answers(d.tick(500), 1, codec.response_class(1, 17))
    assert answer.responses[0].partitions[0].records is None


def test_a_fetch_past_the_end_gets_the_diverging_epoch() -> None:
    d = cluster()
    [answer] = fetch_metadata(d, d.log.end_offset + 5)
    diverging = answer.responses[0].partitions[0].diverging_epoch
    assert (diverging.epoch, diverging.end_offset) == (1, d.log.end_offset)


def test_registration_with_another_cluster_id_is_refused() -> None:
    d = ControllerDriver()
    assert register(d, 1, cluster_id="other").error_code == ErrorCode.inconsistent_cluster_id


def test_new_broker_stays_fenced_until_caught_up() -> None:
    d = ControllerDriver()
    register(d, 1)
    behind = heartbeat(d, 1, current_metadata_offset=-1)
    assert behind.is_fenced and not behind.is_caught_up
    assert not heartbeat(d, 1).is_fenced


def test_stale_broker_epoch_heartbeat() -> None:
    d = cluster()
    answer = heartbeat(d, 1, broker_epoch=d.image.brokers[1].broker_epoch - 1)
    assert answer.error_code == ErrorCode.stale_broker_epoch


def alter_partition(
    d: ControllerDriver,
    isr: list[int],
    leader_epoch: int | None = None,
    partition_epoch: int | None = None,
    broker_epoch: int | None = None,
) -> Any:
    p = partition(d)
    topic_id = d.image.topics_by_name[TOPIC].topic_id
    leader = p.leader
    response = call(
        d,
        56,
        3,
        connection=leader,
        broker_id=leader,
        broker_epoch=d.image.brokers[leader].broker_epoch if broker_epoch is None else broker_epoch,
        topics=[
            {
                "topic_id": topic_id,
                "partitions": [
                    {
                        "partition_index": 0,
                        "leader_epoch": p.leader_epoch if leader_epoch is None else leader_epoch,
                        "new_isr_with_epochs": [
                            {"broker_id": b, "broker_epoch": d.image.brokers[b].broker_epoch}
                            for b in isr
                        ],
                        "leader_recovery_state": 0,
                        "partition_epoch": p.partition_epoch
                        if partition_epoch is None
                        else partition_epoch,
                    }
                ],
            }
        ],
    )
    return response


def test_alter_partition_shrink_and_expand_with_epoch_checks() -> None:
    d = cluster()
    create_topic(d)
    p = partition(d)
    follower = p.replicas[2]
    shrunk = [r for r in p.isr if r != follower]
    answer = alter_partition(d, shrunk)
    data = answer.topics[0].partitions[0]
    assert data.error_code == ErrorCode.none
    assert list(data.isr) == shrunk and data.leader_epoch == p.leader_epoch
    assert data.partition_epoch == p.partition_epoch + 1
    assert partition(d).isr == tuple(shrunk)

    stale = alter_partition(d, list(p.isr), partition_epoch=p.partition_epoch)
    assert stale.topics[0].partitions[0].error_code == ErrorCode.invalid_update_version
    fenced = alter_partition(d, list(p.isr), leader_epoch=p.leader_epoch - 1)
    assert fenced.topics[0].partitions[0].error_code == ErrorCode.fenced_leader_epoch
    wrong_broker = alter_partition(d, list(p.isr), broker_epoch=12345)
    assert wrong_broker.error_code == ErrorCode.stale_broker_epoch

    expanded = alter_partition(d, [*shrunk, follower])
    assert expanded.topics[0].partitions[0].error_code == ErrorCode.none
    assert set(partition(d).isr) == set(p.replicas)


def test_alter_partition_refuses_a_fenced_new_member() -> None:
    d = cluster()
    create_topic(d)
    p = partition(d)
    follower = p.replicas[2]
    alter_partition(d, [r for r in p.isr if r != follower])
    heartbeat(d, follower, want_fence=True)
    assert d.image.brokers[follower].fenced
    answer = alter_partition(d, list(p.replicas))
    assert answer.topics[0].partitions[0].error_code == ErrorCode.ineligible_replica


def test_session_expiry_fences_the_leader_and_moves_leadership() -> None:
    d = cluster()
    create_topic(d)
    p = partition(d)
    old_leader = p.leader
    timeout = d.settings.broker_session_timeout_ms
    for _ in range(3):
        d.tick(timeout // 3)
        for b in BROKERS:
            if b != old_leader:
                heartbeat(d, b)
    d.tick(timeout // 3)
    assert d.image.brokers[old_leader].fenced
    now = partition(d)
    assert now.leader not in (old_leader, -1) and old_leader not in now.isr
    assert now.leader_epoch == p.leader_epoch + 1
    [answer] = fetch_metadata(d, 0)
    records = decode_metadata(bytes(answer.responses[0].partitions[0].records))
    kinds = [type(r) for _, r in records]
    assert PartitionChangeRecord in kinds and BrokerRegistrationChangeRecord in kinds


def test_controlled_shutdown_moves_leadership_then_allows_shutdown() -> None:
    d = cluster()
    create_topic(d)
    leader = partition(d).leader
    first = heartbeat(d, leader, want_shut_down=True)
    assert not first.should_shut_down
    assert d.image.brokers[leader].in_controlled_shutdown
    p = partition(d)
    assert p.leader != leader and leader not in p.isr
    second = heartbeat(d, leader, want_shut_down=True)
    assert second.should_shut_down
    assert d.image.brokers[leader].fenced


@pytest.mark.parametrize("unclean", [False, True])
def test_last_isr_member_lost_offline_or_unclean(unclean: bool) -> None:
    d = cluster(unclean_leader_election_enable=unclean)
    create_topic(d, rf=2, configs=[{"name": "min.insync.replicas", "value": "1"}])
    p = partition(d)
    leader, follower = p.replicas
    alter_partition(d, [leader])  # ShrinkIsr: the follower lags
    heartbeat(d, leader, want_fence=True)  # the only ISR member goes away
    now = partition(d)
    if not unclean:
        # KIP-966: the fenced last ISR member keeps every committed record, so it waits in
        # the ELR; the lagging follower is never elected
        assert now.leader == -1 and now.isr == () and now.elr == (leader,)
        assert not heartbeat(d, leader).is_fenced  # it comes back: ElectLeader from the ELR
        back = partition(d)
        assert back.leader == leader and back.isr == (leader,) and back.elr == ()
    else:
        assert now.leader == follower and now.isr == (follower,)
        assert now.leader_recovery_state == 1  # RECOVERING


def test_unclean_election_by_request() -> None:
    d = cluster()
    create_topic(d, rf=2, configs=[{"name": "min.insync.replicas", "value": "1"}])
    leader, follower = partition(d).replicas
    alter_partition(d, [leader])
    heartbeat(d, leader, want_fence=True)
    assert partition(d).leader == -1
    request = {
        "election_type": 1,
        "topic_partitions": [{"topic": TOPIC, "partitions": [0]}],
        "timeout": 5000,
    }
    answer = call(d, 43, 2, **request)
    assert answer.replica_election_results[0].partition_result[0].error_code == ErrorCode.none
    assert partition(d).leader == follower and partition(d).leader_recovery_state == 1


def test_unclean_election_after_the_config_is_turned_on_waits_for_the_interval() -> None:
    """KAFKA-12670: turning unclean.leader.election.enable on for a leaderless partition
    elects a lagging replica at the next ``unclean.leader.election.interval.ms`` check."""
    d = cluster(unclean_leader_election_interval_ms=1000)
    create_topic(d, rf=2, configs=[{"name": "min.insync.replicas", "value": "1"}])
    leader, follower = partition(d).replicas
    alter_partition(d, [leader])
    heartbeat(d, leader, want_fence=True)
    d.tick(1000)
    assert partition(d).leader == -1  # off: stays offline through the check
    resource = {
        "resource_type": 2,
        "resource_name": TOPIC,
        "configs": [
            {"name": "unclean.leader.election.enable", "config_operation": 0, "value": "true"}
        ],
    }
    assert call(d, 44, 1, resources=[resource], validate_only=False).responses[0].error_code == 0
    assert partition(d).leader == -1
    d.tick(1000)
    assert partition(d).leader == follower and partition(d).leader_recovery_state == 1


def test_preferred_election_not_needed_and_allocate_producer_ids() -> None:
    d = cluster()
    create_topic(d)
    request = {
        "election_type": 0,
        "topic_partitions": [{"topic": TOPIC, "partitions": [0]}],
        "timeout": 5000,
    }
    answer = call(d, 43, 2, **request)
    assert (
        answer.replica_election_results[0].partition_result[0].error_code
        == ErrorCode.election_not_needed
    )
    first = call(d, 67, 0, broker_id=1, broker_epoch=d.image.brokers[1].broker_epoch)
    second = call(d, 67, 0, broker_id=2, broker_epoch=d.image.brokers[2].broker_epoch)
    assert (first.producer_id_start, first.producer_id_len) == (0, 1000)
    assert second.producer_id_start == 1000
    stale = call(d, 67, 0, broker_id=1, broker_epoch=-5)
    assert stale.error_code == ErrorCode.stale_broker_epoch


def test_create_topic_refusals() -> None:
    d = cluster()
    assert create_topic(d, rf=4).error_code == ErrorCode.invalid_replication_factor
    assert create_topic(d, partitions=0).error_code == ErrorCode.invalid_partitions
    assert create_topic(d, name="bad name").error_code == ErrorCode.invalid_topic_exception
    bad_config = create_topic(d, configs=[{"name": "retention.ms", "value": "soon"}])
    assert bad_config.error_code == ErrorCode.invalid_config
    assert create_topic(d).error_code == ErrorCode.none
    assert create_topic(d).error_code == ErrorCode.topic_already_exists


def test_delete_topic_and_create_partitions() -> None:
    d = cluster()
    create_topic(d)
    more = call(
        d,
        37,
        3,
        topics=[{"name": TOPIC, "count": 3, "assignments": None}],
        timeout=5000,
        validate_only=False,
    )
    assert more.results[0].error_code == ErrorCode.none
    assert len(d.image.topics_by_name[TOPIC].partitions) == 3
    gone = call(d, 20, 6, topics=[{"name": TOPIC, "topic_id": uuid.UUID(int=0)}], timeout=5000)
    assert gone.responses[0].error_code == ErrorCode.none
    assert TOPIC not in d.image.topics_by_name


def test_incremental_alter_configs_sets_a_topic_config() -> None:
    d = cluster()
    create_topic(d)
    resource = {
        "resource_type": 2,
        "resource_name": TOPIC,
        "configs": [{"name": "retention.ms", "config_operation": 0, "value": "1000"}],
    }
    answer = call(d, 44, 1, resources=[resource], validate_only=False)
    assert answer.responses[0].error_code == ErrorCode.none
    assert d.image.configs[(2, TOPIC)]["retention.ms"] == "1000"
    bad = {
        "resource_type": 2,
        "resource_name": TOPIC,
        "configs": [{"name": "retention.ms", "config_operation": 0, "value": "x"}],
    }
    assert (
        call(d, 44, 1, resources=[bad], validate_only=False).responses[0].error_code
        == ErrorCode.invalid_config
    )


def test_describe_quorum_names_the_single_voter() -> None:
    d = cluster()
    answer = call(
        d,
        55,
        2,
        topics=[{"topic_name": "__cluster_metadata", "partitions": [{"partition_index": 0}]}],
    )
    part = answer.topics[0].partitions[0]
    assert (part.leader_id, part.leader_epoch, part.high_watermark) == (3000, 1, d.log.end_offset)


def test_unclean_shutdown_registration_leaves_the_elr_and_the_partition_offline() -> None:
    """Election.tla RegisterBroker with lostData: the returning replica is no longer eligible."""
    d = cluster()
    create_topic(d, rf=2, configs=[{"name": "min.insync.replicas", "value": "1"}])
    leader, _ = partition(d).replicas
    alter_partition(d, [leader])
    heartbeat(d, leader, want_fence=True)
    assert partition(d).elr == (leader,)
    duplicate = register(d, 2, incarnation=uuid.uuid4())
    assert duplicate.error_code == ErrorCode.duplicate_broker_registration  # 2's session lives
    again = register(d, leader, incarnation=uuid.uuid4(), previous_broker_epoch=-1)
    assert again.error_code == ErrorCode.none
    assert again.broker_epoch == d.image.brokers[leader].broker_epoch
    now = partition(d)
    assert now.leader == -1 and now.elr == () and now.isr == ()
    assert not heartbeat(d, leader).is_fenced
    assert partition(d).leader == -1  # unclean election off: it stays offline


def test_clean_restart_keeps_the_elr() -> None:
    d = cluster()
    create_topic(d, rf=2, configs=[{"name": "min.insync.replicas", "value": "1"}])
    leader, _ = partition(d).replicas
    alter_partition(d, [leader])
    heartbeat(d, leader, want_fence=True)
    previous = d.image.brokers[leader].broker_epoch
    register(d, leader, incarnation=uuid.uuid4(), previous_broker_epoch=previous)
    assert partition(d).elr == (leader,)
    heartbeat(d, leader)
    assert partition(d).leader == leader


def test_api_versions_lists_the_controller_apis_and_bad_frames_close() -> None:
    d = ControllerDriver()
    answer = call(d, 18, 3, client_software_name="refka-test", client_software_version="1")
    keys = {k.api_key: (k.min_version, k.max_version) for k in answer.api_keys}
    assert keys[62] == (0, 4) and keys[63] == (0, 2) and keys[56] == (2, 3) and 0 not in keys
    supported = {f.name: (f.min_version, f.max_version) for f in answer.supported_features}
    assert supported["transaction.version"] == (0, 2)  # KIP-584, as a broker answers
    produce = build(0, 9, acks=1, timeout=1000, topic_data=[])
    from conformance.wire import encode_request

    effects = d.controller.on_request(5, encode_request(produce, 1), d.now_ms)
    assert [type(e).__name__ for e in effects] == ["Close"]


def test_snapshots_and_a_restart_keep_the_image() -> None:
    d = cluster(metadata_log_max_record_bytes_between_snapshots=200)
    create_topic(d)
    assert d.log.snapshots(), "no snapshot after 200 bytes of records"
    before = d.image
    d.controller.shutdown(d.now_ms)
    from refka.controller.quorum_controller import QuorumController
    from refka.metadata.metadata_log import MetadataLog

    log = MetadataLog(d.storage, d.now_ms, CLUSTER_ID)
    again = QuorumController(d.settings, log, log.load(), d.now_ms, seed=8)
    assert again.image == before
    assert again.epoch == 1


def test_auto_leader_rebalance_moves_leadership_back_to_the_preferred_replica() -> None:
    d = cluster(leader_imbalance_check_interval_seconds=1)
    create_topic(d)
    preferred = partition(d).leader
    heartbeat(d, preferred, want_fence=True)
    moved = partition(d)
    assert moved.leader != preferred
    assert not heartbeat(d, preferred).is_fenced
    alter_partition(d, [*moved.isr, preferred])  # ExpandIsr: it caught up again
    assert partition(d).leader != preferred
    for b in BROKERS:
        heartbeat(d, b)
    d.tick(1000)
    assert partition(d).leader == preferred


@pytest.mark.parametrize("version", [0, 3, 5])
def test_api_versions_at_kafka_44s_controller_ranges(version: int) -> None:
    """Every API the controller serves at the range Kafka 4.4's controller advertises; v5 with
    any expected cluster is answered (Kafka's controller does not check it)."""
    from conformance.api_parity import KAFKA_4_4_CONTROLLER

    d = ControllerDriver()
    fields: dict[str, Any] = {"client_software_name": "t", "client_software_version": "1"}
    if version == 5:
        fields |= {"cluster_id": "AAAAAAAAAAAAAAAAAAAAAA", "node_id": 1}
    answer = call(d, 18, version, **fields)
    assert answer.error_code == ErrorCode.none
    ranges = {k.api_key: (k.min_version, k.max_version) for k in answer.api_keys}
    assert ranges == {key: KAFKA_4_4_CONTROLLER[key] for key in ranges}


def test_broker_heartbeat_v2_with_offline_log_dirs_field() -> None:
    """BrokerHeartbeat v2 (KIP-858) adds the broker's offline log dirs; refka's brokers have
    one log dir, so an empty list is answered as v1 is."""
    d = cluster()
    broker = d.image.brokers[BROKERS[0]]
    answer = call(
        d,
        63,
        2,
        connection=BROKERS[0],
        broker_id=BROKERS[0],
        broker_epoch=broker.broker_epoch,
        current_metadata_offset=d.log.end_offset - 1,
        want_fence=False,
        want_shut_down=False,
        offline_log_dirs=[],
    )
    assert (answer.error_code, answer.is_fenced, answer.is_caught_up) == (
        ErrorCode.none,
        False,
        True,
    )


def test_describe_quorum_lists_the_brokers_that_fetch_as_observers() -> None:
    d = cluster()
    end = d.log.end_offset
    fetch_metadata(d, end, connection=1)  # broker-less fetch (replica -1): not an observer
    request = {"topic_name": "__cluster_metadata", "partitions": [{"partition_index": 0}]}
    other = {"topic_name": "foo", "partitions": [{"partition_index": 0}]}
    answer = call(d, 55, 2, topics=[request, other])
    part = answer.topics[0].partitions[0]
    assert [v.replica_id for v in part.current_voters] == [3000]
    assert part.current_voters[0].log_end_offset == end and part.observers == ()
    unknown = answer.topics[1].partitions[0]
    assert unknown.error_code == ErrorCode.unknown_topic_or_partition
    assert unknown.error_message == "This server does not host this topic-partition."
    d.controller.quorum.on_fetch(1, end - 1, end, d.now_ms)
    d.controller.quorum.on_fetch(2, end, end, d.now_ms)
    observers = call(d, 55, 1, topics=[request]).topics[0].partitions[0].observers
    assert [(o.replica_id, o.log_end_offset, o.last_caught_up_timestamp) for o in observers] == [
        (1, end - 1, -1),
        (2, end, d.now_ms),
    ]
    d.tick(300_000)
    assert call(d, 55, 0, topics=[request]).topics[0].partitions[0].observers == ()


def test_unregister_broker_takes_it_out_of_isrs_and_the_registrations() -> None:
    d = cluster()
    create_topic(d)
    p = partition(d)
    gone = p.leader
    answer = call(d, 64, 0, broker_id=gone)
    assert (answer.error_code, answer.error_message) == (ErrorCode.none, None)
    assert gone not in d.image.brokers
    now = partition(d)
    assert gone not in now.isr and now.leader not in (gone, -1)
    again = call(d, 64, 0, broker_id=gone)
    assert (again.error_code, again.error_message) == (
        ErrorCode.broker_id_not_registered,
        f"Broker ID {gone} is not currently registered",
    )


def test_unregister_controller_removes_a_registration_but_not_its_own() -> None:
    """KIP-853 UnregisterController: INVALID_REQUEST for the active controller itself, 136 for
    an id with no registration, and an UnregisterControllerRecord for a registered one."""
    from refka.metadata.read_records import RegisterControllerRecord, UnregisterControllerRecord

    d = cluster()
    own = call(d, 94, 0, controller_id=d.settings.node_id)
    assert (own.error_code, own.error_message) == (
        ErrorCode.invalid_request,
        "Controller cannot unregister itself while it is active.",
    )
    unknown = call(d, 94, 0, controller_id=7)
    assert (unknown.error_code, unknown.error_message) == (
        136,
        "Controller ID 7 is not currently registered.",
    )
    registered = RegisterControllerRecord(controller_id=7, incarnation_id=uuid.UUID(int=7))
    d.controller.commit([registered], d.now_ms)
    assert 7 in d.image.controllers
    end = d.log.end_offset
    answer = call(d, 94, 0, controller_id=7)
    assert (answer.error_code, answer.error_message) == (0, None)
    assert 7 not in d.image.controllers
    [fetched] = fetch_metadata(d, 0)
    records = decode_metadata(bytes(fetched.responses[0].partitions[0].records))
    assert [r for offset, r in records if offset >= end] == [
        UnregisterControllerRecord(controller_id=7)
    ]
