"""The list of known differences between refka and Apache Kafka (known_differences.toml)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PATH = Path(__file__).with_name("known_differences.toml")

# Both peers run with the same test-friendly settings (the Apache Kafka peer sets these in its
# server.properties): a group's first rebalance does not wait 3 s for more members.
REFKA_PEER_CONFIG: dict[str, Any] = {"group.initial.rebalance.delay.ms": "0"}


@dataclass(frozen=True)
class Difference:
    test: str
    kafka: str
    refka: str
    status: str
    reason: str


def load(path: Path = PATH) -> dict[str, Difference]:
    """Known differences by test id (none if the file was not installed)."""
    if not path.is_file():
        return {}
    entries = tomllib.loads(path.read_text()).get("difference", [])
    return {entry["test"]: Difference(**entry) for entry in entries}
