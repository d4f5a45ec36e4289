"""Every topic-level config Apache Kafka 4.4 defines (``TopicConfig``/``LogConfig.configDef``):
name, type, default, validator and the broker keys DescribeConfigs reports as its synonyms.

``parse(name, text)`` validates a value as Kafka's ``ConfigDef`` does and raises ValueError with
Kafka's message; ``format_value`` turns a parsed value back into the string DescribeConfigs
shows (lists joined by ``,``, numbers trimmed, doubles as Java prints them). The table was read
off a Kafka 4.4 broker (DescribeConfigs with synonyms, CreateTopics with bad values).

Configs for features refka does not have are accepted, validated and described, and have no
effect: tiered storage (``remote.*``, ``local.retention.*``), ``preallocate`` and
``errors.deadletterqueue.group.enable`` (share groups). ``unclean.leader.election.enable`` is
honoured by the controller's elections (``refka.controller.partition_change``). The
replication throttles (``*.replication.throttled.replicas``) have no effect either: in Kafka
they throttle only once ``leader/follower.replication.throttled.rate`` is set, a dynamic broker
config refka stores but does not act on. The broker keys that give these configs their
defaults can change without a restart (``refka.core.dynamic_config``).
``segment.jitter.ms`` (``refka.log.segment``) and ``file.delete.delay.ms``
(``refka.log.partition_log``, ``refka.log.log_manager``) act as in Kafka.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

LONG_MAX = (1 << 63) - 1
INT_MAX = (1 << 31) - 1

# DescribeConfigs config_type (KIP-569)
BOOLEAN, STRING, INT, SHORT, LONG, DOUBLE, LIST = 1, 2, 3, 4, 5, 6, 7

COMPRESSION_TYPES = ("uncompressed", "zstd", "lz4", "snappy", "gzip", "producer")
CLEANUP_POLICIES = ("compact", "delete")
TIMESTAMP_TYPES = ("CreateTime", "LogAppendTime")
TIERED_STORAGE_DISABLED = (
    "Tiered Storage functionality is disabled in the broker. "
    "Topic cannot be configured with remote log storage."
)

Value = bool | int | float | str | tuple[str, ...]
Check = Callable[[Value], str | None]  # returns Kafka's complaint, or None


@dataclass(frozen=True, slots=True)
class TopicConfigDef:
    """One topic config: its ``ConfigDef`` entry and its broker synonyms (most specific first)."""

    name: str
    type: int
    default: str
    check: Check | None = None
    synonyms: tuple[str, ...] = ()
    internal: bool = False  # accepted, never described (``internal.segment.bytes``)


def at_least(low: float) -> Check:
    return lambda v: None if v >= low else f"Value must be at least {_num(low)}"  # type: ignore[operator]


def between(low: float, high: float) -> Check:
    def check(v: Value) -> str | None:
        if v < low:  # type: ignore[operator]
            return f"Value must be at least {_num(low)}"
        if v > high:  # type: ignore[operator]
            return f"Value must be no more than {_num(high)}"
        return None

    return check


def one_of(*choices: str) -> Check:
    text = ", ".join(choices)
    return lambda v: None if v in choices else f"String must be one of: {text}"


def _list_of(*choices: str) -> Check:
    text = ", ".join(choices)
    return lambda v: next(
        (f"String must be one of: {text}" for item in v if item not in choices),  # type: ignore[union-attr]
        None,
    )


def _gzip_level(v: Value) -> str | None:
    return None if v == -1 or 1 <= v <= 9 else "Value must be between 1 and 9 or equal to -1"  # type: ignore[operator]


_THROTTLED = re.compile(r"^(\*|\d+:\d+)$")


def _throttled_replicas(name: str) -> Check:
    def check(v: Value) -> str | None:
        items = list(v)  # type: ignore[arg-type]
        if items == ["*"] or all(_THROTTLED.match(i) and i != "*" for i in items):
            return None
        return (
            f"{name} must be the literal '*' or a list of replicas in the following format: "
            "[partitionId]:[brokerId],[partitionId]:[brokerId],..."
        )

    return check


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


_LEADER_THROTTLED = "leader.replication.throttled.replicas"
_FOLLOWER_THROTTLED = "follower.replication.throttled.replicas"

DEFS: tuple[TopicConfigDef, ...] = (
    TopicConfigDef(
        "cleanup.policy", LIST, "delete", _list_of(*CLEANUP_POLICIES), ("log.cleanup.policy",)
    ),
    TopicConfigDef("compression.gzip.level", INT, "-1", _gzip_level, ("compression.gzip.level",)),
    TopicConfigDef("compression.lz4.level", INT, "9", between(1, 17), ("compression.lz4.level",)),
    TopicConfigDef(
        "compression.type", STRING, "producer", one_of(*COMPRESSION_TYPES), ("compression.type",)
    ),
    TopicConfigDef(
        "compression.zstd.level", INT, "3", between(-131072, 22), ("compression.zstd.level",)
    ),
    TopicConfigDef(
        "delete.retention.ms", LONG, "86400000", at_least(0), ("log.cleaner.delete.retention.ms",)
    ),
    TopicConfigDef("errors.deadletterqueue.group.enable", BOOLEAN, "false"),
    TopicConfigDef(
        "file.delete.delay.ms", LONG, "60000", at_least(0), ("log.segment.delete.delay.ms",)
    ),
    TopicConfigDef(
        "flush.messages", LONG, str(LONG_MAX), at_least(1), ("log.flush.interval.messages",)
    ),
    TopicConfigDef("flush.ms", LONG, str(LONG_MAX), at_least(0)),
    TopicConfigDef(_FOLLOWER_THROTTLED, LIST, "", _throttled_replicas(_FOLLOWER_THROTTLED)),
    TopicConfigDef("index.interval.bytes", INT, "4096", at_least(0), ("log.index.interval.bytes",)),
    TopicConfigDef(_LEADER_THROTTLED, LIST, "", _throttled_replicas(_LEADER_THROTTLED)),
    TopicConfigDef(
        "local.retention.bytes", LONG, "-2", at_least(-2), ("log.local.retention.bytes",)
    ),
    TopicConfigDef("local.retention.ms", LONG, "-2", at_least(-2), ("log.local.retention.ms",)),
    TopicConfigDef(
        "max.compaction.lag.ms",
        LONG,
        str(LONG_MAX),
        at_least(1),
        ("log.cleaner.max.compaction.lag.ms",),
    ),
    TopicConfigDef(
        "max.decompressed.message.bytes",
        INT,
        "2147483639",
        at_least(1),
        ("max.decompressed.message.bytes",),
    ),
    TopicConfigDef("max.message.bytes", INT, "1048588", at_least(0), ("message.max.bytes",)),
    TopicConfigDef(
        "message.timestamp.after.max.ms",
        LONG,
        "3600000",
        at_least(0),
        ("log.message.timestamp.after.max.ms",),
    ),
    TopicConfigDef(
        "message.timestamp.before.max.ms",
        LONG,
        str(LONG_MAX),
        at_least(0),
        ("log.message.timestamp.before.max.ms",),
    ),
    TopicConfigDef(
        "message.timestamp.type",
        STRING,
        "CreateTime",
        one_of(*TIMESTAMP_TYPES),
        ("log.message.timestamp.type",),
    ),
    TopicConfigDef(
        "min.cleanable.dirty.ratio",
        DOUBLE,
        "0.5",
        between(0, 1),
        ("log.cleaner.min.cleanable.ratio",),
    ),
    TopicConfigDef(
        "min.compaction.lag.ms", LONG, "0", at_least(0), ("log.cleaner.min.compaction.lag.ms",)
    ),
    TopicConfigDef("min.insync.replicas", INT, "1", at_least(1), ("min.insync.replicas",)),
    TopicConfigDef("preallocate", BOOLEAN, "false", None, ("log.preallocate",)),
    TopicConfigDef(
        "remote.copy.lag.bytes", LONG, "-1", at_least(-1), ("log.remote.copy.lag.bytes",)
    ),
    TopicConfigDef("remote.copy.lag.ms", LONG, "0", at_least(-1), ("log.remote.copy.lag.ms",)),
    TopicConfigDef("remote.log.copy.disable", BOOLEAN, "false"),
    TopicConfigDef("remote.log.delete.on.disable", BOOLEAN, "false"),
    TopicConfigDef("remote.storage.enable", BOOLEAN, "false"),
    TopicConfigDef("retention.bytes", LONG, "-1", None, ("log.retention.bytes",)),
    TopicConfigDef("retention.ms", LONG, "604800000", at_least(-1)),
    TopicConfigDef("segment.bytes", INT, "1073741824", at_least(1048576), ("log.segment.bytes",)),
    TopicConfigDef(
        "segment.index.bytes", INT, "10485760", at_least(4), ("log.index.size.max.bytes",)
    ),
    TopicConfigDef("segment.jitter.ms", LONG, "0", at_least(0)),
    TopicConfigDef("segment.ms", LONG, "604800000", at_least(1)),
    TopicConfigDef(
        "unclean.leader.election.enable",
        BOOLEAN,
        "false",
        None,
        ("unclean.leader.election.enable",),
    ),
    # Kafka's test hook for segments below segment.bytes' 1 MiB floor; never described.
    TopicConfigDef("internal.segment.bytes", INT, "", None, internal=True),
)

BY_NAME: dict[str, TopicConfigDef] = {d.name: d for d in DEFS}
DESCRIBED: tuple[TopicConfigDef, ...] = tuple(d for d in DEFS if not d.internal)


def unknown(name: str) -> str:
    return f"Unknown topic config name: {name}"


def parse(name: str, text: str, validate: bool = True) -> Value:
    """Kafka's ``ConfigDef.parseType`` then the validator; ValueError carries Kafka's message.
    ``validate=False`` parses only (a broker default, which the broker's own config checked)."""
    definition = BY_NAME.get(name)
    if definition is None:
        raise ValueError(unknown(name))
    value = _parse_type(definition, text)
    if not validate:
        return value
    complaint = definition.check(value) if definition.check is not None else None
    if complaint is not None:
        shown = f"[{', '.join(value)}]" if name.endswith("throttled.replicas") else text  # type: ignore[arg-type]
        raise ValueError(f"Invalid value {shown} for configuration {name}: {complaint}")
    if name == "remote.storage.enable" and value is True:
        raise ValueError(TIERED_STORAGE_DISABLED)
    return value


def parse_as(d: TopicConfigDef, text: str) -> Value:
    """``parse`` by a definition outside the table (a broker key checked as its topic config
    is, under its own name); ValueError carries Kafka's message."""
    value = _parse_type(d, text)
    complaint = d.check(value) if d.check is not None else None
    if complaint is not None:
        raise ValueError(f"Invalid value {text} for configuration {d.name}: {complaint}")
    return value


def _parse_type(d: TopicConfigDef, text: str) -> Value:
    trimmed = text.strip()
    bad = f"Invalid value {text} for configuration {d.name}"
    if d.type == BOOLEAN:
        if trimmed.lower() not in ("true", "false"):
            raise ValueError(f"{bad}: Expected value to be either true or false")
        return trimmed.lower() == "true"
    if d.type in (INT, LONG):
        limit = INT_MAX if d.type == INT else LONG_MAX
        try:
            number = int(trimmed, 10)
        except ValueError:
            number = None
        if number is None or not -limit - 1 <= number <= limit or not _is_java_int(trimmed):
            raise ValueError(f"{bad}: Not a number of type {'INT' if d.type == INT else 'LONG'}")
        return number
    if d.type == DOUBLE:
        try:
            return float(trimmed)
        except ValueError:
            raise ValueError(f"{bad}: Not a number of type DOUBLE") from None
    if d.type == LIST:
        return tuple(item.strip() for item in trimmed.split(",")) if trimmed else ()
    return trimmed


def _is_java_int(text: str) -> bool:
    return re.fullmatch(r"[+-]?\d+", text) is not None


def format_value(d: TopicConfigDef, value: Value) -> str:
    """The string DescribeConfigs shows for a parsed value (``ConfigDef.convertToString``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ",".join(value)
    if isinstance(value, float):
        return java_double(value)
    return str(value)


def java_double(x: float) -> str:
    """``Double.toString`` for the values a ratio takes (0.5, 1.0, 0.01, 1.0E-4)."""
    if x == 0 or 1e-3 <= abs(x) < 1e7:
        text = repr(x)
        return text if "." in text or "e" in text else text + ".0"
    mantissa, exponent = f"{x:.16e}".split("e")
    mantissa = mantissa.rstrip("0")
    mantissa = mantissa + "0" if mantissa.endswith(".") else mantissa
    return f"{mantissa}E{int(exponent)}"
