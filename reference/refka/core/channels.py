"""A broker's outbound channels: one ``NetworkClient`` (own connections) per purpose.

Kafka's ``BrokerServer`` gives each of its conversations with the controller its own
``NodeToControllerChannelManager``, hence its own ``NetworkClient`` and TCP connection:

- ``heartbeat``: the ``BrokerLifecycleManager`` (BrokerRegistration, BrokerHeartbeat; KIP-631);
- ``alter-partition``: the ``AlterPartitionManager`` (AlterPartition; KIP-497, KIP-903);
- ``forwarding``: requests forwarded to the controller (KIP-590) and the producer id blocks
  (``RPCProducerIdManager``, KIP-730), which share Kafka's ``clientToControllerChannelManager``;
- ``raft``: the metadata log fetch (KRaft's ``KafkaRaftClient`` has a network client of its own).

Everything else (the replica fetchers) uses the default channel ``""``. A stalled connection
thus holds up one conversation only: an AlterPartition stuck on its connection until
``request.timeout.ms`` does not hold the heartbeats that keep the broker's session alive.
The driver keys connections by ``(node_id, channel)`` and routes each answer back with its
channel (``SendRequest.channel``, ``on_response(..., channel)``).
"""

from __future__ import annotations

from collections.abc import Callable

from refka.core.effects import Disconnect, SendRequest
from refka.core.network_client import NetworkClient

DEFAULT = ""
HEARTBEAT = "heartbeat"
ALTER_PARTITION = "alter-partition"
FORWARDING = "forwarding"
RAFT = "raft"
CHANNELS = (DEFAULT, HEARTBEAT, ALTER_PARTITION, FORWARDING, RAFT)


class Channels:
    """The broker's network clients by channel name, driven as one."""

    def __init__(self, make_client: Callable[[str], NetworkClient]) -> None:
        self.clients = {name: make_client(name) for name in CHANNELS}

    def __getitem__(self, name: str) -> NetworkClient:
        return self.clients[name]

    def on_response(
        self, node_id: int, frame: bytes | memoryview, now_ms: int, channel: str
    ) -> None:
        self.clients[channel].on_response(node_id, frame, now_ms)

    def on_unreachable(self, node_id: int, now_ms: int, channel: str) -> None:
        self.clients[channel].on_unreachable(node_id, now_ms)

    def on_tick(self, now_ms: int) -> None:
        for client in self.clients.values():
            client.on_tick(now_ms)

    def drain(self) -> list[SendRequest | Disconnect]:
        return [effect for client in self.clients.values() for effect in client.drain()]

    def next_deadline_ms(self) -> int | None:
        deadlines = [c.next_deadline_ms() for c in self.clients.values()]
        return min((d for d in deadlines if d is not None), default=None)
