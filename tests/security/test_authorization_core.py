"""Authorization in the sans-I/O cores, with principals other than User:ANONYMOUS: a test
connection is authenticated with ``Dispatcher.authenticate``, the seam SASL and TLS use.

The combined node's own broker reaches its controller as User:ANONYMOUS (a PLAINTEXT
controller listener), so ``super.users`` names it, as a Kafka cluster would need."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from kio.schema.errors import ErrorCode

sys.path.insert(0, str(Path(__file__).parents[1] / "integration"))
from core_driver import Driver

from conformance.records import Record, build_batch
from conformance.wire import build

STANDARD = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
ADMIN, ALICE, BOB = 1, 2, 3  # connection ids: User:ANONYMOUS (super), alice, bob
TOPIC, CLUSTER = 2, 4
LITERAL, PREFIXED = 3, 4
WRITE, DESCRIBE, READ = 4, 8, 3
ALLOW = 3


def call(driver: Driver, connection: int, api_key: int, version: int, **fields: Any) -> Any:
    from refka.protocol import codec

    request = build(api_key, version, **fields)
    return driver.call(connection, request, codec.response_class(api_key, version))


def connect_as(driver: Driver, connection: int, principal: str) -> None:
    call(driver, connection, 18, 3, client_software_name="t", client_software_version="1")
    driver.broker.dispatch.authenticate(connection, principal)


@pytest.fixture
def driver() -> Driver:
    d = Driver(**{"authorizer.class.name": STANDARD, "super.users": "User:ANONYMOUS"})
    connect_as(d, ALICE, "User:alice")
    connect_as(d, BOB, "User:bob")
    return d


def create_acl(driver: Driver, connection: int, **acl: Any) -> Any:
    creation = {"host": "*", "permission_type": ALLOW, "resource_pattern_type": LITERAL, **acl}
    answer = call(driver, connection, 30, 3, creations=[creation])
    driver.tick(500)  # the controller's records reach the broker's image
    return answer.results[0].error_code


def create_topic(driver: Driver, name: str) -> None:
    topic = {"name": name, "num_partitions": 1, "replication_factor": 1}
    topic |= {"assignments": [], "configs": []}
    answer = call(driver, ADMIN, 19, 7, topics=[topic], timeout=5000, validate_only=False)
    assert answer.topics[0].error_code == ErrorCode.none
    driver.tick(1000)


def produce(driver: Driver, connection: int, topic: str) -> Any:
    data = {"index": 0, "records": build_batch([Record(b"v")], timestamp_ms=driver.now_ms)}
    answer = call(
        driver,
        connection,
        0,
        9,
        transactional_id=None,
        acks=1,
        timeout=5000,
        topic_data=[{"name": topic, "partition_data": [data]}],
    )
    return answer.responses[0].partition_responses[0].error_code


def metadata(driver: Driver, connection: int, topics: Any = None) -> Any:
    return call(
        driver,
        connection,
        3,
        12,
        topics=topics,
        allow_auto_topic_creation=False,
        include_topic_authorized_operations=True,
    )


def test_an_authenticated_principal_is_refused_until_an_acl_allows_it(driver: Driver) -> None:
    create_topic(driver, "orders-eu")
    refused = {"resource_type": TOPIC, "resource_name": "x", "principal": "User:a"}
    denied = create_acl(driver, ALICE, operation=READ, **refused)
    assert denied == ErrorCode.cluster_authorization_failed  # CreateAcls: ALTER on CLUSTER
    assert produce(driver, ALICE, "orders-eu") == ErrorCode.topic_authorization_failed
    acl = {"resource_type": TOPIC, "resource_name": "orders-", "operation": WRITE}
    acl |= {"resource_pattern_type": PREFIXED, "principal": "User:alice"}
    assert create_acl(driver, ADMIN, **acl) == ErrorCode.none
    assert produce(driver, ALICE, "orders-eu") == ErrorCode.none
    assert produce(driver, BOB, "orders-eu") == ErrorCode.topic_authorization_failed


def test_metadata_lists_only_describable_topics_with_their_operations(driver: Driver) -> None:
    create_topic(driver, "seen")
    create_topic(driver, "unseen")
    acl = {"resource_type": TOPIC, "resource_name": "seen", "operation": READ}
    assert create_acl(driver, ADMIN, principal="User:alice", **acl) == ErrorCode.none
    listed = metadata(driver, ALICE)
    assert [t.name for t in listed.topics] == ["seen"]
    assert listed.topics[0].topic_authorized_operations == (1 << READ) | (1 << DESCRIBE)
    asked = metadata(driver, BOB, [{"name": "seen", "topic_id": None}])
    assert asked.topics[0].error_code == ErrorCode.topic_authorization_failed
    assert [t.name for t in metadata(driver, BOB).topics] == []


def test_the_controller_refuses_broker_apis_without_cluster_action(driver: Driver) -> None:
    """A BrokerHeartbeat from a principal without CLUSTER_ACTION, straight to the controller."""
    from refka.core.effects import Send
    from refka.protocol import codec

    controller = driver.router.nodes[1_000].core
    connection = 77
    controller.on_connect(connection, driver.now_ms)
    controller.dispatcher.authenticate(connection, "User:mallory")
    request = build(
        63,
        1,
        broker_id=1,
        broker_epoch=1,
        current_metadata_offset=0,
        want_fence=False,
        want_shut_down=False,
    )
    from conformance.wire import decode_response, encode_request

    frame = encode_request(request, 5)
    effects = controller.on_request(connection, frame, driver.now_ms)
    effects += controller.on_tick(driver.now_ms)
    sends = [e for e in effects if isinstance(e, Send) and e.connection_id == connection]
    assert sends, effects
    data = b"".join(bytes(c) for c in sends[0].chunks)
    answer, _ = decode_response(data[4:], codec.response_class(63, 1))
    assert answer.error_code == ErrorCode.cluster_authorization_failed
