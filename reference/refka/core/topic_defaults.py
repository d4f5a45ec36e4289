"""The broker keys that give each topic config its default (Kafka's ``LogConfig`` synonyms).

A topic without an override of ``retention.ms`` takes the broker's ``log.retention.ms`` (itself
derived from ``log.retention.hours``/``minutes``), and so on. DescribeConfigs reports the source
(STATIC_BROKER_CONFIG when ``server.properties`` set the broker key, DEFAULT_CONFIG otherwise)
and, with ``include_synonyms``, the chain topic -> broker -> default.
"""

from __future__ import annotations

from dataclasses import dataclass

from refka.config import BrokerConfig
from refka.log import topic_configs as defs

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
