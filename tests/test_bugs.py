"""``refka.bugs``: parsing, and the narrow switches each core gets from it (spec/bugs/*.cfg).
The behaviour behind every switch is tested beside its component (tests/replication/
test_replication_bugs.py, tests/controller/test_election_bugs.py,
tests/group/test_group_bugs.py, tests/txn/test_txn_bugs.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from refka.bugs import Bug, parse_bugs
from refka.config import BrokerConfig, ConfigError
from refka.controller.settings import ControllerSettings
from refka.core.broker import Broker
from refka.core.network_client import NodeAddress
from refka.log.storage import MemoryStorage
from refka.node import make_broker, make_controller
from refka.replication.fetcher_config import FetcherConfig, TruncationMode
from refka.replication.replica_manager import ReplicationConfig

START_MS = 1_700_000_000_000
SPEC_BUGS = Path(__file__).resolve().parents[1] / "spec" / "bugs"


def test_every_bug_names_its_tla_configuration() -> None:
    for bug in Bug:
        assert (SPEC_BUGS / f"{bug.value}.cfg").is_file(), bug
    assert Bug.TRUNCATE_TO_HIGH_WATERMARK.short_name == "TruncateToHighWatermark"


def test_parse_short_and_full_names_any_case_and_spacing() -> None:
    assert parse_bugs("") == frozenset()
    assert parse_bugs(" , ") == frozenset()
    assert parse_bugs("TruncateToHighWatermark") == {Bug.TRUNCATE_TO_HIGH_WATERMARK}
    assert parse_bugs("Election_UncleanElection") == {Bug.UNCLEAN_ELECTION}
    assert parse_bugs(" zombiecommit ,ACKBEFOREISR,") == {Bug.ZOMBIE_COMMIT, Bug.ACK_BEFORE_ISR}
    assert parse_bugs(",".join(b.short_name for b in Bug)) == frozenset(Bug)
    assert parse_bugs("FastLeaderChange,Replication_FastLeaderChange") == {Bug.FAST_LEADER_CHANGE}


def test_an_unknown_name_is_refused_with_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown bug 'Nope'.*TruncateToHighWatermark"):
        parse_bugs("UncleanElection,Nope")
    with pytest.raises(ConfigError, match="unknown bug"):
        BrokerConfig.model_validate({"refka.bugs": "Nope"})


def test_the_config_key() -> None:
    assert BrokerConfig().bugs == frozenset()
    config = BrokerConfig.model_validate(
        {"refka.bugs": "StaleEpochFetch,RetriesWithoutIdempotence"}
    )
    assert config.refka_bugs == "StaleEpochFetch,RetriesWithoutIdempotence"
    assert config.bugs == {Bug.STALE_EPOCH_FETCH, Bug.NO_IDEMPOTENCE_WINDOW}


def broker_with(bugs: str) -> Broker:
    config = BrokerConfig.model_validate({"log.dirs": "data", "refka.bugs": bugs})
    storage = MemoryStorage()
    make_controller(config, storage, START_MS, 7)  # formats the directory
    return make_broker(config, storage, START_MS, 8, controller=NodeAddress(1000, "c", 0))


SWITCH_FIELDS = (
    "fence_leader_epochs",
    "ack_before_isr",
    "hide_lagging_high_watermark",
    "deduplicate_producer_batches",
    "read_committed_below_lso",
)


def switches(broker: Broker) -> dict[str, object]:
    config = broker.replicas.config
    found: dict[str, object] = {name: getattr(config, name) for name in SWITCH_FIELDS}
    found["truncation"] = config.fetcher.truncation
    found["fence_epochs"] = config.fetcher.fence_epochs
    found["fence_offset_commits"] = broker.groups.coordinator.config.fence_offset_commits
    found["verify_writes"] = broker.transactions.verify_writes
    return found


KAFKA = {
    "fence_leader_epochs": True,
    "ack_before_isr": False,
    "hide_lagging_high_watermark": True,
    "deduplicate_producer_batches": True,
    "read_committed_below_lso": True,
    "truncation": TruncationMode.KIP279,
    "fence_epochs": True,
    "fence_offset_commits": True,
    "verify_writes": True,
}


def test_without_bugs_the_broker_runs_kafkas_rules_the_components_defaults() -> None:
    found = switches(broker_with(""))
    assert found == KAFKA
    defaults = ReplicationConfig()
    assert {n: getattr(defaults, n) for n in SWITCH_FIELDS} == {n: KAFKA[n] for n in SWITCH_FIELDS}
    assert FetcherConfig().truncation is TruncationMode.KIP279 and FetcherConfig().fence_epochs


@pytest.mark.parametrize(
    ("bug", "changed"),
    [
        ("TruncateToHighWatermark", {"truncation": TruncationMode.HIGH_WATERMARK}),
        ("FastLeaderChange", {"truncation": TruncationMode.KIP101}),
        ("StaleEpochFetch", {"fence_leader_epochs": False, "fence_epochs": False}),
        ("AckBeforeIsr", {"ack_before_isr": True}),
        ("HighWatermarkRegression", {"hide_lagging_high_watermark": False}),
        ("RetriesWithoutIdempotence", {"deduplicate_producer_batches": False}),
        ("ZombieCommit", {"fence_offset_commits": False}),
        ("ReadUncommitted", {"read_committed_below_lso": False}),
        ("LateWriteAfterAbort", {"verify_writes": False}),
        ("UncleanElection", {}),  # the controller's
        ("LastReplicaStanding", {}),
        ("StaleBrokerEpoch", {}),
    ],
)
def test_each_switch_changes_only_its_own_rule(bug: str, changed: dict[str, object]) -> None:
    assert switches(broker_with(bug)) == KAFKA | changed


def test_controller_switches() -> None:
    def settings(bugs: str) -> ControllerSettings:
        return ControllerSettings.from_config(
            BrokerConfig.model_validate({"refka.bugs": bugs}), "c"
        )

    kafka = settings("")
    assert not kafka.unclean_leader_election_enable
    assert kafka.eligible_leader_replicas_enabled and kafka.fence_stale_broker_epochs
    everything = settings(",".join(b.short_name for b in Bug))
    assert everything.unclean_leader_election_enable
    assert not everything.eligible_leader_replicas_enabled
    assert not everything.fence_stale_broker_epochs
    assert settings("AckBeforeIsr,ZombieCommit") == kafka
