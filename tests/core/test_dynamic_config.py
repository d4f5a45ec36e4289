"""The broker's effective configuration under dynamic broker configs (refka.core.dynamic_config)."""

from __future__ import annotations

from refka.config import BrokerConfig
from refka.core.dynamic_config import ACTED_ON, effective_config
from refka.core.kafka_configs import recorded
from refka.core.topic_defaults import topic_defaults


def test_per_broker_beats_cluster_beats_static() -> None:
    static = BrokerConfig.model_validate({"log.segment.bytes": "2000000", "log.retention.hours": 2})
    cluster = {"log.segment.bytes": "3000000", "message.max.bytes": "5000"}
    node = {"log.segment.bytes": "4000000"}
    config = effective_config(static, cluster, node)
    assert (config.log_segment_bytes, config.message_max_bytes) == (4000000, 5000)
    assert effective_config(static, cluster, {}).log_segment_bytes == 3000000
    assert effective_config(static, {}, {}) is static
    assert config.log_retention_ms == 7_200_000  # not set dynamically: still derived


def test_dynamic_ms_key_replaces_the_derived_one() -> None:
    static = BrokerConfig.model_validate({"log.retention.hours": 2})
    config = effective_config(static, {}, {"log.retention.ms": "500"})
    assert topic_defaults(config)["retention.ms"].value == "500"


def test_keys_not_acted_on_are_ignored() -> None:
    static = BrokerConfig()
    ignored = {"log.retention.hours": "1", "num.io.threads": "3", "no.such.key": "x"}
    assert effective_config(static, ignored, {"log.segment.bytes": "not a number"}) == static


def test_acted_on_keys_are_dynamic_in_kafka() -> None:
    """Kafka lets every key refka acts on change without a restart (read_only false)."""
    broker = recorded().broker
    assert {k for k in ACTED_ON if k not in broker or broker[k].read_only} == set()
    assert {"log.segment.bytes", "log.retention.ms", "message.max.bytes"} <= ACTED_ON
