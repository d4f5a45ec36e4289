"""Record Apache Kafka 4.4's DescribeConfigs answers into reference/refka/core/kafka_configs.json.

Starts a single-node Kafka (refka.peers.kafka) on loopback, creates a topic with no overrides
and one with the overrides in ``OVERRIDES``, and asks DescribeConfigs v4 (with synonyms and
documentation) for both topics, for the broker and for the BROKER_LOGGER resource. Each entry
keeps Kafka's order and every field of the answer. refka's DescribeConfigs takes the key list,
types, read-only flags, sensitivity, synonym chains and documentation from this table, and the
conformance probe (conformance/test_describe_configs_table.py) compares a target against it.

    PYTHONPATH=reference:. .venv/bin/python scripts/kafka-describe-configs.py [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

from refka.peers.kafka import KAFKA_VERSION, running_kafka, server_properties

from conformance.target import Target

OUT = Path(__file__).resolve().parent.parent / "reference/refka/core/kafka_configs.json"
TOPIC, BROKER, BROKER_LOGGER = 2, 4, 8
OVERRIDES = {
    "cleanup.policy": "compact",
    "compression.type": "lz4",
    "max.message.bytes": "2000000",
    "retention.ms": "123456",
    "segment.bytes": "1048576",
    "min.insync.replicas": "1",
}


def describe(target: Target, resource_type: int, name: str) -> list[dict[str, Any]]:
    answer = target.call(
        "DescribeConfigs",
        4,
        4,
        include_synonyms=True,
        include_documentation=True,
        resources=[
            {"resource_type": resource_type, "resource_name": name, "configuration_keys": None}
        ],
    )
    result = answer.results[0]
    if result.error_code != 0:
        raise SystemExit(f"DescribeConfigs {resource_type}/{name}: {result.error_code!r}")
    return [
        {
            "name": c.name,
            "value": c.value,
            "type": int(c.config_type),
            "source": int(c.config_source),
            "read_only": bool(c.read_only),
            "sensitive": bool(c.is_sensitive),
            "synonyms": [[s.name, s.value, int(s.source)] for s in c.synonyms],
            "doc": c.documentation,
        }
        for c in result.configs
    ]


def record(work: Path) -> dict[str, Any]:
    with running_kafka(work) as peer:
        target = Target.discover(peer.bootstrap, "Apache Kafka")
        target.create_topic("plain", 1)
        target.create_topic("overridden", 1, OVERRIDES)
        node = str(target.node_id)
        static = server_properties(Path("LOG_DIR"), 0, 0)
        table = {
            "kafka_version": KAFKA_VERSION,
            "static_broker_keys": sorted(static),
            "overrides": OVERRIDES,
            "topic": describe(target, TOPIC, "plain"),
            "topic_overridden": describe(target, TOPIC, "overridden"),
            "broker": describe(target, BROKER, node),
            "broker_logger": describe(target, BROKER_LOGGER, node),
        }
        target.close()
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kafka-configs-") as work:
        table = record(Path(work) / "kafka")
    args.out.write_text(json.dumps(table, indent=1, sort_keys=False) + "\n")
    counts = {k: len(v) for k, v in table.items() if isinstance(v, list)}
    print(f"wrote {args.out}: {counts}")


if __name__ == "__main__":
    main()
