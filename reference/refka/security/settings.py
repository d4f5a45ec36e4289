"""The SASL settings of a node's listeners, read from its config as Kafka reads them.

A listener is SASL when ``listener.security.protocol.map`` maps it to SASL_PLAINTEXT or
SASL_SSL. Its mechanisms are ``listener.name.<l>.sasl.enabled.mechanisms`` (else
``sasl.enabled.mechanisms``); PLAIN's users are the ``user_<name>`` options of
``listener.name.<l>.plain.sasl.jaas.config`` (else ``listener.name.<l>.sasl.jaas.config``,
else ``sasl.jaas.config``). Each enabled mechanism needs its JAAS entry, as Kafka's
``JaasContext.loadServerContext`` does (SCRAM's is ``ScramLoginModule required;``: its users
are in the metadata log). A mechanism refka does not serve (GSSAPI, OAUTHBEARER) is refused at
start, naming it; so is a mechanism without a JAAS entry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from refka.config import BrokerConfig, listener_setting, sasl_jaas_config, security_protocol
from refka.security.authenticator import SERVED_MECHANISMS, ListenerSasl

if TYPE_CHECKING:
    from refka.security.client import ClientCredentials

SASL_PROTOCOLS = ("SASL_PLAINTEXT", "SASL_SSL")


def sasl_listeners(config: BrokerConfig, names: list[str]) -> dict[str, ListenerSasl]:
    """The SASL listeners among ``names``, each with its settings."""
    found: dict[str, ListenerSasl] = {}
    for name in names:
        if security_protocol(config, name) in SASL_PROTOCOLS:
            found[name.upper()] = listener_sasl(config, name)
    return found


def listener_sasl(config: BrokerConfig, listener: str) -> ListenerSasl:
    from refka.security.jaas import parse_jaas_config  # only a SASL listener's (issue 15)
    from refka.security.plain import PLAIN, plain_users

    enabled = str(listener_setting(config, listener, "sasl_enabled_mechanisms"))
    mechanisms = tuple(m.strip() for m in enabled.split(",") if m.strip())
    unserved = [m for m in mechanisms if m not in SERVED_MECHANISMS]
    if unserved:
        raise ValueError(
            f"sasl.enabled.mechanisms of listener {listener}: {', '.join(unserved)} not served "
            f"(refka serves {', '.join(SERVED_MECHANISMS)})"
        )
    users: dict[str, str] = {}
    for mechanism in mechanisms:
        jaas = sasl_jaas_config(config, listener, mechanism)
        if not jaas:
            raise ValueError(
                f"Could not find a 'KafkaServer' or '{listener.lower()}.KafkaServer' entry in "
                "the JAAS configuration (listener.name."
                f"{listener.lower()}.{mechanism.lower()}.sasl.jaas.config)"
            )
        entry = parse_jaas_config(jaas)
        if mechanism == PLAIN:
            users = plain_users(entry.options)
    reauth_ms = int(listener_setting(config, listener, "connections_max_reauth_ms"))
    return ListenerSasl(mechanisms, users, reauth_ms)


CONTROLLER_CHANNELS = frozenset({"heartbeat", "alter-partition", "forwarding", "raft"})
"""A broker's channels to the controller (``refka.core.channels``); the others reach brokers."""


def outbound_credentials(
    config: BrokerConfig, listener: str, mechanism_key: str
) -> ClientCredentials | None:
    """How this node authenticates to ``listener`` of another node: None unless the listener
    is SASL; else ``mechanism_key``'s mechanism (``sasl.mechanism.inter.broker.protocol`` or
    ``sasl.mechanism.controller.protocol``) with the ``username``/``password`` of the
    listener's JAAS entry for it."""
    if security_protocol(config, listener) not in SASL_PROTOCOLS:
        return None
    mechanism = str(listener_setting(config, listener, mechanism_key.replace(".", "_"))).strip()
    enabled = str(listener_setting(config, listener, "sasl_enabled_mechanisms")).split(",")
    if mechanism not in (m.strip() for m in enabled):
        raise ValueError(
            f"{mechanism_key} must be included in sasl.enabled.mechanisms when SASL is used "
            f"for {'inter-broker' if 'inter' in mechanism_key else 'controller'} communication"
        )
    if mechanism not in SERVED_MECHANISMS:
        raise ValueError(f"{mechanism_key}={mechanism}: refka's clients speak {SERVED_MECHANISMS}")
    from refka.security.jaas import parse_jaas_config

    jaas = sasl_jaas_config(config, listener, mechanism)
    options = parse_jaas_config(jaas).options if jaas else {}
    if "username" not in options or "password" not in options:
        raise ValueError(
            f"the JAAS entry of listener {listener} for {mechanism} needs username and password "
            f"for {mechanism_key}"
        )
    from refka.security.client import ClientCredentials

    return ClientCredentials(mechanism, options["username"], options["password"])
