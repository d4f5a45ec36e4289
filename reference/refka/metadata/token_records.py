"""Delegation token records (KIP-48 in KRaft, KIP-900): ``DelegationTokenRecord`` (apiKey 10)
stores one token's information (never its HMAC: every node recomputes it from
``delegation.token.secret.key``), ``RemoveDelegationTokenRecord`` (apiKey 26) deletes it; field
by field from Kafka's ``metadata/*.json`` (``refka.metadata.records`` explains the shape).
Principals are written as Kafka's ``KafkaPrincipal.toString`` (``User:alice``).

Note: no ``from __future__ import annotations`` here; kio reads the field types at runtime.
"""

from dataclasses import dataclass, field
from typing import ClassVar

from kio.static.constants import EntityType

from refka.metadata.records import API_KEYS, RECORD_TYPES, _meta


@dataclass(frozen=True, slots=True, kw_only=True)
class DelegationTokenRecord:
    """apiKey 10: a token, as created or renewed (a later record of the same id replaces it)."""

    __type__: ClassVar = EntityType.data
    __version__: ClassVar[int] = 0
    __flexible__: ClassVar[bool] = True
    owner: str = field(metadata=_meta("string"))
    requester: str = field(metadata=_meta("string"))
    renewers: tuple[str, ...] = field(metadata=_meta("string"))
    issue_timestamp: int = field(metadata=_meta("int64"))
    max_timestamp: int = field(metadata=_meta("int64"))
    expiration_timestamp: int = field(metadata=_meta("int64"))
    token_id: str = field(metadata=_meta("string"))


@dataclass(frozen=True, slots=True, kw_only=True)
class RemoveDelegationTokenRecord:
    """apiKey 26: the token ``token_id`` is expired or removed."""

    __type__: ClassVar = EntityType.data
    __version__: ClassVar[int] = 0
    __flexible__: ClassVar[bool] = True
    token_id: str = field(metadata=_meta("string"))


RECORD_TYPES.update({10: DelegationTokenRecord, 26: RemoveDelegationTokenRecord})
API_KEYS.update({cls: key for key, cls in RECORD_TYPES.items()})
