"""The broker keys that give each topic config its default (Kafka's ``LogConfig`` synonyms).

A topic without an override of ``retention.ms`` takes the broker's ``log.retention.ms`` (itself
derived from ``log.retention.hours``/``minutes``), and so on. DescribeConfigs reports the source
(STATIC_BROKER_CONFIG when ``server.properties`` set the broker key, DEFAULT_CONFIG otherwise)
and, with ``include_synonyms``, the chain topic -> broker -> default.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from refka.config import BrokerConfig
from refka.log import topic_configs as defs

DYNAMIC_TOPIC_CONFIG = 1  # DescribeConfigs config_source values
STATIC_BROKER_CONFIG = 4
DEFAULT_CONFIG = 5
CONFIG_TYPE_STRING = 2

# Topic keys whose default comes from a broker key that Kafka does not list as a synonym
# when the broker leaves it unset (its default is derived from another key).
_VALUE_FROM = {
    "retention.ms": "log.retention.ms",
    "segment.ms": "log.roll.ms",
    "flush.ms": "log.flush.interval.ms",
    "segment.jitter.ms": "log.roll.jitter.ms",
}


@dataclass(frozen=True, slots=True)
class TopicDefault:
    """A topic config's default: its text, the broker key it comes from, and whether set."""

    value: str
    broker_key: str | None  # the broker key it comes from, if any
    set_on_broker: bool


def broker_key_for(topic_key: str) -> str | None:
    definition = defs.BY_NAME[topic_key]
    key = _VALUE_FROM.get(topic_key) or (definition.synonyms[0] if definition.synonyms else None)
    if key is None or _field(key) not in BrokerConfig.model_fields:
        return None
    return key


def topic_defaults(config: BrokerConfig) -> dict[str, TopicDefault]:
    """Every described topic config's default on this broker."""
    out: dict[str, TopicDefault] = {}
    for d in defs.DESCRIBED:
        key = broker_key_for(d.name)
        raw = getattr(config, _field(key)) if key is not None else None
        if raw is None:
            out[d.name] = TopicDefault(d.default, None, False)
            continue
        text = defs.format_value(d, defs.parse(d.name, _text(raw), validate=False))
        out[d.name] = TopicDefault(text, key, _field(key) in config.model_fields_set)  # type: ignore[arg-type]
    return out


def _text(raw: object) -> str:
    return str(raw).lower() if isinstance(raw, bool) else str(raw)


def _field(key: str | None) -> str:
    return (key or "").replace(".", "_")


@dataclass(frozen=True, slots=True)
class Entry:
    """One DescribeConfigs entry: name, value, source, type and synonyms."""

    name: str
    value: str | None
    source: int
    config_type: int = CONFIG_TYPE_STRING
    synonyms: tuple[tuple[str, str | None, int], ...] = ()


def topic_entries(
    defaults: Mapping[str, TopicDefault], overrides: Mapping[str, str]
) -> list[Entry]:
    """Kafka lists a topic's configs with the topic override first in the synonyms, then the
    broker key if ``server.properties`` set it, then the broker key's default."""
    entries: list[Entry] = []
    for d in defs.DESCRIBED:
        default = defaults[d.name]
        synonyms: list[tuple[str, str | None, int]] = []
        value, source = default.value, DEFAULT_CONFIG
        if d.name in overrides:
            value = defs.format_value(d, defs.parse(d.name, overrides[d.name]))
            source = DYNAMIC_TOPIC_CONFIG
            synonyms.append((d.name, value, DYNAMIC_TOPIC_CONFIG))
        elif default.set_on_broker:
            source = STATIC_BROKER_CONFIG
        if default.set_on_broker and default.broker_key is not None:
            synonyms.append((default.broker_key, default.value, STATIC_BROKER_CONFIG))
        if d.synonyms:
            synonyms.append((d.synonyms[0], d.default, DEFAULT_CONFIG))
        entries.append(Entry(d.name, value, source, d.type, tuple(synonyms)))
    return entries
