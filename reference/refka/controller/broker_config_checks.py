"""Kafka's checks of a dynamic broker config value (``DynamicBrokerConfig.validate``).

A broker key that gives a topic config its default is checked with the topic config's type and
validator, under the broker key's name ("Invalid value 10 for configuration log.segment.bytes:
Value must be at least 1048576"); the other keys refka acts on with their own ``ConfigDef``
type and validator, or ``KafkaConfig``'s requirements ("requirement failed: log.roll.ms must be
greater than or equal to 1"). Observed on Kafka 4.4 (INVALID_REQUEST with these messages).
"""

from __future__ import annotations

import dataclasses

from refka.log import topic_configs as defs

MIB = 1 << 20

CHECKED: dict[str, defs.TopicConfigDef] = {
    d.synonyms[0]: dataclasses.replace(d, name=d.synonyms[0]) for d in defs.DESCRIBED if d.synonyms
} | {
    key: defs.TopicConfigDef(key, kind, "", check)
    for key, kind, check in (
        ("log.retention.ms", defs.LONG, None),
        ("log.roll.ms", defs.LONG, None),
        ("log.roll.jitter.ms", defs.LONG, None),
        ("log.flush.interval.ms", defs.LONG, None),
        ("log.cleaner.backoff.ms", defs.LONG, defs.at_least(0)),
        ("log.cleaner.dedupe.buffer.size", defs.LONG, None),
        ("log.cleaner.io.buffer.load.factor", defs.DOUBLE, None),
    )
}

# KafkaConfig's requirements, checked after the type: (lowest value, Kafka's words)
REQUIRED: dict[str, tuple[int, str]] = {
    "log.roll.ms": (1, "must be greater than or equal to 1"),
    "log.roll.jitter.ms": (0, "must be greater than or equal to 0"),
    "log.cleaner.dedupe.buffer.size": (MIB, "must be at least 1MB per cleaner thread."),
}


def problem(key: str, text: str) -> str | None:
    """Kafka's complaint about a dynamic value of ``key``, or None (unchecked keys pass)."""
    definition = CHECKED.get(key)
    if definition is None:
        return None
    try:
        value = defs.parse_as(definition, text)
    except ValueError as error:
        return str(error)
    required = REQUIRED.get(key)
    if required is not None and value < required[0]:  # type: ignore[operator]
        return f"requirement failed: {key} {required[1]}"
    return None
