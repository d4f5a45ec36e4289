"""SASL settings read from the config as Kafka reads them: per listener, per mechanism, and
refused at start where Kafka refuses them."""

from __future__ import annotations

import pytest
from refka.config import load_config
from refka.security.settings import listener_sasl, outbound_credentials, sasl_listeners

PLAIN_JAAS = (
    "org.apache.kafka.common.security.plain.PlainLoginModule required "
    'username="admin" password="admin-secret" user_admin="admin-secret";'
)


def test_listener_keys_are_known_and_win_over_the_broker_wide_ones() -> None:
    loaded, warnings = load_config(
        None,
        [
            "listeners=PLAINTEXT://:9092,SASL_PLAINTEXT://:9093",
            "sasl.enabled.mechanisms=SCRAM-SHA-512",
            "listener.name.sasl_plaintext.sasl.enabled.mechanisms=PLAIN",
            f"listener.name.sasl_plaintext.plain.sasl.jaas.config={PLAIN_JAAS}",
        ],
    )
    assert warnings == []
    assert set(sasl_listeners(loaded, ["PLAINTEXT", "SASL_PLAINTEXT"])) == {"SASL_PLAINTEXT"}
    sasl = listener_sasl(loaded, "SASL_PLAINTEXT")
    assert sasl.mechanisms == ("PLAIN",) and sasl.plain_users == {"admin": "admin-secret"}


def test_plain_sasl_jaas_config_is_the_fallback() -> None:
    loaded, _ = load_config(
        None, ["sasl.enabled.mechanisms=PLAIN", f"sasl.jaas.config={PLAIN_JAAS}"]
    )
    assert listener_sasl(loaded, "SASL_PLAINTEXT").plain_users == {"admin": "admin-secret"}


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (["sasl.enabled.mechanisms=GSSAPI"], "GSSAPI not served"),
        (["sasl.enabled.mechanisms=PLAIN"], "Could not find a 'KafkaServer'"),
        (["sasl.enabled.mechanisms=SCRAM-SHA-256"], "Could not find a 'KafkaServer'"),
    ],
)
def test_refused_at_start(settings: list[str], message: str) -> None:
    loaded, _ = load_config(None, settings)
    with pytest.raises(ValueError, match=message):
        listener_sasl(loaded, "SASL_PLAINTEXT")


def test_inter_broker_mechanism_must_be_enabled_and_have_credentials() -> None:
    base = [
        "listeners=SASL_PLAINTEXT://:9093",
        "sasl.enabled.mechanisms=PLAIN",
        f"listener.name.sasl_plaintext.plain.sasl.jaas.config={PLAIN_JAAS}",
    ]
    loaded, _ = load_config(None, base)
    with pytest.raises(ValueError, match=r"must be included in sasl\.enabled\.mechanisms"):
        outbound_credentials(loaded, "SASL_PLAINTEXT", "sasl.mechanism.inter.broker.protocol")
    loaded, _ = load_config(None, [*base, "sasl.mechanism.inter.broker.protocol=PLAIN"])
    credentials = outbound_credentials(
        loaded, "SASL_PLAINTEXT", "sasl.mechanism.inter.broker.protocol"
    )
    assert credentials is not None
    assert (credentials.username, credentials.password) == ("admin", "admin-secret")
    plaintext, _ = load_config(None, [])
    assert (
        outbound_credentials(plaintext, "PLAINTEXT", "sasl.mechanism.inter.broker.protocol") is None
    )


def test_connections_max_reauth_ms_per_listener() -> None:
    loaded, _ = load_config(
        None,
        [
            "sasl.enabled.mechanisms=PLAIN",
            f"sasl.jaas.config={PLAIN_JAAS}",
            "connections.max.reauth.ms=1000",
            "listener.name.other.connections.max.reauth.ms=5000",
        ],
    )
    assert listener_sasl(loaded, "SASL_PLAINTEXT").max_reauth_ms == 1000
    assert listener_sasl(loaded, "OTHER").max_reauth_ms == 5000
