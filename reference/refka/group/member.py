"""One member of a classic group, as Kafka's ``ClassicGroupMember``.

A member is what a JoinGroup created: its id, its optional static id (``group.instance.id``,
KIP-345), its timeouts, the protocols it supports with their metadata (the subscription), the
assignment the leader gave it, and the join or sync request it is waiting on, if any.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class ClassicMember:
    member_id: str
    group_instance_id: str | None
    client_id: str
    client_host: str
    session_timeout_ms: int
    rebalance_timeout_ms: int
    protocol_type: str
    protocols: tuple[tuple[str, bytes], ...]
    assignment: bytes = b""
    awaiting_join: object | None = None  # the JoinGroup request token waiting on the rebalance
    awaiting_sync: object | None = None  # the SyncGroup request token waiting on the leader
    heartbeat_deadline_ms: int | None = None  # None: not yet scheduled (just loaded)
    is_new: bool = False  # joined in this rebalance and not yet through one (KIP-394)

    @property
    def is_static(self) -> bool:
        return self.group_instance_id is not None

    @property
    def protocol_names(self) -> frozenset[str]:
        return frozenset(name for name, _ in self.protocols)

    def metadata(self, protocol_name: str) -> bytes:
        """This member's metadata (its subscription) for ``protocol_name``."""
        for name, metadata in self.protocols:
            if name == protocol_name:
                return metadata
        raise KeyError(protocol_name)

    def matches(self, protocols: tuple[tuple[str, bytes], ...]) -> bool:
        """Whether a rejoin brings exactly the protocols (names, order, metadata) it had."""
        return self.protocols == protocols
