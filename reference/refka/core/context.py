"""What a request handler sees, and what it may answer instead of a response.

A handler is ``handle(broker, ctx, request) -> Entity | Encoded | Pending | NoResponse``:
a kio response entity to encode, response chunks it encoded itself (Fetch, for zero-copy),
``PENDING`` when a component will answer later through ``Broker.reply`` (long-poll Fetch,
JoinGroup, SyncGroup), ``NO_RESPONSE`` (Produce with acks=0), or ``CLOSE_CONNECTION`` (an acks=0
Produce that failed: Kafka closes the connection, the only way such a client learns of it).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING

from refka.core.effects import Chunk

if TYPE_CHECKING:
    from refka.security.authorizer import StandardAuthorizer

ANONYMOUS = "User:ANONYMOUS"
"""The principal of an unauthenticated connection (Kafka's ``KafkaPrincipal.ANONYMOUS``)."""


@dataclass(frozen=True, slots=True)
class RequestContext:
    """One request as received: who sent it, which API and version, and when."""

    connection_id: int
    correlation_id: int
    api_key: int
    api_version: int
    client_id: str | None
    now_ms: int
    sequence: int  # position of this request on its connection, for in-order responses
    listener: str = ""  # the listener it arrived on ("": the node's first)
    principal: str = ANONYMOUS  # Kafka's ``KafkaPrincipal`` as "User:name", set by authentication
    client_host: str = ""  # the peer's address, as ACLs' ``host`` matches it
    token_authenticated: bool = False  # authenticated with a delegation token (KIP-48)
    authorizer: StandardAuthorizer | None = None  # None: every request allowed (no authorizer)


@dataclass(frozen=True, slots=True)
class Encoded:
    """A response body already encoded as chunks (the response header is added by the core)."""

    chunks: tuple[Chunk, ...]


class Deferred(enum.Enum):
    PENDING = "pending"
    NO_RESPONSE = "no-response"
    CLOSE_CONNECTION = "close-connection"


PENDING = Deferred.PENDING
NO_RESPONSE = Deferred.NO_RESPONSE
CLOSE_CONNECTION = Deferred.CLOSE_CONNECTION
