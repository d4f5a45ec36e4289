"""Broker configuration: .properties syntax, Kafka's keys, defaults, derived keys and errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from refka.config import (
    BrokerConfig,
    ConfigError,
    advertised_address,
    advertised_listeners,
    broker_listeners,
    inter_broker_listener,
    listener_address,
    load_config,
    parse_properties,
)

REPO = Path(__file__).resolve().parents[2]


def test_properties_syntax() -> None:
    text = (
        "# a comment\n"
        "  ! another comment\n"
        "\n"
        "plain=value\n"
        "  spaced  =  value with spaces\n"
        "colon:x\n"
        "blank-separated value\n"
        "continued = one,\\\n"
        "            two,\\\n"
        "    three\n"
        "escaped\\ key\\=x = tab\\there \\u00e9\\\\\n"
        "empty\n"
        "crlf=1\r\n"
        "plain=last wins\n"
    )
    assert parse_properties(text) == {
        "plain": "last wins",
        "spaced": "value with spaces",
        "colon": "x",
        "blank-separated": "value",
        "continued": "one,two,three",
        "escaped key=x": "tab\there \u00e9\\",
        "empty": "",
        "crlf": "1",
    }


def test_a_comment_line_does_not_continue() -> None:
    assert parse_properties("# comment \\\nkey=v\n") == {"key": "v"}


def test_defaults_are_kafkas_except_the_embedded_ones() -> None:
    config = BrokerConfig()
    assert config.listeners == "PLAINTEXT://127.0.0.1:9092"
    assert config.log_dirs == "./data"
    assert config.node_id == 1
    assert config.num_partitions == 1
    assert config.auto_create_topics_enable is True
    assert config.log_segment_bytes == 1073741824
    assert config.log_roll_ms == 168 * 3_600_000
    assert config.log_retention_ms == 168 * 3_600_000
    assert config.log_retention_bytes == -1
    assert config.message_max_bytes == 1048588
    assert config.socket_request_max_bytes == 104857600
    assert config.offsets_topic_num_partitions == 50
    assert config.offsets_retention_minutes == 10080
    assert config.group_initial_rebalance_delay_ms == 3000
    assert config.group_min_session_timeout_ms == 6000
    assert config.group_max_session_timeout_ms == 1800000
    assert config.log_message_timestamp_type == "CreateTime"
    assert listener_address(config) == ("127.0.0.1", 9092)


def test_every_field_has_kafkas_key_as_alias_and_a_description() -> None:
    for name, field in BrokerConfig.model_fields.items():
        assert field.alias == name.replace("_", "."), name
        assert field.description, name


def test_kafka_keys_validate_and_the_model_is_frozen() -> None:
    config = BrokerConfig.model_validate({"log.dirs": "x", "num.partitions": "3"})
    assert (config.log_dirs, config.num_partitions) == ("x", 3)
    with pytest.raises(ValueError):
        config.num_partitions = 4  # type: ignore[misc]


def test_hours_and_minutes_derive_milliseconds() -> None:
    config, _ = load_config(None, ["log.roll.hours=2", "log.retention.hours=5"])
    assert config.log_roll_ms == 2 * 3_600_000
    assert config.log_retention_ms == 5 * 3_600_000
    config, _ = load_config(None, ["log.retention.hours=5", "log.retention.minutes=7"])
    assert config.log_retention_ms == 7 * 60_000  # minutes win over hours
    config, _ = load_config(None, ["log.retention.minutes=7", "log.retention.ms=1234"])
    assert config.log_retention_ms == 1234  # ms wins over both
    config, _ = load_config(None, ["log.roll.hours=2", "log.roll.ms=99"])
    assert config.log_roll_ms == 99
    config, _ = load_config(None, ["log.retention.hours=-1"])
    assert config.log_retention_ms == -1
    config, _ = load_config(None, ["log.roll.jitter.hours=3"])
    assert config.log_roll_jitter_ms == 3 * 3_600_000
    config, _ = load_config(None, ["log.roll.jitter.hours=3", "log.roll.jitter.ms=5"])
    assert config.log_roll_jitter_ms == 5
    assert load_config(None, [])[0].log_roll_jitter_ms is None  # unset: segment.jitter.ms 0


def test_log_dirs_falls_back_to_log_dir_and_keeps_several() -> None:
    config, _ = load_config(None, ["log.dir=/tmp/one"])
    assert config.log_dirs == "/tmp/one"
    assert config.log_dir_paths == ["/tmp/one"]
    config, warnings = load_config(None, ["log.dirs=/tmp/a, /tmp/b"])
    assert config.log_dir_paths == ["/tmp/a", "/tmp/b"]
    assert config.first_log_dir == "/tmp/a"
    assert warnings == []


def test_file_then_overrides(tmp_path: Path) -> None:
    path = tmp_path / "server.properties"
    path.write_text("num.partitions=3\nlog.dirs=/from/file\nlisteners=PLAINTEXT://:9093\n")
    config, warnings = load_config(str(path), ["num.partitions=5"])
    assert config.num_partitions == 5
    assert config.log_dirs == "/from/file"
    assert listener_address(config) == ("0.0.0.0", 9093)
    assert warnings == []


def test_unknown_key_is_a_warning_with_a_suggestion() -> None:
    config, warnings = load_config(None, ["log.segmnt.bytes=1024", "num.partitions=2"])
    assert config.num_partitions == 2
    assert config.log_segment_bytes == 1073741824
    assert len(warnings) == 1
    assert "log.segmnt.bytes" in warnings[0] and "log.segment.bytes" in warnings[0]


@pytest.mark.parametrize(
    ("setting", "key"),
    [
        ("log.segment.bytes=big", "log.segment.bytes"),
        ("num.partitions=0", "num.partitions"),
        ("auto.create.topics.enable=perhaps", "auto.create.topics.enable"),
        ("log.message.timestamp.type=WallTime", "log.message.timestamp.type"),
        ("listeners=localhost:9092", "listeners"),
        ("log.roll.hours=x", "log.roll.hours"),
        ("message.max.bytes=-1", "message.max.bytes"),
    ],
)
def test_a_bad_value_is_an_error_naming_the_key(setting: str, key: str) -> None:
    with pytest.raises(ConfigError, match=rf"\b{key}\b"):
        load_config(None, [setting])


def test_a_malformed_override_or_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="key=value"):
        load_config(None, ["num.partitions"])
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(str(tmp_path / "missing.properties"), [])


def test_controller_listener_is_skipped_and_advertised_wins() -> None:
    config, _ = load_config(
        None,
        [
            "listeners=CONTROLLER://:9093,PLAINTEXT://127.0.0.1:9094",
            "controller.listener.names=CONTROLLER",
            "advertised.listeners=PLAINTEXT://broker.example:19094",
        ],
    )
    assert listener_address(config) == ("127.0.0.1", 9094)
    assert advertised_address(config, "this-host") == ("broker.example", 19094)


def test_a_wildcard_advertised_host_becomes_the_host_name_the_driver_gives() -> None:
    config, _ = load_config(None, ["listeners=PLAINTEXT://0.0.0.0:9092"])
    assert advertised_address(config, "this-host") == ("this-host", 9092)


def test_the_example_server_properties_loads_without_warnings() -> None:
    config, warnings = load_config(str(REPO / "config" / "server.properties"), [])
    assert warnings == []
    assert config == BrokerConfig()  # the example spells out refka's defaults


def test_several_listeners_are_bound_and_advertised_and_one_is_inter_broker() -> None:
    config, _ = load_config(
        None,
        [
            "listeners=PLAINTEXT://127.0.0.1:9092,CONTROLLER://:9093,REPLICATION://:9094",
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,REPLICATION:PLAINTEXT",
            "advertised.listeners=PLAINTEXT://broker.example:9092,REPLICATION://10.0.0.1:9094",
            "inter.broker.listener.name=replication",
        ],
    )
    assert broker_listeners(config) == [
        ("PLAINTEXT", "127.0.0.1", 9092),
        ("REPLICATION", "0.0.0.0", 9094),
    ]
    assert advertised_listeners(config, "this-host") == [
        ("PLAINTEXT", "broker.example", 9092),
        ("REPLICATION", "10.0.0.1", 9094),
    ]
    assert inter_broker_listener(config) == "REPLICATION"
    unset, _ = load_config(None, ["listeners=CONTROLLER://:9093,PLAINTEXT://:9092"])
    assert inter_broker_listener(unset) == "PLAINTEXT"  # the first broker listener


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            ["listeners=PLAINTEXT://:9092,PLAINTEXT://:9093"],
            "Each listener must have a different name",
        ),
        (["listeners=PLAINTEXT://:9092,INTERNAL://:9093"], "No security protocol defined"),
        (
            ["listeners=PLAINTEXT://:9092", "advertised.listeners=OTHER://h:9092"],
            "must be equal to or a subset of the ones defined in listeners",
        ),
        (
            ["listeners=PLAINTEXT://:9092", "inter.broker.listener.name=SSL"],
            "inter.broker.listener.name must be a listener name defined in advertised.listeners",
        ),
    ],
)
def test_kafkas_listener_errors(settings: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(None, settings)
