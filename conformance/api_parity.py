"""API version parity with Apache Kafka: each API's range in Kafka 4.4 against a target's.

`KAFKA_4_4` is Apache Kafka 4.4.0's ApiVersions answer (a single KRaft node, broker and
controller, as `refka.peers.kafka` starts it), measured on the wire; the suite checks that a
live Kafka still answers it (`test_api_versions.py::test_range_matches_kafka`), so the table
cannot go stale unseen. Per API a target's range is a *match* (Kafka's range exactly),
*present* (advertised with another range) or *missing*; an API Kafka lacks is *extra*.

    python -m conformance.api_parity --bootstrap HOST:PORT   # prints the table for a broker
"""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Mapping

Ranges = Mapping[int, tuple[int, int]]

MATCH, PRESENT, MISSING, EXTRA = "match", "present", "missing", "extra"

KAFKA_4_4: dict[int, tuple[str, int, int]] = {
    0: ("Produce", 0, 13),
    1: ("Fetch", 4, 18),
    2: ("ListOffsets", 1, 11),
    3: ("Metadata", 0, 13),
    8: ("OffsetCommit", 2, 10),
    9: ("OffsetFetch", 1, 10),
    10: ("FindCoordinator", 0, 6),
    11: ("JoinGroup", 0, 9),
    12: ("Heartbeat", 0, 4),
    13: ("LeaveGroup", 0, 5),
    14: ("SyncGroup", 0, 5),
    15: ("DescribeGroups", 0, 6),
    16: ("ListGroups", 0, 5),
    17: ("SaslHandshake", 0, 1),
    18: ("ApiVersions", 0, 5),
    19: ("CreateTopics", 2, 7),
    20: ("DeleteTopics", 1, 6),
    21: ("DeleteRecords", 0, 2),
    22: ("InitProducerId", 0, 5),
    23: ("OffsetForLeaderEpoch", 2, 4),
    24: ("AddPartitionsToTxn", 0, 5),
    25: ("AddOffsetsToTxn", 0, 4),
    26: ("EndTxn", 0, 5),
    27: ("WriteTxnMarkers", 1, 2),
    28: ("TxnOffsetCommit", 0, 6),
    29: ("DescribeAcls", 1, 3),
    30: ("CreateAcls", 1, 3),
    31: ("DeleteAcls", 1, 3),
    32: ("DescribeConfigs", 1, 4),
    33: ("AlterConfigs", 0, 2),
    34: ("AlterReplicaLogDirs", 1, 2),
    35: ("DescribeLogDirs", 1, 5),
    36: ("SaslAuthenticate", 0, 2),
    37: ("CreatePartitions", 0, 3),
    38: ("CreateDelegationToken", 1, 3),
    39: ("RenewDelegationToken", 1, 2),
    40: ("ExpireDelegationToken", 1, 2),
    41: ("DescribeDelegationToken", 1, 3),
    42: ("DeleteGroups", 0, 3),
    43: ("ElectLeaders", 0, 2),
    44: ("IncrementalAlterConfigs", 0, 1),
    45: ("AlterPartitionReassignments", 0, 1),
    46: ("ListPartitionReassignments", 0, 0),
    47: ("OffsetDelete", 0, 0),
    48: ("DescribeClientQuotas", 0, 1),
    49: ("AlterClientQuotas", 0, 1),
    50: ("DescribeUserScramCredentials", 0, 0),
    51: ("AlterUserScramCredentials", 0, 0),
    55: ("DescribeQuorum", 0, 2),
    57: ("UpdateFeatures", 0, 2),
    60: ("DescribeCluster", 0, 2),
    61: ("DescribeProducers", 0, 0),
    64: ("UnregisterBroker", 0, 0),
    65: ("DescribeTransactions", 0, 0),
    66: ("ListTransactions", 0, 2),
    68: ("ConsumerGroupHeartbeat", 0, 1),
    69: ("ConsumerGroupDescribe", 0, 1),
    74: ("ListConfigResources", 0, 1),
    75: ("DescribeTopicPartitions", 0, 0),
    76: ("ShareGroupHeartbeat", 1, 1),
    77: ("ShareGroupDescribe", 1, 1),
    78: ("ShareFetch", 1, 2),
    79: ("ShareAcknowledge", 1, 2),
    80: ("AddRaftVoter", 0, 1),
    81: ("RemoveRaftVoter", 0, 0),
    83: ("InitializeShareGroupState", 0, 0),
    84: ("ReadShareGroupState", 0, 0),
    85: ("WriteShareGroupState", 0, 1),
    86: ("DeleteShareGroupState", 0, 0),
    87: ("ReadShareGroupStateSummary", 0, 1),
    88: ("StreamsGroupHeartbeat", 0, 1),
    89: ("StreamsGroupDescribe", 0, 1),
    90: ("DescribeShareGroupOffsets", 0, 1),
    91: ("AlterShareGroupOffsets", 0, 0),
    92: ("DeleteShareGroupOffsets", 0, 0),
    93: ("StreamsGroupTopologyDescriptionUpdate", 0, 0),
    94: ("UnregisterController", 0, 0),
}
"""API key -> (Kafka's name, min version, max version), as Apache Kafka 4.4.0 advertises."""


KAFKA_4_4_CONTROLLER: dict[int, tuple[int, int]] = {
    1: (4, 18),
    17: (0, 1),
    18: (0, 5),
    19: (2, 7),
    20: (1, 6),
    29: (1, 3),
    30: (1, 3),
    31: (1, 3),
    32: (1, 4),
    33: (0, 2),
    36: (0, 2),
    37: (0, 3),
    38: (1, 3),
    39: (1, 2),
    40: (1, 2),
    41: (1, 3),
    43: (0, 2),
    44: (0, 1),
    45: (0, 1),
    46: (0, 0),
    49: (0, 1),
    50: (0, 0),
    51: (0, 0),
    52: (0, 2),
    53: (0, 1),
    54: (0, 1),
    55: (0, 2),
    56: (2, 3),
    57: (0, 2),
    58: (0, 0),
    59: (0, 1),
    60: (0, 2),
    62: (0, 4),
    63: (0, 2),
    64: (0, 0),
    67: (0, 0),
    70: (0, 0),
    73: (0, 0),
    80: (0, 1),
    81: (0, 0),
    82: (0, 0),
    94: (0, 0),
}
"""Apache Kafka 4.4.0's ApiVersions answer on its controller listener (the same node), measured
on the wire: api key -> (lowest, highest version)."""


def kafka_ranges() -> dict[int, tuple[int, int]]:
    return {key: (low, high) for key, (_, low, high) in KAFKA_4_4.items()}


def status(key: int, ranges: Ranges) -> str:
    """How the target's range of API ``key`` compares with Kafka 4.4's."""
    kafka = kafka_ranges().get(key)
    mine = ranges.get(key)
    if kafka is None:
        return EXTRA
    if mine is None:
        return MISSING
    return MATCH if tuple(mine) == kafka else PRESENT


def counts(ranges: Ranges) -> Counter[str]:
    """How many of Kafka's APIs the target matches, has with another range, or lacks (and
    how many it has that Kafka lacks)."""
    keys = set(KAFKA_4_4) | set(ranges)
    return Counter(status(key, ranges) for key in keys)


def _cell(found: tuple[int, int] | None) -> str:
    return "-" if found is None else f"{found[0]}-{found[1]}"


def table_markdown(targets: Mapping[str, Ranges], only_present: bool = False) -> str:
    """One row per API (Kafka's and each target's range, and how each compares); with
    ``only_present`` the APIs that no target advertises are left out."""
    names = list(targets)
    head = "| key | API | Apache Kafka 4.4 | " + " | ".join(names) + " |"
    lines = [head, "|---" * (len(names) + 3) + "|"]
    keys = sorted(set(KAFKA_4_4).union(*(set(r) for r in targets.values())))
    for key in keys:
        if only_present and not any(key in r for r in targets.values()):
            continue
        name = KAFKA_4_4[key][0] if key in KAFKA_4_4 else f"(key {key})"
        kafka = kafka_ranges().get(key)
        cells = [
            f"{_cell(r.get(key))} ({status(key, r)})" if key in r or kafka else "-"
            for r in targets.values()
        ]
        lines.append(f"| {key} | {name} | {_cell(kafka)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def counts_line(name: str, ranges: Ranges) -> str:
    c = counts(ranges)
    line = (
        f"{name}: {c[MATCH]} of Kafka 4.4's {len(KAFKA_4_4)} APIs at Kafka's exact range, "
        f"{c[PRESENT]} present with another range, {c[MISSING]} missing"
    )
    return line + (f", {c[EXTRA]} that Kafka lacks" if c[EXTRA] else "")


def main(argv: list[str] | None = None) -> int:
    from conformance.target import Target

    parser = argparse.ArgumentParser(prog="python -m conformance.api_parity", description=__doc__)
    parser.add_argument("--bootstrap", required=True, help="the broker's HOST:PORT")
    parser.add_argument("--name", default="target", help="the broker's name in the table")
    args = parser.parse_args(argv)
    target = Target.discover(args.bootstrap, args.name)
    target.close()
    print(table_markdown({args.name: target.api_ranges}))
    print()
    print(counts_line(args.name, target.api_ranges))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
