"""A three-broker refka cluster (`refka.testing.running_cluster(3)`) and the cluster probes.

The cluster probes (conformance/test_cluster.py) skip on a single broker; on a cluster of three
they check what Apache Kafka does (tests/test_conformance_kafka_cluster.py proves them against a
three-broker Kafka): replicated placement, NOT_LEADER_OR_FOLLOWER with KIP-951 leader hints on
followers and outsiders, KIP-320 epoch fencing after a leader move (AlterPartitionReassignments
then a preferred ElectLeaders), OffsetForLeaderEpoch, and min.insync.replicas capped at the
replication factor. The UpdateFeatures probes run too (every broker's ApiVersions follows the
controller's FeatureLevelRecords). refka must pass every one; none may be skipped or
unsupported.
"""

from __future__ import annotations

from pathlib import Path

from refka.testing import running_cluster

from conformance.differences import REFKA_PEER_CONFIG
from conformance.outcomes import ERROR, FAILED, PASSED, SKIPPED, UNSUPPORTED
from conformance.runner import run_suite_subprocess

# The settings the Apache Kafka cluster peer runs with (refka.peers.kafka_cluster).
CLUSTER_CONFIG = {
    **REFKA_PEER_CONFIG,
    "offsets.topic.num.partitions": "1",
    "offsets.topic.replication.factor": "3",
}


def test_refka_cluster_passes_the_cluster_probes(tmp_path: Path) -> None:
    with running_cluster(3, tmp_path / "data", config=CLUSTER_CONFIG) as cluster:
        run = run_suite_subprocess(
            cluster.bootstrap,
            tmp_path / "cluster.json",
            "refka cluster",
            only="(test_cluster and not test_cluster_id) or test_update_features",
        )
    bad = [
        f"{o.test_id}: {o.outcome} {o.detail}"
        for o in run.with_outcome(FAILED, ERROR, SKIPPED, UNSUPPORTED)
    ]
    assert not bad, "refka's cluster disagrees with the cluster probes:\n" + "\n".join(bad)
    assert run.totals()[PASSED] >= 25
