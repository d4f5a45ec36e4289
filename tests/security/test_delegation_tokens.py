"""Delegation tokens on refka (KIP-48, KIP-373) beyond the conformance probes
(tests/test_conformance_tokens.py): the Java client logs in with a token and produces, the
token survives a restart and reaches every broker of a cluster, the controller's expiry check
removes expired tokens, the feature is off without ``delegation.token.secret.key``, and the
ACLs of describing and creating for others.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from typing import Any

import pytest
from refka.testing import RunningBroker, running_broker

from conformance.token_probes import (
    AUTHORIZATION_FAILED,
    JAAS,
    SASL_AUTHENTICATION_FAILED,
    create,
    describe,
    expire,
    plain_login,
    refused_create,
    scram_login,
)
from conformance.wire import Connection, build
from tests.security.test_sasl_clients import java_round_trip, sasl_config

SECRET = "token-test-secret"

DEADLINE_S = 20.0
AUTH_DISABLED = 61


def token_config(**extra: str) -> dict[str, str]:
    users = {"listener.name.sasl_plaintext.plain.sasl.jaas.config": JAAS}  # admin, alice, bob
    return sasl_config(**{"delegation.token.secret.key": SECRET, **users, **extra})


def until(check: Any) -> Any:
    deadline = time.monotonic() + DEADLINE_S
    while not (found := check()):
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.05)
    return found


def new_token(broker: RunningBroker, user: str = "alice") -> Any:
    with Connection(broker.bootstrap) as conn:
        plain_login(conn, user)
        token = create(conn)
        assert token.error_code == 0, token
        until(lambda: any(t.token_id == token.token_id for t in describe(conn).tokens))
        return token


def token_login(broker: RunningBroker, token: Any) -> int:
    """The error code of a SCRAM-SHA-256 login with the token (0: logged in)."""
    with Connection(broker.bootstrap) as conn:
        password = base64.b64encode(token.hmac).decode()
        answer = scram_login(conn, token.token_id, password, tokenauth=True)
        return int(answer.error_code)


def java_token(token: Any) -> dict[str, str]:
    password = base64.b64encode(token.hmac).decode()
    return {
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": "SCRAM-SHA-256",
        "sasl.jaas.config": "org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="{token.token_id}" password="{password}" tokenauth="true";',
    }


@pytest.fixture(scope="module")
def token_broker() -> Iterator[RunningBroker]:
    with running_broker(config=token_config()) as broker:
        yield broker


def test_java_client_produces_with_a_token_until_it_is_expired(
    token_broker: RunningBroker,
) -> None:
    token = new_token(token_broker)
    good = java_round_trip(token_broker, "token-topic", java_token(token))
    assert good.returncode == 0, good.stderr[-2000:]
    assert good.stdout.split() == ["consumed", "5"]
    with Connection(token_broker.bootstrap) as conn:
        plain_login(conn, "alice")
        assert expire(conn, token.hmac) == 0
    until(lambda: token_login(token_broker, token) == SASL_AUTHENTICATION_FAILED)
    bad = java_round_trip(token_broker, "token-topic", java_token(token))
    assert bad.returncode == 3, bad.stdout + bad.stderr[-2000:]


def test_a_token_survives_a_restart(tmp_path: Any) -> None:
    with running_broker(tmp_path / "data", config=token_config()) as broker:
        token = new_token(broker)
        assert token_login(broker, token) == 0
        broker.restart()
        until(lambda: token_login(broker, token) == 0)
        with Connection(broker.bootstrap) as conn:
            plain_login(conn, "alice")
            (listed,) = [t for t in describe(conn).tokens if t.token_id == token.token_id]
            assert listed.hmac == token.hmac


def test_the_expiry_check_removes_expired_tokens() -> None:
    config = token_config(
        **{
            "delegation.token.expiry.time.ms": "1000",
            "delegation.token.expiry.check.interval.ms": "200",
        }
    )
    with running_broker(config=config) as broker:
        token = new_token(broker)
        with Connection(broker.bootstrap) as conn:
            plain_login(conn, "alice")
            until(lambda: all(t.token_id != token.token_id for t in describe(conn).tokens))
        assert token_login(broker, token) == SASL_AUTHENTICATION_FAILED


def test_without_a_secret_key_tokens_are_disabled() -> None:
    with running_broker(config=sasl_config()) as broker, Connection(broker.bootstrap) as conn:
        plain_login(conn, "alice")
        assert describe(conn).error_code == AUTH_DISABLED
        assert create(conn).error_code == AUTH_DISABLED  # the controller's answer


def test_acls_for_describing_and_creating_for_others() -> None:
    """KIP-373: DESCRIBE_TOKENS on User:alice lets bob see alice's tokens; CREATE_TOKENS on
    User:alice lets bob create one for her (DELEGATION_TOKEN_AUTHORIZATION_FAILED before)."""
    config = token_config(
        **{
            "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "super.users": "User:admin;User:ANONYMOUS",
        }
    )
    with running_broker(config=config) as broker, Connection(broker.bootstrap) as bob:
        token = new_token(broker)
        plain_login(bob, "bob")
        assert all(t.token_id != token.token_id for t in describe(bob).tokens)
        assert refused_create(bob, owner_type="User", owner_name="alice")[0] == (
            AUTHORIZATION_FAILED
        )
        with Connection(broker.bootstrap) as admin:
            plain_login(admin, "admin")
            for operation in (13, 14):  # CREATE_TOKENS, DESCRIBE_TOKENS
                acl = {
                    "resource_type": 7,  # USER
                    "resource_name": "User:alice",
                    "resource_pattern_type": 3,  # LITERAL
                    "principal": "User:bob",
                    "host": "*",
                    "operation": operation,
                    "permission_type": 3,  # ALLOW
                }
                answer = admin.request(build(30, 3, creations=[acl]))
                assert answer.results[0].error_code == 0, answer
        until(lambda: any(t.token_id == token.token_id for t in describe(bob).tokens))

        def created() -> Any:
            made = create(bob, owner_type="User", owner_name="alice")
            return made if made.error_code == 0 else None

        made = until(created)
        assert (made.principal_name, made.token_requester_principal_name) == ("alice", "bob")


def test_a_token_made_on_one_broker_logs_in_on_another(tmp_path: Any) -> None:
    """The token reaches every broker through the metadata log: created on broker 1's SASL
    listener (an Envelope to the controller), it logs in on broker 3's."""
    from refka.testing.cluster import REPLICATION_LISTENER, running_cluster

    from tests.security.test_sasl_cluster import JAAS as BROKER_JAAS
    from tests.security.test_sasl_cluster import SASL_CLUSTER

    users = 'user_broker="broker-secret" user_alice="alice-secret";'
    jaas = BROKER_JAAS.replace('user_broker="broker-secret";', users)
    listener = REPLICATION_LISTENER.lower()
    config = {
        **SASL_CLUSTER,
        "sasl.enabled.mechanisms": "PLAIN,SCRAM-SHA-256",
        f"listener.name.{listener}.plain.sasl.jaas.config": jaas,
        "listener.name.controller.plain.sasl.jaas.config": jaas,
        f"listener.name.{listener}.scram-sha-256.sasl.jaas.config": (
            "org.apache.kafka.common.security.scram.ScramLoginModule required;"
        ),
        "listener.name.controller.scram-sha-256.sasl.jaas.config": (
            "org.apache.kafka.common.security.scram.ScramLoginModule required;"
        ),
        "delegation.token.secret.key": SECRET,
    }
    with running_cluster(3, tmp_path, config=config) as cluster:
        first, third = (
            f"{cluster.brokers[n].host}:{cluster.brokers[n].other_listeners[REPLICATION_LISTENER]}"
            for n in (1, 3)
        )
        with Connection(first) as conn:
            plain_login(conn, "alice")
            token = create(conn)
            assert token.error_code == 0, token

        def logged_in() -> bool:
            with Connection(third) as conn:
                password = base64.b64encode(token.hmac).decode()
                answer = scram_login(conn, token.token_id, password, tokenauth=True)
                return int(answer.error_code) == 0

        until(logged_in)
