"""ClusterControlManager / BrokerHeartbeatManager on a MetadataImage, without a log: broker
epochs, unfencing when caught up, session expiry at broker.session.timeout.ms, stale epochs."""

from __future__ import annotations

import uuid
from types import SimpleNamespace
from typing import Any

from kio.schema.errors import ErrorCode
from refka.controller.cluster_control import ClusterControl
from refka.controller.settings import ControllerSettings
from refka.metadata.image import MetadataImage

SETTINGS = ControllerSettings(cluster_id="c", broker_session_timeout_ms=9000)


class Cluster:
    def __init__(self) -> None:
        self.control = ClusterControl(SETTINGS)
        self.image = MetadataImage.empty("c")
        self.end = 0

    def commit(self, records: list[Any]) -> None:
        if records:
            self.end += len(records)
            self.image, _ = self.image.apply(self.end - 1, records)

    def register(self, broker_id: int, now_ms: int, **kw: Any) -> ErrorCode:
        request = SimpleNamespace(
            cluster_id=kw.get("cluster_id", "c"),
            broker_id=broker_id,
            incarnation_id=kw.get("incarnation_id", uuid.UUID(int=broker_id)),
            listeners=(),
            features=(),
            rack=None,
            previous_broker_epoch=kw.get("previous_broker_epoch", -1),
        )
        error, _, records = self.control.register(self.image, request, self.end, now_ms)
        self.commit(records)
        return error

    def heartbeat(self, broker_id: int, now_ms: int, **kw: Any) -> Any:
        broker = self.image.brokers.get(broker_id)
        request = SimpleNamespace(
            broker_id=broker_id,
            broker_epoch=kw.get("broker_epoch", broker.broker_epoch if broker else -1),
            current_metadata_offset=kw.get("offset", self.end - 1),
            want_fence=kw.get("want_fence", False),
            want_shut_down=kw.get("want_shut_down", False),
        )
        reply, records = self.control.heartbeat(self.image, request, self.end, now_ms)
        self.commit(records)
        return reply


def test_broker_epoch_is_the_register_record_offset_and_changes_on_reregistration() -> None:
    c = Cluster()
    c.register(1, 0)
    c.register(2, 0)
    assert (c.image.brokers[1].broker_epoch, c.image.brokers[2].broker_epoch) == (0, 1)
    c.heartbeat(1, 0, want_fence=True)  # fenced: its session no longer guards the id
    assert c.register(1, 10, incarnation_id=uuid.uuid4()) == ErrorCode.none
    assert c.image.brokers[1].broker_epoch == c.end - 1


def test_unfenced_once_caught_up_to_its_registration() -> None:
    c = Cluster()
    c.register(1, 0)
    assert c.heartbeat(1, 0, offset=-1).is_fenced
    reply = c.heartbeat(1, 0, offset=0)
    assert not reply.is_fenced and reply.is_caught_up
    assert not c.image.brokers[1].fenced


def test_session_expires_exactly_at_the_timeout() -> None:
    c = Cluster()
    c.register(1, 0)
    c.heartbeat(1, 1000)
    assert c.control.next_expiry_ms(c.image) == 10_000
    assert c.control.expired_broker(c.image, 9_999) is None
    assert c.control.expired_broker(c.image, 10_000) == 1
    c.commit(c.control.fence_records(c.image, 1))
    assert c.image.brokers[1].fenced
    assert c.control.next_expiry_ms(c.image) is None


def test_stale_epoch_and_unknown_broker() -> None:
    c = Cluster()
    c.register(1, 0)
    assert c.heartbeat(1, 0, broker_epoch=5).error == ErrorCode.stale_broker_epoch
    assert c.heartbeat(7, 0).error == ErrorCode.stale_broker_epoch


def test_live_duplicate_registration_is_refused() -> None:
    c = Cluster()
    c.register(2, 0)
    c.heartbeat(2, 0)
    refused = c.register(2, 100, incarnation_id=uuid.uuid4())
    assert refused == ErrorCode.duplicate_broker_registration
    assert c.register(2, 100) == ErrorCode.none  # the same incarnation may register again


def test_a_combined_nodes_own_broker_re_registers_within_its_session() -> None:
    """The broker of the controller's own node (node.id 1 here) lives and dies with it."""
    c = Cluster()
    assert SETTINGS.node_id == 1
    c.register(1, 0)
    c.heartbeat(1, 0)
    assert c.register(1, 100, incarnation_id=uuid.uuid4()) == ErrorCode.none
