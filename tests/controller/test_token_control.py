"""Delegation tokens on the sans-I/O controller (KIP-48): Create, Renew and Expire arrive in an
Envelope carrying the client's principal; the records, the owner and renewer checks, and the
expiry check on the controller's timer (refka/controller/token_control.py)."""

from __future__ import annotations

import datetime
import hashlib
import hmac
from typing import Any

from controller_driver import ControllerDriver
from kio.schema.errors import ErrorCode
from refka.controller.envelope import principal_data
from refka.protocol import codec
from refka.security.delegation_token import TokenSettings

from conformance.wire import build

SECRET = "controller-secret"
ENVELOPE = 58


def enveloped(
    d: ControllerDriver, principal: str, api_key: int, version: int, **values: Any
) -> Any:
    """The inner answer to a request forwarded in an Envelope as ``principal``."""
    inner = codec.request_frame(build(api_key, version, **values), 77, "broker")
    envelope = build(
        ENVELOPE,
        0,
        request_data=inner,
        request_principal=principal_data(principal),
        client_host_address=b"\x7f\x00\x00\x01",
    )
    answer = d.call(9, envelope, codec.response_class(ENVELOPE, 0))
    if answer.error_code != ErrorCode.none:
        return answer
    return codec.decode_response(codec.response_class(api_key, version), answer.response_data)


def tokens_on(**settings: Any) -> ControllerDriver:
    return ControllerDriver(delegation_tokens=TokenSettings(SECRET, **settings))


def create(d: ControllerDriver, principal: str, renewers: tuple[str, ...] = ()) -> Any:
    return enveloped(
        d,
        principal,
        38,
        3,
        owner_principal_type=None,
        owner_principal_name=None,
        renewers=[{"principal_type": "User", "principal_name": r} for r in renewers],
        max_lifetime=datetime.timedelta(milliseconds=-1),
    )


def renew(d: ControllerDriver, principal: str, mac: bytes, period_ms: int) -> Any:
    period = datetime.timedelta(milliseconds=period_ms)
    return enveloped(d, principal, 39, 2, hmac=mac, renew_period=period)


def millis(value: datetime.datetime) -> int:
    return round(value.timestamp() * 1000)


def test_create_records_the_token_with_owner_requester_and_renewers() -> None:
    d = tokens_on(max_lifetime_ms=10_000, expiry_time_ms=4_000)
    token = create(d, "User:alice", renewers=("bob",))
    assert token.error_code == ErrorCode.none
    assert (token.principal_name, token.token_requester_principal_name) == ("alice", "alice")
    assert token.hmac == hmac.new(SECRET.encode(), token.token_id.encode(), hashlib.sha512).digest()
    record = d.image.tokens[token.token_id]
    assert (record.owner, record.requester, record.renewers) == (
        "User:alice",
        "User:alice",
        ("User:bob",),
    )
    assert record.issue_timestamp == d.now_ms == millis(token.issue_timestamp)
    assert record.expiration_timestamp == d.now_ms + 4_000 == millis(token.expiry_timestamp)
    assert record.max_timestamp == d.now_ms + 10_000 == millis(token.max_timestamp)


def test_renew_by_owner_or_renewer_only_and_never_past_the_max() -> None:
    d = tokens_on(max_lifetime_ms=10_000, expiry_time_ms=4_000)
    token = create(d, "User:alice", renewers=("bob",))
    issued = d.now_ms
    assert (
        renew(d, "User:carol", token.hmac, 1_000).error_code
        == ErrorCode.delegation_token_owner_mismatch
    )
    assert (
        renew(d, "User:bob", b"\x00" * 64, 1_000).error_code == ErrorCode.delegation_token_not_found
    )
    d.tick(3_000)
    renewed = renew(d, "User:bob", token.hmac, 1_000_000)  # capped by expiry.time.ms
    assert renewed.error_code == ErrorCode.none
    assert millis(renewed.expiry_timestamp) == issued + 3_000 + 4_000
    d.tick(4_000)
    renewed = renew(d, "User:alice", token.hmac, -1)  # capped by the max timestamp
    assert millis(renewed.expiry_timestamp) == issued + 10_000
    assert d.image.tokens[token.token_id].expiration_timestamp == issued + 10_000
    d.tick(3_001)
    assert renew(d, "User:alice", token.hmac, -1).error_code == ErrorCode.delegation_token_expired


def test_expire_at_once_removes_the_token() -> None:
    d = tokens_on()
    token = create(d, "User:alice")
    inner = codec.request_frame(
        build(40, 2, hmac=token.hmac, expiry_time_period=datetime.timedelta(milliseconds=-1)),
        5,
        None,
    )
    envelope = build(
        ENVELOPE, 0, request_data=inner, request_principal=principal_data("User:alice"),
        client_host_address=b"",
    )  # fmt: skip
    answer = d.call(9, envelope, codec.response_class(ENVELOPE, 0))
    body = answer.response_data[5:]  # after the flexible response header
    assert int.from_bytes(body[:2], "big") == 0
    assert int.from_bytes(body[2:10], "big", signed=True) == -1  # the period, as Kafka answers
    assert token.token_id not in d.image.tokens
    assert renew(d, "User:alice", token.hmac, -1).error_code == ErrorCode.delegation_token_not_found


def test_the_expiry_check_removes_expired_tokens_on_its_interval() -> None:
    d = tokens_on(expiry_time_ms=1_000, expiry_check_interval_ms=5_000)
    token = create(d, "User:alice")
    d.tick(2_000)
    assert token.token_id in d.image.tokens  # expired, but the check has not run yet
    d.tick(3_000)
    assert token.token_id not in d.image.tokens


def test_without_a_secret_key_tokens_are_disabled() -> None:
    d = ControllerDriver()
    assert create(d, "User:alice").error_code == ErrorCode.delegation_token_auth_disabled
    assert renew(d, "User:alice", b"x", -1).error_code == ErrorCode.delegation_token_auth_disabled


def test_an_envelope_around_another_api_is_an_invalid_request() -> None:
    d = tokens_on()
    answer = enveloped(d, "User:alice", 3, 12, topics=None, allow_auto_topic_creation=False)
    assert answer.error_code == ErrorCode.invalid_request
