"""Apache Kafka 4.4's DescribeConfigs answers, recorded: every topic and broker config key.

``kafka_configs.json`` is written by ``scripts/kafka-describe-configs.py`` from a live Kafka 4.4
(one KRaft node, ``refka.peers.kafka``): for a fresh topic and for the broker, each key in
Kafka's order with its type (KIP-569), read-only flag, sensitivity, documentation, and its
value and synonyms. refka's DescribeConfigs lists exactly these keys with these attributes;
its values come from refka's own configuration where refka has the key (``refka.config``) and
are Kafka's defaults otherwise (reported, not acted on). The conformance probe
``conformance/test_describe_configs_kafka.py`` compares a broker's answer against the table.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

# DescribeConfigs config_source values
DYNAMIC_TOPIC_CONFIG = 1
DYNAMIC_BROKER_CONFIG = 2
DYNAMIC_DEFAULT_BROKER_CONFIG = 3
STATIC_BROKER_CONFIG = 4
DEFAULT_CONFIG = 5
DYNAMIC_BROKER_LOGGER_CONFIG = 6

# DescribeConfigs config_type values (KIP-569)
PASSWORD = 9


@dataclass(frozen=True, slots=True)
class KafkaKey:
    """One config key as Kafka 4.4 describes it.

    ``default`` is Kafka's default value (None: no default, or derived from another key);
    ``default_synonyms`` are the synonyms Kafka lists when nothing is configured, as
    (name, value) pairs of source DEFAULT_CONFIG, in Kafka's order.
    """

    name: str
    config_type: int
    read_only: bool
    sensitive: bool
    documentation: str | None
    default: str | None
    default_synonyms: tuple[tuple[str, str | None], ...]


@dataclass(frozen=True, slots=True)
class Recorded:
    """The whole recording: the keys of each resource in Kafka's order, and the raw answers."""

    kafka_version: str
    topic: dict[str, KafkaKey]
    broker: dict[str, KafkaKey]
    raw: dict[str, Any]


def _key(entry: dict[str, Any]) -> KafkaKey:
    defaults = tuple((n, v) for n, v, source in entry["synonyms"] if source == DEFAULT_CONFIG)
    if entry["source"] == DEFAULT_CONFIG:
        default = entry["value"]
    else:
        default = defaults[-1][1] if defaults else None
    return KafkaKey(
        entry["name"],
        entry["type"],
        entry["read_only"],
        entry["sensitive"],
        entry["doc"],
        default,
        defaults,
    )


@cache
def recorded() -> Recorded:
    """The recording, read on the first DescribeConfigs (json and importlib.resources are off
    the broker's start path, issue 15)."""
    import json
    from importlib import resources

    text = resources.files("refka.core").joinpath("kafka_configs.json").read_text()
    raw = json.loads(text)
    return Recorded(
        raw["kafka_version"],
        {e["name"]: _key(e) for e in raw["topic"]},
        {e["name"]: _key(e) for e in raw["broker"]},
        raw,
    )
