"""The SASL state machines without sockets: JAAS parsing, PLAIN, SCRAM (RFC 5802 with a small
client written here), and a connection's session (handshake, failure, KIP-368 expiry and
re-authentication)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import pytest
from refka.security.jaas import JaasError, parse_jaas_config
from refka.security.mechanism import SaslFailure
from refka.security.plain import PlainServer, plain_users
from refka.security.scram import (
    ScramCredential,
    ScramMechanism,
    ScramServer,
    make_credential,
    salted_password,
)
from refka.security.session import (
    ILLEGAL_SASL_STATE,
    SASL_AUTHENTICATION_FAILED,
    UNSUPPORTED_SASL_MECHANISM,
    SaslSession,
    State,
)

JAAS = (
    "org.apache.kafka.common.security.plain.PlainLoginModule required "
    'username="admin" password="admin-secret" user_admin="admin-secret" user_alice="alice-secret";'
)
SALT = b"0123456789abcdef"


def test_jaas_config_as_kafka_writes_it() -> None:
    entry = parse_jaas_config(JAAS)
    assert entry.login_module == "org.apache.kafka.common.security.plain.PlainLoginModule"
    assert entry.flag == "required"
    assert plain_users(entry.options) == {"admin": "admin-secret", "alice": "alice-secret"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "does not contain any login modules"),
        ('M required a="b"', "not terminated by semi-colon"),
        ('M always a="b";', "control flag"),
        ("M required a;", "Value not specified"),
        ("M required; N required;", "should be 1 module"),
    ],
)
def test_jaas_config_refused_as_kafka(text: str, message: str) -> None:
    with pytest.raises(JaasError, match=message):
        parse_jaas_config(text)


def test_plain_accepts_a_jaas_user_and_refuses_a_wrong_password() -> None:
    server = PlainServer({"alice": "alice-secret"})
    assert server.evaluate(b"\x00alice\x00alice-secret").done
    assert server.authorization_id == "alice"
    with pytest.raises(SaslFailure, match="Invalid username or password") as failure:
        PlainServer({"alice": "alice-secret"}).evaluate(b"\x00alice\x00wrong")
    assert failure.value.client
    with pytest.raises(SaslFailure, match="authorization id that is different"):
        PlainServer({"alice": "alice-secret"}).evaluate(b"bob\x00alice\x00alice-secret")


def _client_exchange(
    server: ScramServer, mechanism: ScramMechanism, user: str, password: str, extra: str = ""
) -> bytes:
    """An RFC 5802 client run against ``server``; returns the server's final message."""
    bare = f"n={user},r=clientnonce{extra}"
    first = server.evaluate(f"n,,{bare}".encode()).token.decode()
    fields = dict(f.split("=", 1) for f in first.split(","))
    assert fields["r"].startswith("clientnonce")
    salted = salted_password(mechanism, password, base64.b64decode(fields["s"]), int(fields["i"]))
    without_proof = f"c=biws,r={fields['r']}"
    auth_message = f"{bare},{first},{without_proof}".encode()
    h = mechanism.hash_name
    client_key = hmac.new(salted, b"Client Key", h).digest()
    signature = hmac.new(hashlib.new(h, client_key).digest(), auth_message, h).digest()
    proof = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
    step = server.evaluate(f"{without_proof},p={base64.b64encode(proof).decode()}".encode())
    assert step.done
    server_key = hmac.new(salted, b"Server Key", h).digest()
    assert step.token == b"v=" + base64.b64encode(hmac.new(server_key, auth_message, h).digest())
    return step.token


def _credentials(mechanism: ScramMechanism, password: str) -> dict[str, ScramCredential]:
    salted = salted_password(mechanism, password, SALT, 4096)
    return {"bob": make_credential(mechanism, salted, SALT, 4096)}


@pytest.mark.parametrize("mechanism", [ScramMechanism.SCRAM_SHA_256, ScramMechanism.SCRAM_SHA_512])
def test_scram_exchange_with_the_right_password(mechanism: ScramMechanism) -> None:
    creds = _credentials(mechanism, "bob-secret")
    server = ScramServer(mechanism, lambda user, _m: creds.get(user), lambda: "servernonce")
    _client_exchange(server, mechanism, "bob", "bob-secret")
    assert server.complete and server.authorization_id == "bob"


@pytest.mark.parametrize("mechanism", [ScramMechanism.SCRAM_SHA_256, ScramMechanism.SCRAM_SHA_512])
def test_scram_refuses_a_wrong_password_an_unknown_user_and_tokenauth(
    mechanism: ScramMechanism,
) -> None:
    creds = _credentials(mechanism, "bob-secret")

    def server() -> ScramServer:
        return ScramServer(mechanism, lambda user, _m: creds.get(user), lambda: "n")

    with pytest.raises(SaslFailure, match="Invalid client credentials"):
        _client_exchange(server(), mechanism, "bob", "wrong")
    with pytest.raises(SaslFailure, match="Invalid user credentials"):
        _client_exchange(server(), mechanism, "nobody", "bob-secret")
    with pytest.raises(SaslFailure, match="Token Authentication failed"):
        _client_exchange(server(), mechanism, "bob", "bob-secret", extra=",tokenauth=true")
    with pytest.raises(SaslFailure, match="client first message format"):
        server().evaluate(b"p=tls-unique,,n=bob,r=x")


def _plain_session(max_reauth_ms: int = 0) -> SaslSession:
    return SaslSession(("PLAIN",), lambda _m: PlainServer({"alice": "alice-secret"}), max_reauth_ms)


def test_only_api_versions_and_the_handshake_before_authentication() -> None:
    session = _plain_session()
    assert session.admit(18, 0) is None
    assert session.admit(17, 0) is None
    metadata = session.admit(3, 0)  # Metadata: closed, unanswered
    assert metadata is not None and "during SASL handshake" in metadata.reason
    assert metadata.error_code is None
    authenticate = session.admit(36, 0)
    assert authenticate is not None and "during SASL handshake" in authenticate.reason
    assert session.handshake("PLAIN").error_code == 0
    produce = session.admit(0, 0)  # Produce: answered ILLEGAL_SASL_STATE, then closed
    assert produce is not None and "during SASL authentication" in produce.reason
    assert produce.error_code == ILLEGAL_SASL_STATE


def test_unsupported_mechanism_lists_the_enabled_ones_and_closes() -> None:
    answer = _plain_session().handshake("SCRAM-SHA-256")
    assert (answer.error_code, answer.mechanisms, answer.close) == (
        UNSUPPORTED_SASL_MECHANISM,
        ("PLAIN",),
        True,
    )


def test_failed_authentication_answers_and_closes() -> None:
    session = _plain_session()
    session.handshake("PLAIN")
    answer = session.authenticate(b"\x00alice\x00wrong", 0)
    assert answer.error_code == SASL_AUTHENTICATION_FAILED and answer.close
    assert answer.error_message == "Authentication failed: Invalid username or password"
    assert session.state is State.FAILED and session.admit(3, 0) is not None


def test_session_expires_and_reauthentication_renews_it() -> None:
    session = _plain_session(max_reauth_ms=1000)
    session.handshake("PLAIN")
    answer = session.authenticate(b"\x00alice\x00alice-secret", 5000)
    assert (answer.principal, answer.session_lifetime_ms) == ("User:alice", 1000)
    assert session.admit(3, 5999) is None
    expired = session.admit(3, 6000)
    assert expired is not None and "expired" in expired.reason
    assert session.admit(17, 6000) is None  # a handshake starts re-authentication
    assert session.handshake("PLAIN").error_code == 0
    assert session.authenticate(b"\x00alice\x00alice-secret", 6000).principal == "User:alice"
    assert session.admit(3, 6500) is None


def test_reauthentication_may_not_change_the_principal_or_mechanism() -> None:
    session = SaslSession(("PLAIN",), lambda _m: PlainServer({"alice": "a", "bob": "b"}), 1000)
    session.handshake("PLAIN")
    session.authenticate(b"\x00alice\x00a", 0)
    session.handshake("PLAIN")
    answer = session.authenticate(b"\x00bob\x00b", 10)
    assert answer.error_code == SASL_AUTHENTICATION_FAILED and answer.close
    assert "Cannot change principals" in (answer.error_message or "")


def test_authenticate_after_success_is_an_illegal_state() -> None:
    session = _plain_session()
    session.handshake("PLAIN")
    session.authenticate(b"\x00alice\x00alice-secret", 0)
    assert session.authenticate(b"", 0).error_code == ILLEGAL_SASL_STATE


def test_scram_credentials_live_in_the_metadata_image() -> None:
    from refka.metadata.image import MetadataImage
    from refka.metadata.records import decode_record, encode_record
    from refka.metadata.scram_records import (
        RemoveUserScramCredentialRecord,
        UserScramCredentialRecord,
    )

    cred = _credentials(ScramMechanism.SCRAM_SHA_512, "pw")["bob"]
    record = UserScramCredentialRecord(
        name="bob",
        mechanism=2,
        salt=cred.salt,
        stored_key=cred.stored_key,
        server_key=cred.server_key,
        iterations=4096,
    )
    assert encode_record(record)[:3] == b"\x01\x0b\x00"  # frame version 1, apiKey 11, v0
    assert decode_record(encode_record(record)) == record
    image, _ = MetadataImage.empty("c").apply(0, [record])
    assert image.scram_credential("bob", ScramMechanism.SCRAM_SHA_512) == cred
    assert image.scram_credential("bob", ScramMechanism.SCRAM_SHA_256) is None
    assert record in image.to_records()
    image, _ = image.apply(1, [RemoveUserScramCredentialRecord(name="bob", mechanism=2)])
    assert image.scram_credential("bob", ScramMechanism.SCRAM_SHA_512) is None


def _respond(frame: bytes, session: SaslSession) -> bytes:
    """What a broker answers ``frame`` (a SaslHandshake v1 or SaslAuthenticate v2 request)."""
    from kio.schema.errors import ErrorCode
    from refka.protocol import codec, framing

    header, offset = framing.parse_request_header(frame)
    request, _ = codec.decode(
        codec.request_class(header.api_key, header.api_version), frame, offset
    )
    m = codec.response_module(header.api_key, header.api_version)
    if header.api_key == 17:
        answer = session.handshake(request.mechanism)
        response = m.SaslHandshakeResponse(
            error_code=ErrorCode(answer.error_code), mechanisms=answer.mechanisms
        )
    else:
        auth = session.authenticate(request.auth_bytes, 0)
        response = m.SaslAuthenticateResponse(
            error_code=ErrorCode(auth.error_code),
            error_message=auth.error_message,
            auth_bytes=auth.token,
            session_lifetime=codec.millis(0),
        )
    body = codec.encode(response)
    flexible = codec.is_flexible(header.api_key, header.api_version)
    return codec.response_header(header.correlation_id, flexible, len(body))[4:] + body


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
@pytest.mark.parametrize("password", ["right", "wrong"])
def test_the_outbound_client_against_a_session(mechanism: str, password: str) -> None:
    from refka.security.client import ClientCredentials, SaslClient

    scram = ScramMechanism.from_name(mechanism)
    creds = _credentials(scram, "right") if scram is not None else {}

    def server(name: str) -> Any:
        if scram is None:
            return PlainServer({"bob": "right"})
        return ScramServer(scram, lambda user, _m: creds.get(user), lambda: "snonce")

    session = SaslSession((mechanism,), server, 0)
    client = SaslClient(ClientCredentials(mechanism, "bob", password), "cnonce", "broker-1")
    frames = [client.start()]
    try:
        while frames:
            frames = [f for frame in frames for f in client.on_frame(_respond(frame, session))]
    except SaslFailure:
        assert password == "wrong"
        return
    assert password == "right" and client.done and session.principal == "User:bob"


def test_handshake_v0_takes_raw_tokens_until_authenticated() -> None:
    session = _plain_session()
    assert session.handshake("PLAIN", version=0).error_code == 0 and session.raw_tokens
    assert session.raw_token(b"\x00alice\x00alice-secret", 0) == b""
    assert not session.raw_tokens and session.principal == "User:alice"
    failing = _plain_session()
    failing.handshake("PLAIN", version=0)
    assert failing.raw_token(b"\x00alice\x00wrong", 0) is None  # no framing: just close


def test_a_scram_exchange_takes_no_message_after_it_ended() -> None:
    mechanism = ScramMechanism.SCRAM_SHA_256
    creds = _credentials(mechanism, "pw")
    server = ScramServer(mechanism, lambda user, _m: creds.get(user), lambda: "s")
    _client_exchange(server, mechanism, "bob", "pw")
    with pytest.raises(SaslFailure, match="Unexpected SASL request in state COMPLETE"):
        server.evaluate(b"c=biws,r=x,p=y")


def test_a_failed_connection_closes_after_the_delay() -> None:
    """``connection.failed.authentication.delay.ms`` (KIP-306): the answer leaves at once, the
    close waits; any request meanwhile closes it at once."""
    from refka.security.authenticator import ListenerSasl, SaslAuthenticator

    sasl = SaslAuthenticator(
        {"SASL": ListenerSasl(("PLAIN",), {"alice": "pw"})}, lambda u, m: None, lambda: "n", 100
    )
    sasl.on_connect(7, "sasl")
    sasl.handshake(7, "PLAIN", 1, 1000)
    answer = sasl.authenticate(7, b"\x00alice\x00wrong", 1000)
    assert answer.error_code == SASL_AUTHENTICATION_FAILED
    assert sasl.closing(7) is None and sasl.next_deadline_ms() == 1100
    assert sasl.due_closes(1099) == []
    assert sasl.admit(7, 3, 1050) is not None  # a request meanwhile: closed now
    assert [c for c, _ in sasl.due_closes(1100)] == [7] and sasl.next_deadline_ms() is None
