"""The outbound-request interface the replication components code against: the part of
``refka.core.network_client.NetworkClient`` they use (Kafka's ``NetworkClient``). ``send``
hands over a kio request entity; ``on_complete`` gets a ``ClientResponse`` when the answer (or a
disconnect, or a timeout) arrives. Tests drive a fake with the same two methods.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from refka.core.network_client import ClientResponse, NodeAddress

__all__ = ["Client", "ClientResponse", "NodeAddress"]


class Client(Protocol):
    def ready(self, node_id: int, now_ms: int) -> bool:
        """False while the node is in reconnect backoff."""
        ...

    def send(
        self,
        node: NodeAddress,
        request: Any,
        now_ms: int,
        on_complete: Callable[[ClientResponse], None],
    ) -> bool:
        """Queue ``request`` (a kio entity at the version to use); False = not sent."""
        ...
