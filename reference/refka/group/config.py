"""The broker settings the group coordinator reads, under Kafka's names."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class GroupConfig:
    """The group coordinator's broker keys (``group.*``, ``offsets.*``, ``offset.*``)."""

    group_min_session_timeout_ms: int = 6_000
    group_max_session_timeout_ms: int = 1_800_000
    group_initial_rebalance_delay_ms: int = 3_000
    group_max_size: int = 2**31 - 1
    offsets_topic_num_partitions: int = 50
    offsets_retention_minutes: int = 7 * 24 * 60
    offsets_retention_check_interval_ms: int = 600_000
    offset_metadata_max_bytes: int = 4096
    # KIP-848 consumer groups (group.protocol=consumer)
    group_consumer_session_timeout_ms: int = 45_000
    group_consumer_heartbeat_interval_ms: int = 5_000
    group_consumer_max_size: int = 2**31 - 1
    group_consumer_assignors: str = "uniform,range"
    group_consumer_migration_policy: str = (
        "bidirectional"  # disabled|upgrade|downgrade|bidirectional
    )
    # OffsetCommit checks member id and generation (off only under Bug.ZOMBIE_COMMIT)
    fence_offset_commits: bool = True

    @property
    def consumer_assignors(self) -> tuple[str, ...]:
        """``group.consumer.assignors`` as assignor names (a class name counts by its last
        component: ``...UniformAssignor`` is ``uniform``)."""
        names = [n.strip().rsplit(".", 1)[-1] for n in self.group_consumer_assignors.split(",")]
        return tuple(n.lower().removesuffix("assignor") for n in names if n)

    @property
    def offsets_retention_ms(self) -> int:
        return self.offsets_retention_minutes * 60_000

    @classmethod
    def from_properties(cls, properties: Mapping[str, object]) -> GroupConfig:
        """Read ``group.*`` / ``offsets.*`` / ``offset.*`` keys (e.g. from server.properties)."""
        values: dict[str, object] = {}
        for name in cls.__dataclass_fields__:
            key = name.replace("_", ".")
            if key in properties and name != "fence_offset_commits":
                default = cls.__dataclass_fields__[name].default
                raw = str(properties[key])
                values[name] = raw if isinstance(default, str) else int(raw)
        return cls(**values)  # type: ignore[arg-type]


def retention_check(next_check_ms: int | None, now_ms: int, interval_ms: int) -> tuple[bool, int]:
    """The offsets retention timer (KIP-211) at ``now_ms``: whether a check is due, and when the
    next one is. The first tick only sets the timer."""
    if next_check_ms is None:
        return False, now_ms + interval_ms
    if now_ms >= next_check_ms:
        return True, now_ms + interval_ms
    return False, next_check_ms
