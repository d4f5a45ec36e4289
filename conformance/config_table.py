"""Compare a DescribeConfigs answer with Apache Kafka 4.4's, key by key.

The expectation is the recording of a live Kafka 4.4 (``refka.core.kafka_configs``, written by
``scripts/kafka-describe-configs.py``). A target's answer must list the same keys, each with
Kafka's type, read-only flag, sensitivity and documentation. Sources and synonyms are compared
after dropping the STATIC_BROKER_CONFIG layer from both sides (each broker's own
``server.properties`` sets different keys): what remains (topic override, dynamic per-broker,
dynamic cluster-wide, default) must have Kafka's names and sources. Values are compared where
both sides report a default (source DEFAULT_CONFIG), except for the keys of ``VALUE_DIFFERS``
(whose default, or its absence, differs between brokers for the reason given).
Key order is not compared (clients key the answer by name).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from refka.core.kafka_configs import STATIC_BROKER_CONFIG, recorded

DEFAULT_CONFIG = 5

# Broker keys whose default value differs between brokers for a reason, not a fault.
VALUE_DIFFERS: dict[str, str] = {
    "log.dirs": "a path on the test machine (Kafka has no default; refka's is ./data)",
    "log.dir": "refka uses log.dirs only (its default ./data); Kafka's is /tmp/kafka-logs",
    "listeners": "the address the broker was started on",
    "advertised.listeners": "the address the broker was started on",
    "controller.quorum.bootstrap.servers": "the controller port of the run",
    "node.id": "Kafka requires it to be set; refka's default is 1",
    "broker.id": "Kafka copies node.id into it",
    "process.roles": "Kafka requires it; refka's default is broker,controller (combined node)",
    "controller.listener.names": "Kafka requires it; refka's default is empty (CONTROLLER)",
    "listener.security.protocol.map": "the same four pairs, in another order",
}

Row = tuple[str, str | None, int]


def without_static(synonyms: Iterable[Row]) -> list[tuple[str, int]]:
    return [(name, source) for name, _, source in synonyms if source != STATIC_BROKER_CONFIG]


def _no_default(synonyms: list[tuple[str, int]]) -> list[tuple[str, int]]:
    return [(name, source) for name, source in synonyms if source != DEFAULT_CONFIG]


def layer_source(synonyms: list[tuple[str, int]]) -> int:
    return synonyms[0][1] if synonyms else DEFAULT_CONFIG


def rows(entry: Any) -> list[Row]:
    return [(s.name, s.value, int(s.source)) for s in entry.synonyms]


def compare(answer: Iterable[Any], kafka: list[dict[str, Any]], resource: str) -> list[str]:
    """Every way ``answer`` (DescribeConfigs configs, v4 with synonyms and documentation)
    differs from Kafka's recorded ``kafka`` entries; empty when they agree."""
    got = {c.name: c for c in answer}
    want = {e["name"]: e for e in kafka}
    problems = [f"{resource}: missing {k}" for k in sorted(set(want) - set(got))]
    problems += [f"{resource}: extra {k}" for k in sorted(set(got) - set(want))]
    for name in sorted(set(got) & set(want)):
        problems += [f"{resource} {name}: {p}" for p in _entry(got[name], want[name])]
    return problems


def _entry(c: Any, e: dict[str, Any]) -> list[str]:
    out = []
    pairs = (
        ("config_type", int(c.config_type), e["type"]),
        ("read_only", bool(c.read_only), e["read_only"]),
        ("is_sensitive", bool(c.is_sensitive), e["sensitive"]),
        ("documentation", c.documentation, e["doc"]),
    )
    out += [f"{field} {g!r}, Kafka {w!r}" for field, g, w in pairs if g != w]
    if e["sensitive"] and c.value is not None:
        out.append("a sensitive value is not null")
    mine, kafkas = without_static(rows(c)), without_static(e["synonyms"])
    if c.name in VALUE_DIFFERS:  # a default on one side only is one of the listed differences
        mine, kafkas = _no_default(mine), _no_default(kafkas)
    if mine != kafkas:
        out.append(f"synonyms {mine}, Kafka {kafkas}")
    expected_source = e["source"] if e["source"] != STATIC_BROKER_CONFIG else layer_source(kafkas)
    if int(c.config_source) not in (expected_source, STATIC_BROKER_CONFIG):
        out.append(f"source {int(c.config_source)}, Kafka {expected_source}")
    mine_rows = rows(c)
    if mine_rows and (c.value, int(c.config_source)) != mine_rows[0][1:]:
        out.append(f"value/source {c.value!r}/{c.config_source} not its first synonym's")
    both_default = int(c.config_source) == DEFAULT_CONFIG == e["source"]
    if both_default and c.name not in VALUE_DIFFERS and c.value != e["value"]:
        out.append(f"default {c.value!r}, Kafka {e['value']!r}")
    return out


def kafka_entries(resource: str) -> list[dict[str, Any]]:
    """The recorded answer: "topic", "topic_overridden" or "broker"."""
    entries: list[dict[str, Any]] = recorded().raw[resource]
    return entries
