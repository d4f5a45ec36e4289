"""Where a broker config key's value comes from: the layers DescribeConfigs lists as synonyms.

Most specific first, as Kafka's ``ConfigHelper`` lists them: the per-broker dynamic config
(DYNAMIC_BROKER_CONFIG, AlterConfigs on this broker), the cluster-wide dynamic default
(DYNAMIC_DEFAULT_BROKER_CONFIG, AlterConfigs on ``""``), ``server.properties``
(STATIC_BROKER_CONFIG) and the default (DEFAULT_CONFIG; none when the default is null).

The time keys derived from coarser ones (``log.retention.ms`` from ``log.retention.minutes`` or
``log.retention.hours``, ``log.roll.ms`` from ``log.roll.hours``, ...) form a family: Kafka 4.4
lists the family's layers, key by key, only once the ``.ms`` key itself is set somewhere;
until then the key is null with no synonyms (observed with DescribeConfigs on Kafka 4.4).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from refka.config import BrokerConfig, _derive
from refka.core.kafka_configs import DEFAULT_CONFIG, STATIC_BROKER_CONFIG, recorded

Synonym = tuple[str, str | None, int]

FAMILY: dict[str, tuple[str, ...]] = {
    "log.retention.ms": ("log.retention.ms", "log.retention.minutes", "log.retention.hours"),
    "log.roll.ms": ("log.roll.ms", "log.roll.hours"),
    "log.roll.jitter.ms": ("log.roll.jitter.ms", "log.roll.jitter.hours"),
    "log.flush.interval.ms": ("log.flush.interval.ms", "log.flush.scheduler.interval.ms"),
}

FIELDS: dict[str, str] = {
    (f.alias or name.replace("_", ".")): name for name, f in BrokerConfig.model_fields.items()
}


def text(raw: object) -> str | None:
    """A config value as DescribeConfigs shows it (Java's spelling of booleans)."""
    if raw is None:
        return None
    return str(raw).lower() if isinstance(raw, bool) else str(raw)


@dataclass(frozen=True, slots=True)
class Layers:
    """The broker's configuration: static (``config``) and dynamic (source, values) layers."""

    config: BrokerConfig
    dynamic: Sequence[tuple[int, Mapping[str, str]]] = ()

    def static(self, key: str) -> str | None:
        """The value ``server.properties`` gave ``key`` (None: not given there)."""
        field = FIELDS.get(key)
        if field is None or field not in self.config.model_fields_set:
            return None
        if key in FAMILY and not self._explicit(key, field):
            return None
        return text(getattr(self.config, field))

    def default(self, key: str) -> str | None:
        """refka's default for a key it implements, else Kafka's (None for a derived key)."""
        field = FIELDS.get(key)
        if key in FAMILY or field is None:
            return recorded().broker[key].default if key in recorded().broker else None
        return text(BrokerConfig.model_fields[field].default)

    def chain(self, key: str) -> list[Synonym]:
        """The synonyms of broker ``key``, most specific first."""
        if key in FAMILY and not self._own(key):
            return []
        out: list[Synonym] = []
        for name in FAMILY.get(key, (key,)):
            out += [(name, values[name], s) for s, values in self.dynamic if name in values]
            static = self.static(name)
            if static is not None:
                out.append((name, static, STATIC_BROKER_CONFIG))
            default = self.default(name)
            if default is not None:
                out.append((name, default, DEFAULT_CONFIG))
        return out

    def _own(self, key: str) -> bool:
        return self.static(key) is not None or any(key in v for _, v in self.dynamic)

    def _explicit(self, key: str, field: str) -> bool:
        """Whether a derived ``.ms`` key was given itself rather than derived (refka's model
        fills it in from the coarser key)."""
        given = {
            name: getattr(self.config, FIELDS[name])
            for name in FAMILY[key][1:]
            if FIELDS.get(name) in self.config.model_fields_set
        }
        derived = _derive(given).get(key)
        return derived is None or derived != getattr(self.config, field)
