"""Trace validation of a real run (issue 14): a controller and 3 brokers, each a process
recording its own trace (``refka.trace.file`` with ``{node}``); confluent-kafka produces with
acks=all and reads back; the partition's leader is killed (kill -9) and restarted; more records;
then ``refka spec validate --merge`` merges the four node files by their messages and TLC
checks the partition's trace against spec/trace/TraceReplication.tla: accepted. The same run
with a bug switched on (``refka.bugs=AckBeforeIsr``) is rejected at the bug's first act.

Records are produced only while all three replicas are in the ISR: Replication.tla's HW waits
for every replica (a HW that moves with a smaller ISR is Election.tla's to check).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition
from failover_helpers import DEADLINE_S, FAST, partition_where, replicated_topic, wait_for
from refka.core import trace as ev
from refka.testing import RunningCluster, running_cluster
from refka.trace_merge import read_node_traces

sys.path.insert(0, str(Path(__file__).parents[1] / "spec"))
from test_trace_validation import needs_tlc

TOPIC = "traced"
BROKERS = (1, 2, 3)
# FAST's timings, but no broker fenced or follower dropped from the ISR because a loaded
# machine delayed a heartbeat or a fetch: Replication.tla keeps every replica in the ISR.
CALM = {"broker.session.timeout.ms": 5000, "replica.lag.time.max.ms": 10000}


def produce(cluster: RunningCluster, values: range) -> None:
    producer = Producer({"bootstrap.servers": cluster.bootstrap, "acks": "all",
                         "enable.idempotence": True, "linger.ms": 0})  # fmt: skip
    failed: list[object] = []
    for value in values:
        producer.produce(TOPIC, str(value).encode(), partition=0,
                         on_delivery=lambda err, _m: err and failed.append(err))  # fmt: skip
        producer.flush(20)  # one batch a record: more steps for the trace
    assert producer.flush(20) == 0 and not failed, failed


def read_back(cluster: RunningCluster) -> list[int]:
    """Every record up to the high watermark, which a read_uncommitted consumer asks for
    (ListOffsets latest: the leader's ``ReadHighWatermark``)."""
    consumer = Consumer({
        "bootstrap.servers": cluster.bootstrap, "group.id": "trace-reader",
        "enable.auto.commit": False, "isolation.level": "read_uncommitted",
    })  # fmt: skip
    try:
        _, high = consumer.get_watermark_offsets(TopicPartition(TOPIC, 0), timeout=10)
        consumer.assign([TopicPartition(TOPIC, 0, OFFSET_BEGINNING)])
        values: list[int] = []
        deadline = time.monotonic() + DEADLINE_S
        while len(values) < high:
            assert time.monotonic() < deadline, f"read {len(values)} of {high}"
            message = consumer.poll(0.2)
            if message is not None and message.error() is None:
                values.append(int(message.value()))
        return values
    finally:
        consumer.close()


def settled(files: list[Path], records: int) -> bool:
    """Every broker's last state of the partition has the HW at ``records``: nothing of the
    run is still in flight between the nodes."""
    nodes = read_node_traces([f for f in files if f.exists()]).events
    for broker in BROKERS:
        states = [e for e in nodes.get(broker, []) if getattr(e, "topic", None) == TOPIC
                  and isinstance(e, ev.FollowerFetch | ev.AdvanceHighWatermark)]  # fmt: skip
        if not states or states[-1].high_watermark != records:
            return False
    return True


def validate_merged(files: list[Path], merged: Path) -> subprocess.CompletedProcess[str]:
    """``refka spec validate --merge`` on the node files, while the cluster still runs (its
    stop is traced too, and is not part of the run checked)."""
    args = ["spec", "validate", "--merge", "--merged", str(merged), "--topic", TOPIC,
            *map(str, files)]  # fmt: skip
    return subprocess.run([sys.executable, "-m", "refka", *args], capture_output=True,
                          text=True, timeout=300)  # fmt: skip


@needs_tlc
def test_a_real_cluster_run_with_a_leader_killed_is_accepted(tmp_path: Path) -> None:
    pattern = tmp_path / "node-{node}.trace"
    files = [tmp_path / f"node-{n}.trace" for n in (0, *BROKERS)]
    config = {**FAST, **CALM, "refka.trace.file": str(pattern)}
    with running_cluster(3, config=config, work_dir=tmp_path / "work") as cluster:
        replicated_topic(cluster, TOPIC)
        produce(cluster, range(5))
        assert read_back(cluster) == list(range(5))
        leader = cluster.leader_of(TOPIC)
        cluster.kill(leader)
        partition_where(cluster, TOPIC, lambda s: s.leader not in (-1, leader), "a new leader")
        cluster.restart(leader)
        partition_where(cluster, TOPIC, lambda s: s.fully_replicated, "back in sync")
        produce(cluster, range(5, 10))
        assert read_back(cluster) == list(range(10))
        wait_for(lambda: settled(files, 10), "every replica's HW at 10 in its trace")
        run = validate_merged(files, tmp_path / "merged.trace")
    print(run.stdout)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1/1 traces accepted" in run.stdout
    steps = (tmp_path / "merged.trace").read_text()
    for action in ("ReadHighWatermark", f"BecomeFollower(node={leader}", "AdvanceHighWatermark"):
        assert action in steps, action  # the run has the steps it was meant to have


@needs_tlc
def test_a_real_run_that_acknowledges_before_the_isr_has_the_records_is_rejected(
    tmp_path: Path,
) -> None:
    """The same pipeline has teeth: the brokers run with ``refka.bugs=AckBeforeIsr`` (acks=all
    answered right after the leader's append), and the merged trace is rejected at the first
    acknowledgement, whose records are not yet acked in the spec."""
    files = [tmp_path / f"node-{n}.trace" for n in (0, *BROKERS)]
    config = {**FAST, **CALM, "refka.trace.file": str(tmp_path / "node-{node}.trace"),
              "refka.bugs": "AckBeforeIsr"}  # fmt: skip
    with running_cluster(3, config=config, work_dir=tmp_path / "work") as cluster:
        replicated_topic(cluster, TOPIC)
        produce(cluster, range(3))
        wait_for(lambda: settled(files, 3), "every replica's HW at 3 in its trace")
        run = validate_merged(files, tmp_path / "merged.trace")
    assert run.returncode == 1, run.stdout + run.stderr
    assert "rejected at event" in run.stdout
    rejected = next(ln for ln in run.stdout.splitlines() if "trace line" in ln)
    assert ": AcknowledgeProduce(" in rejected and "offset=0, log_end_offset=1)" in rejected
