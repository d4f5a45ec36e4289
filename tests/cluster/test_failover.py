"""Replication with real processes and real clients: a refka cluster (controller + 3 brokers,
each a process) loses brokers while confluent-kafka and Apache Kafka's Java client produce.

- the leader killed (kill -9) during acks=all idempotent produce: the clients fail over and
  every acknowledged record is in the log exactly once, in order, at its acknowledged offset;
- a follower paused (SIGSTOP) leaves the ISR after replica.lag.time.max.ms and rejoins on SIGCONT;
- with two of three brokers down, acks=all under min.insync.replicas is refused;
- unclean leader election: off, the partition stays offline; on, a lagging replica leads and
  the records only the dead leader had are gone;
- controlled shutdown (SIGTERM) moves leadership with no failed delivery;
- a whole-cluster restart keeps every topic and every acknowledged record.

The failover figures (acknowledged, read, lost, duplicated) are printed (``pytest -s``).
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource
from failover_helpers import (
    FAST,
    Acked,
    Figures,
    ProducerRun,
    check_log,
    partition,
    partition_where,
    produce_raw,
    read_all,
    replicated_topic,
    stall_then_kill_leader,
    wait_for,
)
from kio.schema.errors import ErrorCode
from refka.server.main import SHUTDOWN_WAIT_S
from refka.testing import RunningCluster, running_cluster

MIN_ISR_2 = {"min.insync.replicas": "2"}
WINDOW = 50  # records a producer may have unanswered
JAVA_PRODUCER = Path(__file__).with_name("java") / "FailoverProducer.java"


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[RunningCluster]:
    with running_cluster(3, tmp_path / "cluster", config=FAST) as running:
        yield running


def report(name: str, figures: Figures, timing: str) -> None:
    print(
        f"\n{name}: acknowledged {figures.acknowledged}, read {figures.read}, lost {figures.lost}, "
        f"duplicated {figures.duplicated}, out of order {figures.out_of_order}, "
        f"misplaced {figures.misplaced}; {timing}"
    )


# ------------------------------------------------------------------------ the checker


def test_the_checker_flags_loss_duplicates_disorder_and_wrong_offsets() -> None:
    acked = {0: (0, 0), 1: (1, 0), 2: (0, 1), 3: (1, 1)}
    good = {0: [(0, 0), (1, 2)], 1: [(0, 1), (1, 3)]}
    assert check_log(acked, good).exactly_once_in_order
    assert check_log(acked, {0: [(0, 0), (1, 2), (2, 2)], 1: good[1]}).duplicated == 1
    assert check_log(acked, {0: [(0, 0)], 1: good[1]}).lost == 1
    assert check_log(acked, {0: [(0, 2), (1, 0)], 1: good[1]}).out_of_order == 1
    assert check_log(acked, {0: [(0, 0), (1, 5), (2, 2)], 1: good[1]}).misplaced == 1
    unacked_extra = {0: [(0, 0), (1, 2), (2, 4)], 1: good[1]}  # sent, answer lost: allowed
    assert check_log(acked, unacked_extra).exactly_once_in_order


# --------------------------------------------------------------------- leader killed


def test_leader_killed_during_idempotent_produce_confluent(cluster: RunningCluster) -> None:
    topic, partitions = "killed-leader", 3
    before = replicated_topic(cluster, topic, partitions, MIN_ISR_2)[0]
    victim = before.leader
    with ProducerRun(cluster.bootstrap, topic, partitions, in_flight=WINDOW) as run:
        run.wait_acked(300)
        _, failover_s = stall_then_kill_leader(cluster, topic, before, run.result, WINDOW)
        run.wait_acked(run.result.count(0) + 300, partition=0)
        result = run.stop()
    figures = check_log(result.acked, read_all(cluster.bootstrap, topic, partitions))
    report("confluent-kafka, leader killed", figures, f"re-led {failover_s:.2f} s after kill -9")
    assert not result.failed, f"failed deliveries: {list(result.failed.items())[:5]}"
    assert figures.exactly_once_in_order, figures
    cluster.brokers[victim].start()  # it comes back as a follower, truncates and catches up
    partition_where(cluster, topic, lambda s: s.fully_replicated, "in sync again")


def test_leader_killed_during_idempotent_produce_java(
    cluster: RunningCluster, java_classpath: str, tmp_path: Path
) -> None:
    topic, partitions, count = "killed-leader-java", 3, 4000
    before = replicated_topic(cluster, topic, partitions, MIN_ISR_2)[0]
    stderr = tmp_path / "java.stderr"
    with stderr.open("w") as err:
        java = subprocess.Popen(
            ["java", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp",
             java_classpath, str(JAVA_PRODUCER), cluster.bootstrap, topic, str(partitions),
             str(count), str(WINDOW)],
            stdout=subprocess.PIPE, stderr=err, text=True,
        )  # fmt: skip
    result, done = Acked(), threading.Event()
    reader = threading.Thread(target=_read_java, args=(java, result, done), daemon=True)
    reader.start()
    try:
        wait_for(lambda: result.count() >= 300 or done.is_set(), "300 acknowledged", 60)
        assert not done.is_set(), stderr.read_text()[-2000:]
        _, failover_s = stall_then_kill_leader(cluster, topic, before, result, WINDOW)
        wait_for(done.is_set, "the Java producer done", 90)
        assert java.wait(10) == 0, stderr.read_text()[-2000:]
    finally:
        if java.poll() is None:
            java.kill()
            java.wait()
    figures = check_log(result.acked, read_all(cluster.bootstrap, topic, partitions))
    report("Java client, leader killed", figures, f"re-led {failover_s:.2f} s after kill -9")
    assert not result.failed, f"failed deliveries: {list(result.failed.items())[:5]}"
    assert figures.acknowledged == count
    assert figures.exactly_once_in_order, figures


@pytest.mark.slow
def test_leader_killed_again_and_again(cluster: RunningCluster) -> None:
    """Five rounds: kill the current leader (with a stalled follower), bring it back as a
    follower that must truncate its unacknowledged suffix, and kill whoever leads next."""
    topic, partitions = "killed-again", 3
    replicated_topic(cluster, topic, partitions, MIN_ISR_2)
    timings = []
    with ProducerRun(cluster.bootstrap, topic, partitions, in_flight=WINDOW) as run:
        for _ in range(5):
            state = partition_where(cluster, topic, lambda s: s.fully_replicated, "in sync")
            run.wait_acked(run.result.count(0) + 200, partition=0)
            _, failover_s = stall_then_kill_leader(cluster, topic, state, run.result, WINDOW)
            timings.append(failover_s)
            run.wait_acked(run.result.count(0) + 200, partition=0)
            cluster.brokers[state.leader].start()
        result = run.stop()
    figures = check_log(result.acked, read_all(cluster.bootstrap, topic, partitions))
    report("confluent-kafka, 5 leaders killed", figures, f"re-led in {max(timings):.2f} s at most")
    assert not result.failed, f"failed deliveries: {list(result.failed.items())[:5]}"
    assert figures.exactly_once_in_order, figures
    partition_where(cluster, topic, lambda s: s.fully_replicated, "in sync")
    for broker in cluster.brokers.values():  # every replica holds the same records
        others = [b for b in cluster.brokers.values() if b is not broker]
        for other in others:
            other.stop()
        for p in range(partitions):  # the survivor leads every partition alone (ELR)
            partition_where(cluster, topic, lambda s: s.leader >= 0, "led", p)
        alone = check_log(result.acked, read_all(broker.bootstrap, topic, partitions))
        assert alone == figures, (broker.bootstrap, alone)
        for other in others:
            other.start()
        for p in range(partitions):
            partition_where(cluster, topic, lambda s: s.fully_replicated, "in sync", p)


def _read_java(java: subprocess.Popen[str], result: Acked, done: threading.Event) -> None:
    assert java.stdout is not None
    for line in java.stdout:
        words = line.split()
        if words[:1] == ["sent"]:
            with result.lock:
                result.sent += 1
        elif words[:1] == ["ack"]:
            result.ack(int(words[1]), int(words[2]), int(words[3]))
        elif words[:1] == ["fail"]:
            result.fail(int(words[1]), words[2])
    done.set()


@pytest.fixture(scope="module")
def java_classpath() -> str:
    from refka.peers.kafka import libs_dir

    libs = libs_dir()
    if shutil.which("java") is None or not any(libs.glob("kafka-clients-*.jar")):
        pytest.skip("Java or the kafka-clients jar is missing (scripts/ensure-peers)")
    return f"{libs}/*"


# -------------------------------------------------------------------- follower paused

LAG_MS = 1000
SLACK_S = 2.5


def test_paused_follower_leaves_the_isr_and_rejoins(tmp_path: Path) -> None:
    """The leader shrinks the ISR itself (the session timeout is far longer than the lag time,
    so the controller does not fence the paused broker first)."""
    config = {**FAST, "broker.session.timeout.ms": 20000, "replica.lag.time.max.ms": LAG_MS}
    with running_cluster(3, tmp_path / "cluster", config=config) as cluster:
        topic = "paused-follower"
        before = replicated_topic(cluster, topic)[0]
        leader = cluster.brokers[before.leader]
        follower = next(r for r in before.replicas if r != before.leader)
        others = [b for b in cluster.brokers if b != follower]
        cluster.brokers[follower].pause()
        try:
            paused = time.monotonic()
            assert produce_raw(leader.bootstrap, topic, acks=1) == ErrorCode.none
            after = partition_where(
                cluster, topic, lambda s: follower not in s.isr, "without the paused follower",
                among=others, timeout_s=LAG_MS / 1000 + SLACK_S,
            )  # fmt: skip
            shrink_s = time.monotonic() - paused
            assert after.leader == before.leader
            assert set(after.isr) == set(before.replicas) - {follower}
        finally:
            cluster.brokers[follower].resume()
        partition_where(cluster, topic, lambda s: s.fully_replicated, "rejoined")
        assert produce_raw(leader.bootstrap, topic, acks=-1) == ErrorCode.none
        print(f"\nISR shrink {shrink_s:.2f} s after SIGSTOP (replica.lag.time.max.ms {LAG_MS})")


# ------------------------------------------------------------------ too few replicas


def test_acks_all_is_refused_with_two_of_three_brokers_down(cluster: RunningCluster) -> None:
    topic = "too-few"
    before = replicated_topic(cluster, topic, 1, MIN_ISR_2)[0]
    leader = cluster.brokers[before.leader]
    assert produce_raw(leader.bootstrap, topic, acks=-1) == ErrorCode.none
    followers = [r for r in before.replicas if r != before.leader]
    for f in followers:
        cluster.brokers[f].kill()
    # still in the ISR (not yet fenced, not yet lagging): the leader appends and waits, and no
    # follower ever fetches it
    waiting = produce_raw(leader.bootstrap, topic, acks=-1, timeout_ms=1000)
    assert waiting in (ErrorCode.request_timed_out, ErrorCode.not_enough_replicas_after_append)
    partition_where(cluster, topic, lambda s: s.isr == (before.leader,), "ISR of the leader only")
    assert produce_raw(leader.bootstrap, topic, acks=-1) == ErrorCode.not_enough_replicas

    producer = Producer({"bootstrap.servers": leader.bootstrap, "acks": "all",
                         "enable.idempotence": True, "message.timeout.ms": 3000})  # fmt: skip
    outcome: list[str | None] = []
    for i in range(10):
        producer.produce(topic, b"%d" % i, partition=0,
                         on_delivery=lambda e, _m: outcome.append(e and e.name()))  # fmt: skip
    assert producer.flush(20) == 0
    assert len(outcome) == 10 and None not in outcome, outcome  # nothing acknowledged
    assert _end_offset(leader.bootstrap, topic) == 1  # nothing appended

    cluster.brokers[followers[0]].start()
    partition_where(cluster, topic, lambda s: followers[0] in s.isr, "the follower back in")
    assert produce_raw(leader.bootstrap, topic, acks=-1) == ErrorCode.none


def _end_offset(bootstrap: str, topic: str, index: int = 0) -> int:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "failover-offsets"})
    try:
        return int(consumer.get_watermark_offsets(TopicPartition(topic, index), timeout=10)[1])
    finally:
        consumer.close()


# -------------------------------------------------------------------- unclean election


def test_unclean_leader_election_off_stays_offline_on_elects_and_loses(tmp_path: Path) -> None:
    config = {**FAST, "unclean.leader.election.interval.ms": 500}
    with running_cluster(3, tmp_path / "cluster", config=config) as cluster:
        topic = "unclean"
        before = replicated_topic(cluster, topic, 1, {"min.insync.replicas": "1"})[0]
        leader = cluster.brokers[before.leader]
        followers = [r for r in before.replicas if r != before.leader]
        for _ in range(5):
            assert produce_raw(leader.bootstrap, topic, acks=-1) == ErrorCode.none
        for f in followers:
            cluster.brokers[f].kill()
        partition_where(cluster, topic, lambda s: s.isr == (before.leader,), "ISR of one")
        for _ in range(3):  # only the leader ever has these
            assert produce_raw(leader.bootstrap, topic, acks=-1) == ErrorCode.none
        assert _end_offset(leader.bootstrap, topic) == 8
        leader.kill()
        for f in followers:
            cluster.brokers[f].start()
        partition_where(cluster, topic, lambda s: s.leader == -1, "offline")
        wait_for(lambda: _unfenced(cluster) >= {*followers}, "followers unfenced")
        _stays_offline(cluster, topic, 1.5)

        admin = AdminClient({"bootstrap.servers": cluster.brokers[followers[0]].bootstrap})
        resource = ConfigResource(
            ConfigResource.Type.TOPIC, topic,
            incremental_configs=[ConfigEntry("unclean.leader.election.enable", "true",
                                             incremental_operation=AlterConfigOpType.SET)],
        )  # fmt: skip
        admin.incremental_alter_configs([resource])[resource].result(10)
        after = partition_where(cluster, topic, lambda s: s.leader in followers, "led uncleanly")
        assert after.leader_epoch > before.leader_epoch
        assert _end_offset(cluster.brokers[after.leader].bootstrap, topic) == 5  # 3 lost
        leader.start()  # the old leader truncates to the new leader's log and rejoins
        partition_where(cluster, topic, lambda s: s.fully_replicated, "in sync again")
        assert _end_offset(leader.bootstrap, topic) == 5


def _unfenced(cluster: RunningCluster) -> set[int]:
    from refka.peers.cluster_metadata import describe

    for broker in cluster.brokers.values():
        if broker.running:
            return set(describe(broker.bootstrap).brokers)
    return set()


def _stays_offline(cluster: RunningCluster, topic: str, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        state = partition(cluster, topic)
        assert state is not None and state.leader == -1, state
        time.sleep(0.1)


# ----------------------------------------------------------------- controlled shutdown


def test_controlled_shutdown_moves_leadership_without_failed_deliveries(
    cluster: RunningCluster,
) -> None:
    topic, partitions = "controlled", 3
    victim = replicated_topic(cluster, topic, partitions, MIN_ISR_2)[0].leader
    with ProducerRun(cluster.bootstrap, topic, partitions) as run:
        run.wait_acked(300)
        stopping = time.monotonic()
        cluster.brokers[victim].stop()  # SIGTERM; requires exit code 0
        stop_s = time.monotonic() - stopping
        assert stop_s < SHUTDOWN_WAIT_S, "the controller never let it go: it waited it out"
        partition_where(cluster, topic, lambda s: s.leader not in (-1, victim), "re-led")
        run.wait_acked(run.result.count(0) + 300, partition=0)
        result = run.stop()
    figures = check_log(result.acked, read_all(cluster.bootstrap, topic, partitions))
    report("confluent-kafka, controlled shutdown", figures, f"SIGTERM to exit {stop_s:.2f} s")
    assert not result.failed, f"failed deliveries: {list(result.failed.items())[:5]}"
    assert figures.exactly_once_in_order, figures
    cluster.brokers[victim].start()
    partition_where(cluster, topic, lambda s: s.fully_replicated, "in sync again")


# --------------------------------------------------------------- whole-cluster restart


def test_whole_cluster_restart_keeps_topics_and_acknowledged_records(
    cluster: RunningCluster,
) -> None:
    topics = {"restart-a": 3, "restart-b": 1}
    acked: dict[str, Acked] = {}
    for topic, partitions in topics.items():
        replicated_topic(cluster, topic, partitions, MIN_ISR_2)
        with ProducerRun(cluster.bootstrap, topic, partitions) as run:
            run.wait_acked(200)
            acked[topic] = run.stop()
        assert not acked[topic].failed

    committed = [TopicPartition("restart-a", p, 10 + p) for p in range(3)]
    _group_offsets(cluster.bootstrap, committed)

    for broker in cluster.brokers.values():
        broker.stop()
    cluster.controller.stop()
    cluster.controller.start()
    offsets = {node_id: broker.launch() for node_id, broker in cluster.brokers.items()}
    for node_id, broker in cluster.brokers.items():
        broker.wait_ready(offsets[node_id], 30)

    for topic, partitions in topics.items():
        for p in range(partitions):
            partition_where(cluster, topic, lambda s: s.fully_replicated, "back", p)
        figures = check_log(acked[topic].acked, read_all(cluster.bootstrap, topic, partitions))
        assert figures.acknowledged >= 200
        assert figures.exactly_once_in_order, figures
    back = _group_offsets(cluster.bootstrap, [TopicPartition("restart-a", p) for p in range(3)])
    assert [(t.partition, t.offset) for t in back] == [(p, 10 + p) for p in range(3)]


def _group_offsets(bootstrap: str, partitions: list[TopicPartition]) -> list[TopicPartition]:
    """Commit ``partitions``' offsets for group ``restart`` when they carry one, then read the
    group's committed offsets back."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "restart"})
    try:
        if all(t.offset >= 0 for t in partitions):
            consumer.commit(offsets=partitions, asynchronous=False)
        return list(consumer.committed(partitions, timeout=20))
    finally:
        consumer.close()
