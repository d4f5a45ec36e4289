"""Every response kio knows can be built from its schema alone with an error code, and encodes
(what a request refused during SASL authentication is answered with)."""

from __future__ import annotations

from refka.protocol import codec
from refka.protocol.error_response import error_response

ILLEGAL_SASL_STATE = 34


def test_every_known_response_builds_and_encodes() -> None:
    built = 0
    for api_key in range(100):
        for version in range(20):
            try:
                codec.response_class(api_key, version)
            except Exception:
                continue
            codec.encode(error_response(api_key, version, ILLEGAL_SASL_STATE))
            built += 1
    assert built > 250


def test_metadata_error_response_is_kafkas() -> None:
    """Kafka's bytes for Metadata v12: no brokers, null cluster id, controller -1, no topics."""
    body = codec.encode(error_response(3, 12, ILLEGAL_SASL_STATE))
    assert body == bytes.fromhex("000000000100ffffffff0100")
    assert error_response(17, 1, ILLEGAL_SASL_STATE).error_code == ILLEGAL_SASL_STATE
