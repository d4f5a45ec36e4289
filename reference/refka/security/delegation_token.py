"""Delegation tokens (KIP-48, KIP-373): the rules every node applies, without I/O.

A token is a token id (Kafka's ``Uuid.toString``: 22 characters of URL-safe base64) and its
HMAC: HMAC-SHA512 of the token id keyed with ``delegation.token.secret.key`` (Kafka's
``DelegationTokenControlManager.createHmac``). The metadata log stores the token's information
(``DelegationTokenRecord``), never the HMAC: every node with the secret key recomputes it. A
client authenticates with SCRAM, the token id as username and the HMAC in base64 as password,
with the ``tokenauth=true`` extension; the connection then acts as the token's owner, marked
token-authenticated (it may not create, renew or expire tokens).

Who may do what (Kafka's ``ControllerApis``/``KafkaApis`` and ``DelegationTokenManager``):
renew and expire: the owner or a renewer; describe: the owner, a renewer, the requester, or
whoever may DESCRIBE the DELEGATION_TOKEN resource (the token id) or DESCRIBE_TOKENS on the
owner's USER resource; create for another owner: CREATE_TOKENS on that USER.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from refka.core.context import ANONYMOUS

if TYPE_CHECKING:
    from refka.metadata.token_records import DelegationTokenRecord


@dataclass(frozen=True, slots=True)
class TokenSettings:
    """``delegation.token.*``: the feature is on when the secret key is set (and not empty)."""

    secret_key: str | None = None
    max_lifetime_ms: int = 604_800_000  # delegation.token.max.lifetime.ms
    expiry_time_ms: int = 86_400_000  # delegation.token.expiry.time.ms
    expiry_check_interval_ms: int = 3_600_000  # delegation.token.expiry.check.interval.ms

    @property
    def enabled(self) -> bool:
        return bool(self.secret_key)

    @classmethod
    def from_config(cls, config: Any) -> TokenSettings:
        return cls(
            config.delegation_token_secret_key,
            config.delegation_token_max_lifetime_ms,
            config.delegation_token_expiry_time_ms,
            config.delegation_token_expiry_check_interval_ms,
        )


def token_id(random_bytes: bytes) -> str:
    """A token id from 16 random bytes, as Kafka's ``Uuid.toString`` writes a UUID."""
    return base64.urlsafe_b64encode(random_bytes).decode().rstrip("=")


def token_hmac(secret_key: str, token_id: str) -> bytes:
    """HMAC-SHA512 of the token id keyed with the secret key (both UTF-8)."""
    import hashlib  # on first use: not at the broker's start
    import hmac

    return hmac.new(secret_key.encode(), token_id.encode(), hashlib.sha512).digest()


def password(secret_key: str, token_id: str) -> str:
    """The SCRAM password of a token: its HMAC in base64 (``hmacAsBase64String``)."""
    return base64.b64encode(token_hmac(secret_key, token_id)).decode()


def token_for_hmac(
    tokens: Mapping[str, DelegationTokenRecord], secret_key: str, mac: bytes
) -> DelegationTokenRecord | None:
    """The token whose HMAC is ``mac`` (the renew and expire requests name a token so)."""
    import hmac

    for token in tokens.values():
        if hmac.compare_digest(token_hmac(secret_key, token.token_id), mac):
            return token
    return None


def expired(token: DelegationTokenRecord, now_ms: int) -> bool:
    """Past its expiry or its maximum lifetime (Kafka compares with ``<``: not yet at equality)."""
    return token.max_timestamp < now_ms or token.expiration_timestamp < now_ms


def owner_or_renewer(token: DelegationTokenRecord, principal: str) -> bool:
    return token.owner == principal or principal in token.renewers


def may_request_tokens(principal: str, token_authenticated: bool) -> bool:
    """Kafka's ``allowTokenRequests``: not over PLAINTEXT or one-way TLS (the principal is
    ANONYMOUS there) and not on a connection authenticated with a token."""
    return principal != ANONYMOUS and not token_authenticated


def expired_tokens(tokens: Iterable[DelegationTokenRecord], now_ms: int) -> list[str]:
    """The ids of the tokens the controller's expiry check removes."""
    return [token.token_id for token in tokens if expired(token, now_ms)]


def principal_name(principal: str) -> tuple[str, str]:
    """``User:alice`` -> (``User``, ``alice``), as ``KafkaPrincipal`` splits it."""
    kind, _, name = principal.partition(":")
    return kind, name
