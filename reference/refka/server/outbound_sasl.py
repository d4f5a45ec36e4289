"""Which of a broker's own connections authenticate, and how (KIP-43 for inter-broker and
controller links): a connection on one of the channels to the controller uses the controller
listener's security protocol and ``sasl.mechanism.controller.protocol``; any other (to a
leader, for fetches or markers) the inter-broker listener's and
``sasl.mechanism.inter.broker.protocol``. Credentials are the ``username``/``password`` of that
listener's JAAS entry (``refka.security.settings.outbound_credentials``). The SCRAM client
nonce comes from ``os.urandom`` here, in the driver, never in the core.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from refka.config import BrokerConfig, controller_listener_name, inter_broker_listener
from refka.security.settings import CONTROLLER_CHANNELS, outbound_credentials

if TYPE_CHECKING:
    from refka.security.client import SaslClient

OutboundSasl = Callable[[str], "SaslClient | None"]
"""channel -> a fresh SASL client for a new connection on it, or None (no SASL)."""


def outbound_sasl(config: BrokerConfig) -> OutboundSasl | None:
    """The broker's outbound SASL, checked now (a bad setting fails the start)."""
    to_controller = outbound_credentials(
        config, controller_listener_name(config), "sasl.mechanism.controller.protocol"
    )
    to_brokers = outbound_credentials(
        config, inter_broker_listener(config), "sasl.mechanism.inter.broker.protocol"
    )
    if to_controller is None and to_brokers is None:
        return None
    client_id = f"broker-{config.node_id}"

    def client(channel: str) -> SaslClient | None:
        credentials = to_controller if channel in CONTROLLER_CHANNELS else to_brokers
        if credentials is None:
            return None
        from refka.security.client import SaslClient  # hashlib: only for a SASL link

        return SaslClient(credentials, os.urandom(16).hex(), client_id)

    return client
