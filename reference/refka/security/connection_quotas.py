"""Connection limits: ``max.connections``, ``max.connections.per.ip`` and its overrides.

Kafka's ``ConnectionQuotas``, without I/O: the driver asks :meth:`ConnectionQuotas.admit`
for each accepted connection and, over a limit, closes it or lets it wait (``OverLimit``), and
calls :meth:`ConnectionQuotas.release` when an admitted one ends.

- ``max.connections.per.ip`` (``max.connections.per.ip.overrides`` per host) bounds the
  connections from one address, on every listener together;
- ``max.connections`` bounds the broker's connections; the inter-broker listener is exempt
  when there are others (Kafka lets a broker's peers in even at the limit);
- ``listener.name.<name>.max.connections`` bounds one listener's.

A node's controller listener is not counted (``exempt``): its connections come from the
brokers of the cluster (a combined node's own broker among them), not from clients.

Over the per-address limit a connection is closed at once (Kafka's
``TooManyConnectionsException``). At the broker-wide or a listener limit Kafka's acceptor stops
accepting until a slot frees, so the new connection waits, unanswered, in the kernel's backlog;
refka's waits likewise, accepted but unread, and is admitted when a connection ends.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

UNLIMITED = 2**31 - 1


@dataclass(frozen=True, slots=True)
class OverLimit:
    """Why a connection is not admitted, and whether it waits for a slot (``wait``: the
    broker-wide or a listener limit) or is closed (the per-address limit)."""

    reason: str
    wait: bool


@dataclass(slots=True)
class ConnectionQuotas:
    """The limits and the live counts: per address, per listener and in all."""

    max_connections: int = UNLIMITED
    max_per_ip: int = UNLIMITED
    per_ip_overrides: Mapping[str, int] = field(default_factory=dict)
    listener_max: Mapping[str, int] = field(default_factory=dict)  # by listener name
    protected_listener: str = ""  # the inter-broker listener
    exempt: frozenset[str] = frozenset()  # listeners not counted (the controller's)
    by_ip: Counter[str] = field(default_factory=Counter)
    by_listener: Counter[str] = field(default_factory=Counter)
    total: int = 0

    def limit_for(self, host: str) -> int:
        return self.per_ip_overrides.get(host, self.max_per_ip)

    def admit(self, listener: str, host: str) -> OverLimit | None:
        """Count a new connection from ``host`` on ``listener``; or, over a limit, count
        nothing and say which."""
        if listener in self.exempt:
            return None
        if self.by_ip[host] >= self.limit_for(host):
            reason = f"too many connections from {host} (max {self.limit_for(host)})"
            return OverLimit(reason, False)
        limit = self.listener_max.get(listener, UNLIMITED)
        if self.by_listener[listener] >= limit:
            reason = f"too many connections on listener {listener} (max.connections {limit})"
            return OverLimit(reason, True)
        if self.total >= self.max_connections and listener != self.protected_listener:
            return OverLimit(f"too many connections (max.connections {self.max_connections})", True)
        self.by_ip[host] += 1
        self.by_listener[listener] += 1
        self.total += 1
        return None

    def release(self, listener: str, host: str) -> None:
        """An admitted connection ended."""
        if listener in self.exempt:
            return
        self.total -= 1
        for counts, key in ((self.by_ip, host), (self.by_listener, listener)):
            counts[key] -= 1
            if counts[key] <= 0:
                del counts[key]
