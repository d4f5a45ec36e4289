"""The controller's bug switches (``refka.bugs``), each against Kafka's rule it turns off:
UNCLEAN_ELECTION (spec/bugs/Election_UncleanElection.cfg), LAST_REPLICA_STANDING
(Election_LastReplicaStanding.cfg, before KIP-966) and STALE_BROKER_EPOCH
(Election_StaleBrokerEpoch.cfg, before KIP-903)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from controller_driver import CLUSTER_ID, ControllerDriver
from kio.schema.errors import ErrorCode
from refka.config import BrokerConfig
from refka.controller.settings import ControllerSettings
from test_quorum_controller import (
    BROKERS,
    TOPIC,
    call,
    create_topic,
    heartbeat,
    partition,
    register,
)

SWITCHED = (
    "unclean_leader_election_enable",
    "eligible_leader_replicas_enabled",
    "fence_stale_broker_epochs",
)
MIN_ISR_1 = [{"name": "min.insync.replicas", "value": "1"}]


def cluster(bugs: str) -> ControllerDriver:
    """A controller with the settings ``refka.bugs=<bugs>`` gives, and three brokers."""
    config = BrokerConfig.model_validate({"refka.bugs": bugs})
    settings = ControllerSettings.from_config(config, CLUSTER_ID)
    d = ControllerDriver(**{name: getattr(settings, name) for name in SWITCHED})
    for broker_id in BROKERS:
        assert register(d, broker_id).error_code == ErrorCode.none
    for broker_id in BROKERS:
        assert not heartbeat(d, broker_id).is_fenced
    return d


def alter_partition(d: ControllerDriver, isr_with_epochs: list[tuple[int, int]]) -> ErrorCode:
    p = partition(d)
    response = call(
        d,
        56,
        3,
        connection=p.leader,
        broker_id=p.leader,
        broker_epoch=d.image.brokers[p.leader].broker_epoch,
        topics=[
            {
                "topic_id": d.image.topics_by_name[TOPIC].topic_id,
                "partitions": [
                    {
                        "partition_index": 0,
                        "leader_epoch": p.leader_epoch,
                        "new_isr_with_epochs": [
                            {"broker_id": b, "broker_epoch": e} for b, e in isr_with_epochs
                        ],
                        "leader_recovery_state": 0,
                        "partition_epoch": p.partition_epoch,
                    }
                ],
            }
        ],
    )
    return response.topics[0].partitions[0].error_code  # type: ignore[no-any-return]


def epochs(d: ControllerDriver, brokers: Any) -> list[tuple[int, int]]:
    return [(b, d.image.brokers[b].broker_epoch) for b in brokers]


def test_the_settings_follow_refka_bugs() -> None:
    def settings(bugs: str) -> tuple[Any, ...]:
        config = BrokerConfig.model_validate({"refka.bugs": bugs})
        s = ControllerSettings.from_config(config, CLUSTER_ID)
        return tuple(getattr(s, name) for name in SWITCHED)

    assert settings("") == (False, True, True)
    assert settings("UncleanElection") == (True, True, True)
    assert settings("LastReplicaStanding") == (False, False, True)
    assert settings("StaleBrokerEpoch") == (False, True, False)


@pytest.mark.parametrize("bugs", ["", "UncleanElection"])
def test_unclean_election_elects_a_replica_outside_the_isr(bugs: str) -> None:
    d = cluster(bugs)
    create_topic(d, rf=2, configs=MIN_ISR_1)
    leader, follower = partition(d).replicas
    assert alter_partition(d, epochs(d, [leader])) == ErrorCode.none  # the follower lags
    heartbeat(d, leader, want_fence=True)  # the only ISR member goes away
    now = partition(d)
    if bugs:
        assert now.leader == follower and now.isr == (follower,)  # without the acked records
        assert now.leader_recovery_state == 1  # RECOVERING
    else:
        assert now.leader == -1 and now.elr == (leader,)  # Kafka: offline, waits in the ELR


@pytest.mark.parametrize("bugs", ["", "LastReplicaStanding"])
def test_last_replica_standing_is_elected_after_an_unclean_shutdown(bugs: str) -> None:
    """Election.tla FenceBroker and RegisterBroker with Kip966 = FALSE: the last ISR member
    stays in the ISR when fenced and leads again after restarting without its unflushed
    suffix; with KIP-966 it moves to the ELR and an unclean restart takes it out of it."""
    d = cluster(bugs)
    create_topic(d, rf=2, configs=MIN_ISR_1)
    leader, _ = partition(d).replicas
    assert alter_partition(d, epochs(d, [leader])) == ErrorCode.none
    heartbeat(d, leader, want_fence=True)
    fenced = partition(d)
    assert fenced.leader == -1
    if bugs:
        assert fenced.isr == (leader,) and fenced.elr == ()
    else:
        assert fenced.isr == () and fenced.elr == (leader,)
    again = register(d, leader, incarnation=uuid.uuid4(), previous_broker_epoch=-1)  # unclean
    assert again.error_code == ErrorCode.none
    assert not heartbeat(d, leader).is_fenced
    now = partition(d)
    if bugs:
        assert now.leader == leader and now.isr == (leader,)
    else:
        assert now.leader == -1 and now.isr == () and now.elr == ()


@pytest.mark.parametrize("bugs", ["", "StaleBrokerEpoch"])
def test_alter_partition_with_a_stale_broker_epoch(bugs: str) -> None:
    """Election.tla HandleAlterPartition with Kip903 = FALSE: the leader saw the follower
    caught up, the follower restarted (new broker epoch, lost suffix), then the leader's
    AlterPartition adds it with the epoch it saw."""
    d = cluster(bugs)
    create_topic(d, rf=3)
    p = partition(d)
    follower = p.replicas[2]
    rest = [r for r in p.isr if r != follower]
    assert alter_partition(d, epochs(d, rest)) == ErrorCode.none
    seen = epochs(d, [*rest, follower])  # the follower's epoch when the leader saw it
    heartbeat(d, follower, want_fence=True)
    register(d, follower, incarnation=uuid.uuid4(), previous_broker_epoch=-1)
    assert not heartbeat(d, follower).is_fenced
    assert d.image.brokers[follower].broker_epoch != dict(seen)[follower]
    error = alter_partition(d, seen)
    if bugs:
        assert error == ErrorCode.none and follower in partition(d).isr
    else:
        assert error == ErrorCode.ineligible_replica and follower not in partition(d).isr
