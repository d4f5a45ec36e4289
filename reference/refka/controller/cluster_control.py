"""Kafka's ``ClusterControlManager`` and ``BrokerHeartbeatManager``: brokers join, stay, leave.

Durable state (registrations, fencing, controlled shutdown) lives in the metadata image and
changes only through records; soft state (the last heartbeat, the metadata offset a broker
reported, when its controlled shutdown began) lives here, in memory, as in Kafka.

- Registration (KIP-631): the broker epoch is the offset of the ``RegisterBrokerRecord``; a
  new registration is fenced. A new incarnation of a registered broker replaces it; with
  KIP-966, a ``previous_broker_epoch`` other than the registered epoch means the broker stopped
  uncleanly, so it leaves every ISR and ELR (Election.tla ``RegisterBroker``). A different
  incarnation while the old one's session is alive is DUPLICATE_BROKER_REGISTRATION.
- Heartbeats: a stale broker epoch is STALE_BROKER_EPOCH (KIP-903). A fenced broker is
  unfenced once its reported metadata offset reaches its registration's offset.
- Session expiry: ``broker.session.timeout.ms`` after the last heartbeat the broker is fenced
  (``BrokerRegistrationChangeRecord`` fenced=1), leaves every ISR and its leaderships move
  (Election.tla ``FenceBroker``).
- Controlled shutdown: ``want_shut_down`` marks the broker in controlled shutdown and moves its
  leaderships and ISR memberships away; ``should_shut_down`` is true once it leads nothing and
  has seen those changes; then it is fenced.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kio.schema.errors import ErrorCode

from refka.controller.replication_control import partition_updates, partitions_with
from refka.controller.settings import ControllerSettings
from refka.metadata.records import (
    NO_LEADER,
    BrokerEndpoint,
    BrokerFeature,
    BrokerRegistrationChangeRecord,
    RegisterBrokerRecord,
)

FENCE = 1
UNFENCE = -1


@dataclass(slots=True)
class BrokerHeartbeatState:
    """What the controller remembers of a broker between heartbeats (not in the log)."""

    last_contact_ms: int
    metadata_offset: int = -1
    controlled_shutdown_offset: int | None = None  # where its shutdown changes end


@dataclass(frozen=True, slots=True)
class HeartbeatReply:
    """The controller's answer to a broker heartbeat."""

    error: ErrorCode
    is_caught_up: bool = False
    is_fenced: bool = True
    should_shut_down: bool = False


@dataclass(slots=True)
class ClusterControl:
    """Registrations and heartbeats of the brokers; see the module docstring."""

    settings: ControllerSettings
    heartbeats: dict[int, BrokerHeartbeatState] = field(default_factory=dict)

    # --------------------------------------------------------------- registration

    def register(
        self, image: Any, request: Any, next_offset: int, now_ms: int
    ) -> tuple[ErrorCode, str | None, list[Any]]:
        """BrokerRegistration: the records (the last is the RegisterBrokerRecord, whose
        offset ``next_offset + len(records) - 1`` becomes the broker epoch)."""
        if request.cluster_id != self.settings.cluster_id:
            message = (
                f"Expected cluster ID {self.settings.cluster_id}, but got cluster ID "
                f"{request.cluster_id}"
            )
            return ErrorCode.inconsistent_cluster_id, message, []
        broker_id = request.broker_id
        existing = image.brokers.get(broker_id)
        records: list[Any] = []
        if existing is not None and existing.incarnation_id != request.incarnation_id:
            # A combined node's broker lives and dies with this controller: a new incarnation
            # of it means the old one is gone, whatever its session says.
            combined = broker_id == self.settings.node_id
            if not existing.fenced and not combined and self.has_valid_session(broker_id, now_ms):
                message = f"Another broker is registered with that broker id {broker_id}."
                return ErrorCode.duplicate_broker_registration, message, []
            previous = getattr(request, "previous_broker_epoch", -1)
            clean = previous == existing.broker_epoch
            records += self._shutdown_records(image, broker_id, clean)
        records.append(
            RegisterBrokerRecord(
                broker_id=broker_id,
                incarnation_id=request.incarnation_id,
                broker_epoch=next_offset + len(records),
                end_points=tuple(
                    BrokerEndpoint(
                        name=lst.name,
                        host=lst.host,
                        port=lst.port,
                        security_protocol=lst.security_protocol,
                    )
                    for lst in request.listeners
                ),
                features=tuple(
                    BrokerFeature(
                        name=f.name,
                        min_supported_version=f.min_supported_version,
                        max_supported_version=f.max_supported_version,
                    )
                    for f in request.features
                ),
                rack=request.rack,
                fenced=True,
                in_controlled_shutdown=False,
                log_dirs=tuple(getattr(request, "log_dirs", ()) or ()),
            )
        )
        self.heartbeats[broker_id] = BrokerHeartbeatState(last_contact_ms=now_ms)
        return ErrorCode.none, None, records

    def _shutdown_records(self, image: Any, broker_id: int, clean: bool) -> list[Any]:
        """Kafka's ``handleBrokerShutdown``: unclean (KIP-966) also leaves the ELRs."""
        s = self.settings
        if clean or not s.eligible_leader_replicas_enabled:
            parts = partitions_with(image, lambda p: broker_id in p.isr)
            return partition_updates(image, s, parts, broker_to_remove=broker_id)
        parts = partitions_with(
            image,
            lambda p: (broker_id in p.isr or broker_id in p.elr) and p.replicas != (broker_id,),
        )  # a partition with no other replica keeps its only one: there is nothing to protect
        return partition_updates(image, s, parts, broker_with_unclean_shutdown=broker_id)

    # ------------------------------------------------------------------ heartbeat

    def check_broker_epoch(self, image: Any, broker_id: int, broker_epoch: int) -> str | None:
        """Why the epoch is stale (STALE_BROKER_EPOCH), or None."""
        broker = image.brokers.get(broker_id)
        if broker is None:
            return f"No broker registration found for broker {broker_id}"
        if broker.broker_epoch != broker_epoch:
            return (
                f"Expected broker epoch {broker.broker_epoch}, but got broker epoch {broker_epoch}"
            )
        return None

    def heartbeat(
        self, image: Any, request: Any, end_offset: int, now_ms: int
    ) -> tuple[HeartbeatReply, list[Any]]:
        """BrokerHeartbeat: the answer and the records (unfence, controlled shutdown, fence);
        ``end_offset`` is where the records would go."""
        broker_id = request.broker_id
        if self.check_broker_epoch(image, broker_id, request.broker_epoch) is not None:
            return HeartbeatReply(ErrorCode.stale_broker_epoch), []
        broker = image.brokers[broker_id]
        state = self.heartbeats.setdefault(broker_id, BrokerHeartbeatState(now_ms))
        state.last_contact_ms = now_ms
        state.metadata_offset = request.current_metadata_offset
        epoch = broker.broker_epoch  # the offset of its RegisterBrokerRecord
        caught_up = request.current_metadata_offset >= epoch
        if request.want_shut_down:
            return self._controlled_shutdown(image, broker, state, end_offset, caught_up)
        if broker.fenced:
            if caught_up and not request.want_fence:
                records = [_registration_change(broker_id, epoch, fenced=UNFENCE)]
                records += self._unfence_elections(image, broker_id)
                return HeartbeatReply(ErrorCode.none, caught_up, is_fenced=False), records
            return HeartbeatReply(ErrorCode.none, caught_up, is_fenced=True), []
        if request.want_fence:
            return HeartbeatReply(ErrorCode.none, caught_up), self.fence_records(image, broker_id)
        return HeartbeatReply(ErrorCode.none, caught_up, is_fenced=False), []

    def _unfence_elections(self, image: Any, broker_id: int) -> list[Any]:
        """Leaderless partitions this broker may now lead (``handleBrokerUnfenced``)."""
        parts = partitions_with(image, lambda p: p.leader == NO_LEADER and broker_id in p.replicas)
        return partition_updates(image, self.settings, parts, broker_to_add=broker_id)

    def _controlled_shutdown(
        self, image: Any, broker: Any, state: BrokerHeartbeatState, end_offset: int, caught: bool
    ) -> tuple[HeartbeatReply, list[Any]]:
        broker_id = broker.broker_id
        if broker.fenced:  # nothing to hand over
            return HeartbeatReply(ErrorCode.none, caught, True, should_shut_down=True), []
        records: list[Any] = []
        if not broker.in_controlled_shutdown:
            records.append(
                BrokerRegistrationChangeRecord(
                    broker_id=broker_id, broker_epoch=broker.broker_epoch, in_controlled_shutdown=1
                )
            )
        parts = partitions_with(image, lambda p: broker_id in p.isr)
        records += partition_updates(image, self.settings, parts, broker_to_remove=broker_id)
        if records:
            state.controlled_shutdown_offset = end_offset + len(records) - 1
            return HeartbeatReply(ErrorCode.none, caught, False), records
        leads = partitions_with(image, lambda p: p.leader == broker_id)
        seen = state.controlled_shutdown_offset is None or (
            state.metadata_offset >= state.controlled_shutdown_offset
        )
        if leads or not seen:
            return HeartbeatReply(ErrorCode.none, caught, False), []
        fence = self.fence_records(image, broker_id)
        return HeartbeatReply(ErrorCode.none, caught, True, should_shut_down=True), fence

    # -------------------------------------------------------------------- expiry

    def has_valid_session(self, broker_id: int, now_ms: int) -> bool:
        state = self.heartbeats.get(broker_id)
        timeout_ms = self.settings.broker_session_timeout_ms
        return state is not None and now_ms - state.last_contact_ms < timeout_ms

    def next_expiry_ms(self, image: Any) -> int | None:
        """When the first unfenced broker's session runs out."""
        deadlines = [
            state.last_contact_ms + self.settings.broker_session_timeout_ms
            for broker_id, state in self.heartbeats.items()
            if (b := image.brokers.get(broker_id)) is not None and not b.fenced
        ]
        return min(deadlines, default=None)

    def expired_broker(self, image: Any, now_ms: int) -> int | None:
        """An unfenced broker whose session ran out (Kafka fences one per pass)."""
        for broker_id, broker in sorted(image.brokers.items()):
            if broker.fenced:
                continue
            self.heartbeats.setdefault(broker_id, BrokerHeartbeatState(now_ms))
            if not self.has_valid_session(broker_id, now_ms):
                return int(broker_id)
        return None

    def fence_records(self, image: Any, broker_id: int) -> list[Any]:
        """Kafka's ``handleBrokerFenced`` (Election.tla ``FenceBroker``)."""
        parts = partitions_with(image, lambda p: broker_id in p.isr)
        records = partition_updates(image, self.settings, parts, broker_to_remove=broker_id)
        epoch = image.brokers[broker_id].broker_epoch
        return [*records, _registration_change(broker_id, epoch, fenced=FENCE)]

    def unregister(self, image: Any, broker_id: int) -> tuple[str | None, list[Any]]:
        """Kafka's ``unregisterBroker`` (``handleBrokerUnregistered``): the broker leaves every
        ISR, ELR and leadership, then an ``UnregisterBrokerRecord`` removes its registration.
        Returns Kafka's BROKER_ID_NOT_REGISTERED message, or the records."""
        broker = image.brokers.get(broker_id)
        if broker is None:
            return f"Broker ID {broker_id} is not currently registered", []
        from refka.metadata.read_records import UnregisterBrokerRecord

        parts = partitions_with(image, lambda p: broker_id in p.isr or broker_id in p.elr)
        records = partition_updates(
            image, self.settings, parts, broker_with_unclean_shutdown=broker_id
        )
        self.heartbeats.pop(broker_id, None)
        record = UnregisterBrokerRecord(broker_id=broker_id, broker_epoch=broker.broker_epoch)
        return None, [*records, record]


def _registration_change(broker_id: int, broker_epoch: int, fenced: int) -> Any:
    return BrokerRegistrationChangeRecord(
        broker_id=broker_id, broker_epoch=broker_epoch, fenced=fenced
    )
