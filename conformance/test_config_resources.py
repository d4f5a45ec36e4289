"""ListConfigResources (KIP-1142) and UnregisterBroker (KIP-631): answers a single broker can
give."""

from __future__ import annotations

import pytest
from kio.schema.errors import ErrorCode

from conformance.target import Target

TOPIC, BROKER, BROKER_LOGGER, CLIENT_METRICS = 2, 4, 8, 16


def listed(target: Target, *types: int) -> set[tuple[str, int]]:
    answer = target.call("ListConfigResources", 1, None, resource_types=list(types))
    assert answer.error_code == ErrorCode.none
    return {(r.resource_name, r.resource_type) for r in answer.config_resources}


@pytest.mark.api("ListConfigResources", behaviour="topics, brokers and loggers, by type")
def test_lists_topics_brokers_and_loggers(target: Target, topic: str) -> None:
    brokers = {(str(b), BROKER) for b in target.brokers()}
    assert (topic, TOPIC) in listed(target, TOPIC)
    assert {t for _, t in listed(target, TOPIC)} == {TOPIC}
    assert listed(target, BROKER) == brokers
    assert listed(target, BROKER_LOGGER) == {(str(target.node_id), BROKER_LOGGER)}
    everything = listed(target)
    assert (topic, TOPIC) in everything and brokers <= everything
    assert listed(target, TOPIC, BROKER) == listed(target, TOPIC) | brokers


@pytest.mark.api("ListConfigResources", behaviour="v0: client metrics only; an unknown type")
def test_v0_and_unknown_types(target: Target) -> None:
    assert target.call("ListConfigResources", 0, 0).config_resources == ()
    for kind in (1, 3):
        answer = target.call("ListConfigResources", 1, None, resource_types=[kind])
        assert (answer.error_code, answer.config_resources) == (ErrorCode.unsupported_version, ())


@pytest.mark.api("UnregisterBroker", behaviour="an unknown broker id: BROKER_ID_NOT_REGISTERED")
def test_unregister_unknown_broker(target: Target) -> None:
    answer = target.call("UnregisterBroker", 0, None, broker_id=7777)
    assert (answer.error_code, answer.error_message) == (
        ErrorCode.broker_id_not_registered,
        "Broker ID 7777 is not currently registered",
    )
