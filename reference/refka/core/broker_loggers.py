"""The BROKER_LOGGER resource of DescribeConfigs (KIP-412): each logger and its level.

Kafka lists its log4j loggers (Java class names) with their effective levels, source
DYNAMIC_BROKER_LOGGER_CONFIG, type UNKNOWN and no synonyms. refka lists its own Python
loggers (``refka`` and below, and ``root``) the same way, with Python's levels in log4j's
names. Reading the logging registry is the one thing here outside the request: the levels
are the process's, as Kafka's are the JVM's. Changing a level (IncrementalAlterConfigs on
BROKER_LOGGER) is not supported.
"""

from __future__ import annotations

import logging

from refka.core.kafka_configs import DYNAMIC_BROKER_LOGGER_CONFIG
from refka.core.topic_defaults import Entry

UNKNOWN_TYPE = 0
ROOT = "root"  # log4j's name of the root logger, as Kafka lists it


def log4j_level(level: int) -> str:
    """A Python level in log4j's words (WARNING is WARN, CRITICAL is FATAL)."""
    if level >= logging.CRITICAL:
        return "FATAL"
    if level >= logging.ERROR:
        return "ERROR"
    if level >= logging.WARNING:
        return "WARN"
    if level >= logging.INFO:
        return "INFO"
    return "DEBUG" if level >= logging.DEBUG else "TRACE"


def logger_entries() -> list[Entry]:
    """``root`` and every ``refka`` logger, by name, at its effective level."""
    names = sorted(
        name
        for name, logger in logging.Logger.manager.loggerDict.items()
        if isinstance(logger, logging.Logger) and (name == "refka" or name.startswith("refka."))
    )
    loggers = [(ROOT, logging.getLogger())] + [(n, logging.getLogger(n)) for n in names]
    return [
        Entry(name, log4j_level(logger.getEffectiveLevel()), DYNAMIC_BROKER_LOGGER_CONFIG,
              UNKNOWN_TYPE)
        for name, logger in loggers
    ]  # fmt: skip
