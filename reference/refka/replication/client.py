"""The outbound-request interface the replication components code against.

It is the shape of Kafka's ``NetworkClient`` as ``refka/core/network_client.py`` provides it
(the seams design): ``send`` hands a kio request entity to the client, which calls
``on_complete`` with a ``ClientResponse`` when the answer (or a disconnect, or a timeout)
arrives. Nothing here does I/O; tests drive a fake.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class NodeAddress:
    node_id: int
    host: str
    port: int


@dataclass(frozen=True, slots=True)
class ClientResponse:
    node_id: int
    api_key: int
    response: Any | None  # the decoded kio response, None on failure
    disconnected: bool = False
    timed_out: bool = False


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
