"""A KIP-848 consumer group on a three-broker cluster: when its coordinator's broker is killed,
the new leader of the group's ``__consumer_offsets`` partition replays the group's records
(epochs, target, members' assignments) and the members go on at the same epochs, without a
rebalance, with every acknowledged commit."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Consumer
from refka.testing import RunningCluster, running_cluster

from conformance.wire import Connection, build
from tests.cluster.test_group_failover import (
    CONFIGS,
    DEADLINE_S,
    PARTITIONS,
    Ledger,
    committed,
    coordinator_of,
    new_topic,
    produce,
)

KIP848_CONFIGS = {
    **CONFIGS,
    "group.consumer.heartbeat.interval.ms": 300,
    "group.consumer.session.timeout.ms": 6000,
}

pytestmark = pytest.mark.timeout(240)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[RunningCluster]:
    with running_cluster(3, tmp_path / "data", **KIP848_CONFIGS) as c:  # type: ignore[arg-type]
        yield c


def member(bootstrap: str, group: str, topic: str) -> Consumer:
    c = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "group.protocol": "consumer",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "topic.metadata.refresh.interval.ms": 1000,
        }
    )
    c.subscribe([topic])
    return c


def epochs(bootstrap: str, group: str) -> tuple[int, list[int]] | None:
    """(group epoch, member epochs) from the coordinator among ``bootstrap``, None meanwhile."""
    for address in bootstrap.split(","):
        try:
            with Connection(address, timeout_s=5) as conn:
                request = build(69, 1, group_ids=(group,), include_authorized_operations=False)
                (g,) = conn.request(request).groups
        except OSError:
            continue
        if g.error_code == 0:
            return g.group_epoch, sorted(m.member_epoch for m in g.members)
    return None


def test_coordinator_failover_keeps_the_group_at_its_epochs(cluster: RunningCluster) -> None:
    bootstrap = cluster.bootstrap
    topic, group = new_topic(bootstrap), f"g-{uuid.uuid4().hex[:6]}"
    produce(bootstrap, topic, 10)
    ledger = Ledger(topic)
    members = [member(bootstrap, group, topic), member(bootstrap, group, topic)]
    try:
        ledger.consume(members, 10)
        third = member(bootstrap, group, topic)  # joins and leaves: the epochs reach 4
        deadline = time.monotonic() + DEADLINE_S
        while not third.assignment():
            assert time.monotonic() < deadline, "the third member got nothing"
            for c in [*members, third]:
                ledger.poll(c) if c is not third else c.poll(0.05)
        third.close()
        deadline = time.monotonic() + DEADLINE_S
        while (before := epochs(bootstrap, group)) is None or before[1] != [4, 4]:
            assert time.monotonic() < deadline, before
            for c in members:
                ledger.poll(c)
        victim = coordinator_of(bootstrap, group)
        cluster.brokers[victim].kill()
        survivors = ",".join(b.bootstrap for n, b in cluster.brokers.items() if n != victim)

        assert committed(survivors, group, topic) == dict.fromkeys(range(PARTITIONS), 10)
        produce(survivors, topic, 10)
        ledger.consume(members, 20)  # both members go on through the new coordinator
        deadline = time.monotonic() + DEADLINE_S
        while (after := epochs(survivors, group)) != before:
            assert time.monotonic() < deadline, (before, after)
            for c in members:
                c.poll(0.05)
        assert coordinator_of(survivors, group) != victim
    finally:
        for c in members:
            c.close()
    ledger.check(20)
