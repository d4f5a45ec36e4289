"""The broker resource's DescribeConfigs entries: every key Kafka 4.4 lists, in Kafka's order.

Each key's value comes from the first layer that sets it, as in Kafka's ``ConfigHelper``:
the per-broker dynamic config (DYNAMIC_BROKER_CONFIG), the cluster-wide dynamic default
(DYNAMIC_DEFAULT_BROKER_CONFIG), ``server.properties`` (STATIC_BROKER_CONFIG), then the default
(DEFAULT_CONFIG). The synonyms list every layer that sets it, most specific first. A key refka
implements (a ``BrokerConfig`` field) shows refka's value and default; a key it does not
implement shows Kafka's default (reported, not acted on). Sensitive (PASSWORD) values are null.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from refka.config import BrokerConfig
from refka.core.kafka_configs import (
    DEFAULT_CONFIG,
    STATIC_BROKER_CONFIG,
    KafkaKey,
    recorded,
)
from refka.core.topic_defaults import Entry

# Keys whose default Kafka derives from another key and reports as null (refka's model holds
# the derived value).
DERIVED = frozenset({"log.retention.ms", "log.roll.ms", "log.flush.interval.ms"})

Synonym = tuple[str, str | None, int]


def _fields() -> dict[str, str]:
    """Kafka key -> BrokerConfig field name."""
    return {
        (f.alias or name.replace("_", ".")): name for name, f in BrokerConfig.model_fields.items()
    }


_FIELDS = _fields()


def text(raw: object) -> str | None:
    """A config value as DescribeConfigs shows it (Java's spelling of booleans)."""
    if raw is None:
        return None
    return str(raw).lower() if isinstance(raw, bool) else str(raw)


def broker_entries(
    config: BrokerConfig, dynamic: Sequence[tuple[int, Mapping[str, str]]] = ()
) -> list[Entry]:
    """Every broker key Kafka lists; ``dynamic`` holds (source, values) layers, most specific
    first (per-broker, then cluster-wide)."""
    return [_entry(key, config, dynamic) for key in recorded().broker.values()]


def _entry(
    key: KafkaKey, config: BrokerConfig, dynamic: Sequence[tuple[int, Mapping[str, str]]]
) -> Entry:
    synonyms: list[Synonym] = [
        (key.name, values[key.name], source) for source, values in dynamic if key.name in values
    ]
    field = _FIELDS.get(key.name)
    default = key.default
    if field is not None:
        if field in config.model_fields_set:
            synonyms.append((key.name, text(getattr(config, field)), STATIC_BROKER_CONFIG))
        elif key.name not in DERIVED:
            default = text(getattr(config, field))
    if default is not None:  # Kafka lists a key's own default only (none for null)
        synonyms.append((key.name, default, DEFAULT_CONFIG))
    value, source = (synonyms[0][1], synonyms[0][2]) if synonyms else (None, DEFAULT_CONFIG)
    if key.sensitive:
        value = None
        synonyms = [(n, None, s) for n, _, s in synonyms]
    return Entry(key.name, value, source, key.config_type, tuple(synonyms))
