"""TLS configuration as Kafka reads it: security protocols of ``listener.security.protocol.map``,
PEM key stores inline (KIP-651) with an encrypted key, per-listener ``listener.name.<name>.``
keys, and refka's own clients (broker to controller) over TLS with a client certificate."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import confluent_kafka
import pytest
from refka.config import ConfigError, listener_setting, load_config
from refka.testing import in_process_broker

from tests.security.certs import Certs
from tests.security.test_tls_clients import (
    confluent_ssl,
    expected,
    produce_and_consume_confluent,
)


def test_unknown_security_protocol_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown security protocol 'TLS'"):
        load_config(None, ["listeners=SECURE://:9093", "listener.security.protocol.map=SECURE:TLS"])


def test_listener_prefixed_key_wins_on_its_listener() -> None:
    config, warnings = load_config(
        None,
        [
            "listeners=A://:1,B://:2",
            "listener.security.protocol.map=A:SSL,B:SSL",
            "ssl.client.auth=requested",
            "listener.name.b.ssl.client.auth=required",
        ],
    )
    assert not warnings
    assert listener_setting(config, "A", "ssl_client_auth") == "requested"
    assert listener_setting(config, "B", "ssl_client_auth") == "required"


def test_bad_listener_prefixed_value_is_a_config_error() -> None:
    config, _ = load_config(None, ["listener.name.plaintext.ssl.client.auth=always"])
    with pytest.raises(ConfigError, match=r"listener\.name\.plaintext\.ssl\.client\.auth"):
        listener_setting(config, "PLAINTEXT", "ssl_client_auth")


def test_ssl_listener_without_key_store_does_not_start(tmp_path: Path) -> None:
    started = subprocess.run(
        [
            sys.executable,
            "-m",
            "refka",
            "broker",
            "--set",
            "listeners=SSL://127.0.0.1:0",
            "--set",
            f"log.dirs={tmp_path}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert started.returncode != 0
    assert "listener SSL (SSL) needs a key store" in started.stderr


def test_inline_pem_key_store_with_an_encrypted_key(certs: Certs, tmp_path: Path) -> None:
    encrypted = tmp_path / "key.p8"
    subprocess.run(
        [
            "openssl",
            "pkcs8",
            "-topk8",
            "-v2",
            "aes-256-cbc",
            "-in",
            str(certs.server),
            "-out",
            str(encrypted),
            "-passout",
            "pass:s3cret",
        ],
        check=True,
        capture_output=True,
    )
    chain = certs.server.read_text()
    chain = chain[chain.index("-----BEGIN CERTIFICATE-----") :]
    configs = {
        "listeners": "SSL://127.0.0.1:0",
        "ssl.keystore.type": "PEM",
        "ssl.keystore.certificate.chain": " ".join(chain.split("\n")),  # on one line
        "ssl.keystore.key": " ".join(encrypted.read_text().split("\n")),
        "ssl.key.password": "s3cret",
    }
    with in_process_broker(tmp_path / "data", config=configs) as broker:
        config = confluent_ssl(certs, broker.bootstrap)
        assert produce_and_consume_confluent(config, "inline-pem") == expected()


def test_broker_reaches_its_controller_over_tls_with_a_client_certificate(
    certs: Certs, tmp_path: Path
) -> None:
    """The controller listener requires a client certificate (a per-listener key); the broker's
    heartbeats and registration go over TLS with its key store, or it never becomes ready."""
    configs = certs.broker_configs(
        **{
            "listeners": "SSL://127.0.0.1:0,CONTROLLER://127.0.0.1:0",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": "SSL:SSL,CONTROLLER:SSL",
            "listener.name.controller.ssl.client.auth": "required",
        }
    )
    with in_process_broker(tmp_path / "data", config=configs, start_timeout_s=20) as broker:
        config = confluent_ssl(certs, broker.bootstrap)
        assert produce_and_consume_confluent(config, "tls-controller") == expected()
        assert "authenticated as User:O=refka,CN=localhost" in broker.log_text()


def test_plaintext_client_on_an_ssl_listener_gets_nothing(certs: Certs, tmp_path: Path) -> None:
    with in_process_broker(tmp_path / "data", config=certs.broker_configs()) as broker:
        admin = confluent_kafka.admin.AdminClient(
            {"bootstrap.servers": broker.bootstrap, "socket.timeout.ms": 2000}
        )
        with pytest.raises(confluent_kafka.KafkaException):
            admin.list_topics(timeout=3)
