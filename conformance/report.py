"""Regenerate docs/conformance.md: start Apache Kafka, refka and Tansu on loopback, run the
suite against each, and write the tables per broker and the list of refka's differences.

    python -m conformance.report [--out docs/conformance.md] [--skip tansu]
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

from refka.peers.process import Peer, PeerUnavailable

from conformance import api_parity
from conformance.differences import REFKA_PEER_CONFIG, load
from conformance.outcomes import COLUMNS, ERROR, FAILED, PASSED, UNSUPPORTED, Run, table_markdown
from conformance.runner import run_suite_subprocess

BROKERS = ("Apache Kafka", "refka", "Tansu")


def _starters(work: Path) -> dict[str, Callable[[], AbstractContextManager[Peer]]]:
    from refka.peers.kafka import running_kafka
    from refka.peers.refka_broker import running_refka
    from refka.peers.tansu import running_tansu

    return {
        "Apache Kafka": lambda: running_kafka(work / "kafka"),
        "refka": lambda: running_refka(work / "refka", **REFKA_PEER_CONFIG),
        "Tansu": lambda: running_tansu(work / "tansu"),
    }


def run_all(work: Path, skip: set[str]) -> Iterator[tuple[str, Run | str]]:
    """(broker, its Run) for each broker, or (broker, why it did not run)."""
    for name, start in _starters(work).items():
        if name.lower() in skip:
            yield name, "skipped on request"
            continue
        try:
            with start() as peer:
                print(f"conformance-report: {name} on {peer.bootstrap}", flush=True)
                report = work / f"{name.replace(' ', '-').lower()}.json"
                yield name, run_suite_subprocess(peer.bootstrap, report, name)
        except (PeerUnavailable, TimeoutError, RuntimeError) as error:
            yield name, f"could not run: {error}"


def summary_table(runs: dict[str, Run]) -> str:
    apis = sorted({api for run in runs.values() for api in run.by_api()})
    names = list(runs)
    head = "| API | " + " | ".join(f"{n}: pass / fail / n.s." for n in names) + " |"
    lines = [head, "|---" * (len(names) + 1) + "|"]
    for api in [*apis, None]:
        cells = []
        for name in names:
            counts = runs[name].totals() if api is None else runs[name].by_api().get(api, Counter())
            bad = counts.get(FAILED, 0) + counts.get(ERROR, 0)
            cells.append(f"{counts.get(PASSED, 0)} / {bad} / {counts.get(UNSUPPORTED, 0)}")
        label = "**total**" if api is None else api
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def differences_section(runs: dict[str, Run]) -> list[str]:
    known = load()
    out = ["## Differences between refka and Apache Kafka", ""]
    out += [
        "Each test Apache Kafka passes and refka fails is listed in",
        "`conformance/known_differences.toml` (the CI test `tests/test_conformance_refka.py`",
        "fails when refka fails an unlisted test, or passes a listed one).",
        "",
    ]
    if not known:
        out += ["None: refka passes every test it implements.", ""]
    for diff in known.values():
        out += [
            f"- **`{diff.test}`** ({diff.status})",
            f"  - Apache Kafka: {diff.kafka}",
            f"  - refka: {diff.refka}",
            f"  - why: {diff.reason}",
        ]
    refka, kafka = runs.get("refka"), runs.get("Apache Kafka")
    if refka and kafka:
        kafka_passed = {o.test_id for o in kafka.with_outcome(PASSED)}
        missing = [o for o in refka.with_outcome(UNSUPPORTED) if o.test_id in kafka_passed]
        apis = [o for o in missing if o.test_id.startswith(PARITY_TEST)]
        missing = [o for o in missing if o not in apis]
        if apis:
            out += [
                "",
                f"Not served by refka: {len(apis)} APIs (`{PARITY_TEST}...]`, listed under",
                "[API versions against Apache Kafka 4.4](#api-versions-against-apache-kafka-44)).",
            ]
        if missing:
            out += [
                "",
                "Not supported by refka (it does not advertise the API or version; "
                "Apache Kafka passes these):",
                "",
            ]
            out += [f"- `{o.test_id}`: {o.detail}" for o in missing]
    return [*out, "", *KNOWN_UNPROBED]


PARITY_TEST = "test_api_versions.py::test_range_matches_kafka["

KNOWN_UNPROBED = [
    "Differences the suite does not probe (see `docs/compaction.md`):",
    "",
    "- Dynamic broker configs: every key Kafka lets change is stored and described; the log",
    "  keys of `dynamic_config.ACTED_ON` act at once, the others (threads, `ssl.*`, ...) do not.",
    "  IncrementalAlterConfigs on BROKER_LOGGER: INVALID_REQUEST (see `docs/configs.md`).",
    "- Topic configs of absent features are accepted, validated and described, with no effect:",
    "  tiered storage (`remote.*`, `local.retention.*`), `preallocate`,",
    "  `errors.deadletterqueue.group.enable`; and the",
    "  replication throttles, which in Kafka too act only once a throttle rate (a dynamic",
    "  broker config refka stores but does not act on) is set.",
    "- The log cleaner leaves an empty batch where a cleaned group's last batch lost every",
    "  record (it marks the group's end for swap recovery); Kafka drops it.",
    "",
]


PARITY_BEFORE = [
    "Before issue 12 (refka at e18b61b, measured the same way): 18 of Kafka 4.4's 77 APIs at",
    "Kafka's exact range, 9 present with a lower maximum (Produce 0-11, Fetch 4-17, Metadata",
    "0-12, OffsetCommit 2-9, OffsetFetch 1-9, FindCoordinator 0-5, ApiVersions 0-4,",
    "DeleteGroups 0-2, DescribeCluster 0-1), 50 missing.",
]


def parity_section(runs: dict[str, Run]) -> list[str]:
    """Each broker's ApiVersions against Apache Kafka 4.4's (``conformance/api_parity.py``)."""
    ranges = {name: run.api_ranges for name, run in runs.items() if name != "Apache Kafka"}
    ranges = {name: found for name, found in ranges.items() if found}
    if not ranges:
        return []
    out = ["## API versions against Apache Kafka 4.4", ""]
    out += [
        "Each API the brokers advertise (ApiVersions), against Apache Kafka 4.4.0's range:",
        "*match* is Kafka's exact range, *present* another range, *missing* not advertised.",
        "`test_api_versions.py::test_range_matches_kafka` checks every API a target",
        "advertises (against Kafka: that the table is still Kafka's), and",
        "`python -m conformance.api_parity --bootstrap HOST:PORT` prints it for any broker.",
        "ApiVersions v5, DeleteGroups v3 and TxnOffsetCommit v6, which kio 0.6.5 lacks, are",
        "declared as kio entities in `refka/protocol/kio_extra.py`. GetTelemetrySubscriptions and",
        "PushTelemetry (KIP-714) are not in Kafka's table: without a metrics plugin Kafka",
        "does not advertise them, yet answers them when sent; refka does the same",
        "(`test_telemetry.py`). The controller listener's ranges are checked against Kafka",
        "4.4's controller (`api_parity.KAFKA_4_4_CONTROLLER`, measured on the wire) by",
        "`tests/controller/test_quorum_controller.py`.",
        "",
    ]
    out += [f"- {api_parity.counts_line(name, found)}" for name, found in ranges.items()]
    out += ["", *PARITY_BEFORE, "", api_parity.table_markdown(ranges, only_present=True), ""]
    missing = [
        name
        for key, (name, _, _) in sorted(api_parity.KAFKA_4_4.items())
        if key not in ranges.get("refka", {})
    ]
    if "refka" in ranges:
        out += [f"Not served by refka ({len(missing)}): " + ", ".join(missing) + ".", ""]
        out += [f"- {name}: {why}" for name, why in _why_not_served(missing)] + [""]
    return out


NOT_SERVED_WHY = {
    "Share": "share groups (KIP-932: queues with per-record acknowledgement and their state "
    "topic) are a group type refka does not have; a later issue takes them",
    "Streams": "streams groups (KIP-1071: the broker-side Kafka Streams rebalance protocol) are "
    "a group type refka does not have; a later issue takes them",
}
"""Why refka leaves an API out, by the start of its name (issue 12's exceptions)."""


def _why_not_served(missing: list[str]) -> list[tuple[str, str]]:
    """(the APIs of one reason, the reason); an API no reason covers is named as such."""
    rows: list[tuple[str, str]] = []
    for prefix, why in NOT_SERVED_WHY.items():
        names = [m for m in missing if prefix in m]
        if names:
            rows.append((", ".join(names), why))
    covered = {m for m in missing if any(p in m for p in NOT_SERVED_WHY)}
    rows += [(m, "not built yet, and no reason recorded") for m in missing if m not in covered]
    return rows


def failures_section(name: str, run: Run) -> list[str]:
    bad = run.with_outcome(FAILED, ERROR)
    if not bad:
        return []
    out = [f"### {name}: failing tests", ""]
    out += [f"- `{o.test_id}` ({o.behaviour}): {o.detail[:160]}" for o in bad]
    return [*out, ""]


CLUSTER_SECTION = [
    "## Cluster probes",
    "",
    "`conformance/test_cluster.py` runs only when the target's Metadata lists three or more",
    'brokers (otherwise each probe is *skipped*, reason "not a cluster"). Each probe talks to',
    "one broker by node id: Produce, Fetch and ListOffsets to a follower and to a broker outside",
    "the replicas (NOT_LEADER_OR_FOLLOWER, with KIP-951's `current_leader` and `node_endpoints`",
    "at Produce v10+ and Fetch v16+; a consumer may fetch from a follower, KIP-392), Metadata's",
    "replicas, ISR and leader epochs, OffsetForLeaderEpoch (current, older, future epochs; a",
    "`current_leader_epoch` behind is FENCED_LEADER_EPOCH, ahead is UNKNOWN_LEADER_EPOCH; on a",
    "follower NOT_LEADER_OR_FOLLOWER), the same epoch checks on Fetch and ListOffsets, a replica",
    "fetch by a broker outside the replicas, and `acks=all` with min.insync.replicas above the",
    "replication factor (accepted: Kafka caps it at the replica count). An older epoch is made",
    "with client APIs only: AlterPartitionReassignments puts another replica first and a",
    "preferred ElectLeaders moves the leader (a target without them counts those probes as",
    "*not supported*). Run them against a cluster with a comma-separated bootstrap list:",
    "",
    "    refka peer kafka --brokers 3            # one KRaft controller + 3 brokers; --combined",
    "    refka conform --bootstrap 127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3 --only test_cluster",
    "",
    "The other probes talk to the first broker of the list; on a cluster the suite places its",
    "single-replica topics on that broker, so they run unchanged. Exceptions: the group probes",
    "(test_groups.py) expect the first broker to be the group coordinator, and",
    "`test_topics_admin.py::test_recreate` creates its topic without a placement.",
    "`tests/test_conformance_kafka_cluster.py` runs the cluster probes against a 3-broker",
    "Apache Kafka (every one must pass) and fails a broker through the peer's handle (kill -9,",
    "SIGSTOP, restart).",
    "",
]


DESCRIBE_CONFIGS_SECTION = [
    "## DescribeConfigs key by key",
    "",
    "`conformance/test_describe_configs_kafka.py` compares the whole DescribeConfigs answer",
    "(v4, with synonyms and documentation) for a new topic, a topic with overrides and the",
    "broker against Apache Kafka 4.4's, recorded by `scripts/kafka-describe-configs.py`",
    "(37 topic keys, 350 broker keys): names, types, read-only flags, sensitivity,",
    "documentation, sources and synonym names/sources (without the STATIC_BROKER_CONFIG layer,",
    "which each broker's own `server.properties` decides), and default values, except the",
    "instance-specific keys listed in `conformance/config_table.py` with their reason (log",
    "directories, listeners and ports, node id, roles). Before: refka's broker answer had 604",
    "differences (237 keys missing, 104 wrong types); now none. See docs/configs.md.",
    "",
]


def render(results: dict[str, Run | str]) -> str:
    runs = {name: r for name, r in results.items() if isinstance(r, Run)}
    total = max((len(r.outcomes) for r in runs.values()), default=0)
    observed = max((sum(o.observed for o in r.outcomes.values()) for r in runs.values()), default=0)
    out = [
        "# Conformance",
        "",
        "<!-- Generated by scripts/conformance-report; do not edit by hand. -->",
        "",
        f"The suite in `conformance/` ({total} tests) runs against any Kafka-protocol broker:",
        "",
        "    refka conform --bootstrap HOST:PORT [--only PATTERN] [--report FILE.{md,json,html}]",
        "    pytest conformance/ --bootstrap HOST:PORT",
        "",
        "Raw protocol probes (kio entities over a plain socket) and client flows",
        "(confluent-kafka, kafka-python, aiokafka). Every expectation is Apache Kafka's",
        f"behaviour; {observed} tests check behaviour that is observed rather than documented",
        "(marked `@pytest.mark.observed`). A test that needs an API or version the broker does",
        "not advertise in ApiVersions counts as *not supported* (n.s.), not as a failure.",
        "CI (`tests/test_conformance_kafka.py`, `tests/test_conformance_refka.py`) runs it",
        "against Apache Kafka (every test must pass) and refka (only listed differences may fail);",
        "Tansu runs on demand here. Regenerate this page with `scripts/conformance-report`.",
        "",
        *CLUSTER_SECTION,
        *DESCRIBE_CONFIGS_SECTION,
        "## Summary",
        "",
        summary_table(runs),
        "",
    ]
    for name, result in results.items():
        if isinstance(result, str):
            out += [f"{name}: {result}", ""]
    out += differences_section(runs)
    out += parity_section(runs)
    kafka = runs.get("Apache Kafka")
    if kafka is not None:
        noted = sorted((o.test_id, o.behaviour) for o in kafka.outcomes.values() if o.observed)
        out += ["## Expectations from observed (not documented) Kafka behaviour", ""]
        out += [f"- `{test}`: {behaviour}" for test, behaviour in noted]
        out += [""]
    out += ["## Per broker", ""]
    for name, run in runs.items():
        out += [f"### {name}", "", table_markdown(run), ""]
        out += failures_section(name, run)
    out += ["Columns: " + ", ".join(COLUMNS) + ".", ""]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/conformance-report", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("docs/conformance.md"))
    parser.add_argument("--skip", action="append", default=[], help="kafka, refka or tansu")
    args = parser.parse_args(argv)
    skip = {s.lower().replace("apache ", "") for s in args.skip}
    skip = {"apache kafka" if s == "kafka" else s for s in skip}
    with tempfile.TemporaryDirectory(prefix="refka-conformance-") as work:
        results: dict[str, Run | str] = dict(run_all(Path(work), skip))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render(results))
    print(f"conformance-report: wrote {args.out}")
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        raise SystemExit(main())
