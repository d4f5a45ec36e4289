"""A broker's life as the controller sees it: Kafka's ``BrokerLifecycleManager`` (KIP-631).

The broker registers (BrokerRegistration) and receives its broker epoch; then it heartbeats
every ``broker.heartbeat.interval.ms`` with the metadata offset it has applied. The controller
keeps it fenced until that offset has caught up with its registration, then unfences it. A
controlled shutdown asks to shut down (``want_shut_down``) and waits until the controller has
moved its leaderships away (``should_shut_down``). A restarted broker registers again with a
new incarnation id and gets a new broker epoch; requests carrying the old one are refused
(KIP-903).

States and their legal moves (one method per target state; an illegal move raises)::

    STARTING --registered--> RECOVERY --unfenced--> RUNNING
    RECOVERY|RUNNING --begin_controlled_shutdown--> PENDING_CONTROLLED_SHUTDOWN
    PENDING_CONTROLLED_SHUTDOWN --should_shut_down--> SHUTTING_DOWN
    RUNNING --fenced--> RECOVERY
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kio.schema.broker_heartbeat.v1.request import BrokerHeartbeatRequest
from kio.schema.broker_registration.v4.request import (
    BrokerRegistrationRequest,
    Feature,
    Listener,
)
from kio.schema.errors import ErrorCode
from kio.schema.types import BrokerId
from kio.static.primitive import i16, i64, u16
from refka.core.network_client import Client, ClientResponse, NodeAddress

PLAINTEXT = 0  # SecurityProtocol.PLAINTEXT
METADATA_VERSION = "metadata.version"
TRANSACTION_VERSION = "transaction.version"
METADATA_VERSION_RANGE = (7, 27)  # 3.3-IV3 .. 4.x: the record formats refka writes and reads


class BrokerState(enum.Enum):
    """Kafka's ``BrokerState`` values that a KRaft broker passes through."""

    STARTING = 1
    RECOVERY = 2
    RUNNING = 3
    PENDING_CONTROLLED_SHUTDOWN = 6
    SHUTTING_DOWN = 7


_LEGAL: dict[BrokerState, frozenset[BrokerState]] = {
    BrokerState.STARTING: frozenset({BrokerState.RECOVERY, BrokerState.SHUTTING_DOWN}),
    BrokerState.RECOVERY: frozenset(
        {BrokerState.RUNNING, BrokerState.PENDING_CONTROLLED_SHUTDOWN, BrokerState.SHUTTING_DOWN}
    ),
    BrokerState.RUNNING: frozenset(
        {BrokerState.RECOVERY, BrokerState.PENDING_CONTROLLED_SHUTDOWN, BrokerState.SHUTTING_DOWN}
    ),
    BrokerState.PENDING_CONTROLLED_SHUTDOWN: frozenset({BrokerState.SHUTTING_DOWN}),
    BrokerState.SHUTTING_DOWN: frozenset(),
}


_HURRIED = frozenset({BrokerState.RECOVERY, BrokerState.PENDING_CONTROLLED_SHUTDOWN})
"""States in which the broker heartbeats as soon as its metadata moves: the controller waits
for it (to unfence it, or to let it shut down)."""


class IllegalBrokerStateTransition(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class Registration:
    """What the broker tells the controller about itself."""

    broker_id: int
    cluster_id: str
    incarnation_id: uuid.UUID
    listeners: tuple[tuple[str, str, int], ...]  # (name, host, port)
    rack: str | None
    previous_broker_epoch: int = -1  # KIP-966: the epoch of a clean shutdown, -1 after a crash


class BrokerLifecycleManager:
    """Registration, heartbeats, fencing and controlled shutdown of one broker."""

    def __init__(
        self,
        registration: Registration,
        controller: NodeAddress,
        client: Client,
        heartbeat_interval_ms: int,
        now_ms: int,
    ) -> None:
        self.registration = registration
        self.controller = controller
        self.client = client
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.state = BrokerState.STARTING
        self.broker_epoch = -1
        self.metadata_offset = -1
        self.caught_up = False
        self._in_flight = False
        self._hurry = False
        self._next_send_ms = now_ms

    # ------------------------------------------------------------------ events

    def on_metadata_applied(self, offset: int) -> None:
        """The broker's image has applied the metadata log up to ``offset``; while fenced, tell
        the controller at once (it unfences a broker that has caught up)."""
        if offset > self.metadata_offset and self.state in _HURRIED:
            self._hurry = True
        self.metadata_offset = max(self.metadata_offset, offset)

    def on_tick(self, now_ms: int) -> None:
        if self._in_flight or self.state is BrokerState.SHUTTING_DOWN:
            return
        if now_ms < self._next_send_ms and not self._hurry:
            return
        self._hurry = False
        request = self._registration() if self.broker_epoch < 0 else self._heartbeat()
        sent = self.client.send(self.controller, request, now_ms, self._on_response(now_ms))
        self._in_flight = sent
        if not sent:
            self._next_send_ms = now_ms + self.heartbeat_interval_ms

    def next_deadline_ms(self) -> int | None:
        if self._in_flight or self.state is BrokerState.SHUTTING_DOWN:
            return None
        return 0 if self._hurry else self._next_send_ms

    def begin_controlled_shutdown(self, now_ms: int) -> None:
        """Ask the controller to move our leaderships away before we stop."""
        if self.state is BrokerState.STARTING:
            self._move(BrokerState.SHUTTING_DOWN)
            return
        self._move(BrokerState.PENDING_CONTROLLED_SHUTDOWN)
        self._hurry = True

    @property
    def fenced(self) -> bool:
        return self.state is not BrokerState.RUNNING

    # --------------------------------------------------------------- internals

    def _registration(self) -> BrokerRegistrationRequest:
        r = self.registration
        low, high = METADATA_VERSION_RANGE
        return BrokerRegistrationRequest(
            broker_id=BrokerId(r.broker_id),
            cluster_id=r.cluster_id,
            incarnation_id=r.incarnation_id,
            listeners=tuple(
                Listener(name=name, host=host, port=u16(port), security_protocol=i16(PLAINTEXT))
                for name, host, port in r.listeners
            ),
            features=(
                Feature(
                    name=METADATA_VERSION,
                    min_supported_version=i16(low),
                    max_supported_version=i16(high),
                ),
                Feature(  # KIP-890 part 2 (refka.metadata.features)
                    name=TRANSACTION_VERSION,
                    min_supported_version=i16(0),
                    max_supported_version=i16(2),
                ),
            ),
            rack=r.rack,
            previous_broker_epoch=i64(r.previous_broker_epoch),
        )

    def _heartbeat(self) -> BrokerHeartbeatRequest:
        return BrokerHeartbeatRequest(
            broker_id=BrokerId(self.registration.broker_id),
            broker_epoch=i64(self.broker_epoch),
            current_metadata_offset=i64(self.metadata_offset),
            want_fence=False,
            want_shut_down=self.state is BrokerState.PENDING_CONTROLLED_SHUTDOWN,
        )

    def _on_response(self, sent_ms: int) -> Callable[[ClientResponse], None]:
        def complete(result: ClientResponse) -> None:
            self._in_flight = False
            self._next_send_ms = sent_ms + self.heartbeat_interval_ms
            response = result.response
            if response is None:
                return  # unreachable or timed out: try again at the next interval
            if result.api_key == BrokerRegistrationRequest.__api_key__:
                self._registered(response)
            else:
                self._heartbeat_answered(response)

        return complete

    def _registered(self, response: Any) -> None:
        if response.error_code != ErrorCode.none:
            return
        self.broker_epoch = int(response.broker_epoch)
        if self.state is BrokerState.STARTING:
            self._move(BrokerState.RECOVERY)
        self._hurry = True  # heartbeat at once: the controller waits for our offset

    def _heartbeat_answered(self, response: Any) -> None:
        if response.error_code == ErrorCode.stale_broker_epoch:
            self.broker_epoch = -1  # KIP-903: register again
            return
        if response.error_code != ErrorCode.none:
            return
        self.caught_up = bool(response.is_caught_up)
        if self.state is BrokerState.PENDING_CONTROLLED_SHUTDOWN:
            if response.should_shut_down:
                self._move(BrokerState.SHUTTING_DOWN)
            return
        if response.is_fenced and self.state is BrokerState.RUNNING:
            self._move(BrokerState.RECOVERY)
        elif not response.is_fenced and self.state is BrokerState.RECOVERY:
            self._move(BrokerState.RUNNING)

    def _move(self, target: BrokerState) -> None:
        if target not in _LEGAL[self.state]:
            raise IllegalBrokerStateTransition(f"{self.state.name} -> {target.name}")
        self.state = target
