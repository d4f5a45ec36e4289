"""Kafka's ``DynamicBrokerConfig``: the broker's effective configuration once the dynamic broker
configs (KIP-226, ``ConfigRecord`` for the BROKER resource) are laid over ``server.properties``.

Per-broker (AlterConfigs on this broker's id) beats cluster-wide (on ``""``) beats static beats
the default. refka acts on the keys of ``ACTED_ON``: every broker key that is a topic config's
default (``log.segment.bytes``, ``log.retention.ms``, ``message.max.bytes``, ...; a topic's own
override still wins), the log cleaner's ``log.cleaner.backoff.ms``/``dedupe.buffer.size``/
``io.buffer.load.factor`` and ``log.segment.delete.delay.ms``. The time keys Kafka derives
(``log.retention.hours``, ``log.roll.hours``) are read-only in Kafka; the dynamic ``.ms`` key
replaces whatever ``server.properties`` derived.
"""

from __future__ import annotations

from collections.abc import Mapping

from refka.config import BrokerConfig
from refka.core.topic_defaults import broker_key_for
from refka.log import topic_configs as defs

CLUSTER = ""  # the cluster-wide default's resource name

ACTED_ON: frozenset[str] = frozenset(
    {k for d in defs.DESCRIBED if (k := broker_key_for(d.name)) is not None}
    | {
        "log.cleaner.backoff.ms",
        "log.cleaner.dedupe.buffer.size",
        "log.cleaner.io.buffer.load.factor",
        "log.segment.delete.delay.ms",
    }
)


def effective_config(
    config: BrokerConfig, cluster: Mapping[str, str], node: Mapping[str, str]
) -> BrokerConfig:
    """``config`` with the dynamic values of ``ACTED_ON`` keys, cluster-wide then per-broker.
    A value the broker's own type check refuses (the controller validated it) is skipped."""
    update: dict[str, object] = {}
    for layer in (cluster, node):
        for key, text in layer.items():
            field = key.replace(".", "_")
            if key not in ACTED_ON or field not in BrokerConfig.model_fields:
                continue
            try:
                update[field] = BrokerConfig.model_fields[field].validate(text)
            except ValueError:
                continue
    return config.model_copy(update) if update else config
