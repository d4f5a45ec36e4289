"""DescribeConfigs entries of a topic and of a broker: every key Kafka 4.4 lists, in its order.

An entry's value and source are its first synonym's (``refka.core.config_layers``): for a
topic, its own override (DYNAMIC_TOPIC_CONFIG) and then the layers of the broker key Kafka
names as its synonym (``log.retention.ms`` for ``retention.ms``); a topic key with no synonym
at all shows its default (refka's, derived from the broker's keys as ``LogConfig`` does). A
broker key refka does not implement shows Kafka's default (reported, not acted on).
Sensitive (PASSWORD) values are null.
"""

from __future__ import annotations

from collections.abc import Mapping

from refka.core.config_layers import Layers, Synonym
from refka.core.kafka_configs import (
    DEFAULT_CONFIG,
    DYNAMIC_DEFAULT_BROKER_CONFIG,
    DYNAMIC_TOPIC_CONFIG,
    recorded,
)
from refka.core.topic_defaults import Entry, TopicDefault
from refka.log import topic_configs as defs

# Topic keys whose broker synonym is a derived time key (the table's synonyms name none).
_TOPIC_BROKER_KEY = {
    "retention.ms": "log.retention.ms",
    "segment.ms": "log.roll.ms",
    "flush.ms": "log.flush.interval.ms",
    "segment.jitter.ms": "log.roll.jitter.ms",
}


def broker_entries(layers: Layers) -> list[Entry]:
    """Every broker key Kafka lists, with this broker's values."""
    out = []
    for key in recorded().broker.values():
        synonyms = layers.chain(key.name)
        if key.sensitive:
            synonyms = [(n, None, s) for n, _, s in synonyms]
        value, source = synonyms[0][1:] if synonyms else (None, DEFAULT_CONFIG)
        out.append(Entry(key.name, value, source, key.config_type, tuple(synonyms)))
    return out


def cluster_entries(layers: Layers) -> list[Entry]:
    """The broker resource ``""``: the keys set cluster-wide (DYNAMIC_DEFAULT_BROKER_CONFIG)."""
    cluster = {
        k: v
        for source, values in layers.dynamic
        if source == DYNAMIC_DEFAULT_BROKER_CONFIG
        for k, v in values.items()
    }
    out = []
    for key in recorded().broker.values():
        if key.name in cluster:
            value = None if key.sensitive else cluster[key.name]
            synonyms = ((key.name, value, DYNAMIC_DEFAULT_BROKER_CONFIG),)
            out.append(
                Entry(key.name, value, DYNAMIC_DEFAULT_BROKER_CONFIG, key.config_type, synonyms)
            )
    return out


def topic_entries(
    layers: Layers, defaults: Mapping[str, TopicDefault], overrides: Mapping[str, str]
) -> list[Entry]:
    """Every topic key Kafka lists, for a topic with these overrides."""
    out = []
    for name in recorded().topic:
        d = defs.BY_NAME[name]
        synonyms: list[Synonym] = []
        if name in overrides:
            synonyms.append((name, _format(d, overrides[name]), DYNAMIC_TOPIC_CONFIG))
        broker_key = _TOPIC_BROKER_KEY.get(name) or (d.synonyms[0] if d.synonyms else None)
        if broker_key is not None:
            synonyms += [(n, _format(d, v), s) for n, v, s in layers.chain(broker_key)]
        value, source = synonyms[0][1:] if synonyms else (defaults[name].value, DEFAULT_CONFIG)
        out.append(Entry(name, value, source, d.type, tuple(synonyms)))
    return out


def _format(d: defs.TopicConfigDef, value: str | None) -> str | None:
    """A broker value as the topic key shows it (lists and doubles in Kafka's spelling)."""
    if value is None:
        return None
    try:
        return defs.format_value(d, defs.parse(d.name, value, validate=False))
    except ValueError:
        return value
