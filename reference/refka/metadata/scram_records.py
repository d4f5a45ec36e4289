"""SCRAM credential records (KIP-554): ``UserScramCredentialRecord`` (apiKey 11) stores one
user's credential for one mechanism, ``RemoveUserScramCredentialRecord`` (apiKey 22) deletes
it; field by field from Kafka's ``metadata/*.json`` (``refka.metadata.records`` explains the
shape). Mechanism: 1 SCRAM-SHA-256, 2 SCRAM-SHA-512 (``refka.security.scram.ScramMechanism``).

Note: no ``from __future__ import annotations`` here; kio reads the field types at runtime.
"""

from dataclasses import dataclass, field
from typing import ClassVar

from kio.static.constants import EntityType

from refka.metadata.records import API_KEYS, RECORD_TYPES, _meta


@dataclass(frozen=True, slots=True, kw_only=True)
class UserScramCredentialRecord:
    """apiKey 11: ``name``'s SCRAM credential for ``mechanism``."""

    __type__: ClassVar = EntityType.data
    __version__: ClassVar[int] = 0
    __flexible__: ClassVar[bool] = True
    name: str = field(metadata=_meta("string"))
    mechanism: int = field(metadata=_meta("int8"))
    salt: bytes = field(metadata=_meta("bytes"))
    stored_key: bytes = field(metadata=_meta("bytes"))
    server_key: bytes = field(metadata=_meta("bytes"))
    iterations: int = field(metadata=_meta("int32"))


@dataclass(frozen=True, slots=True, kw_only=True)
class RemoveUserScramCredentialRecord:
    """apiKey 22: ``name``'s SCRAM credential for ``mechanism`` is deleted."""

    __type__: ClassVar = EntityType.data
    __version__: ClassVar[int] = 0
    __flexible__: ClassVar[bool] = True
    name: str = field(metadata=_meta("string"))
    mechanism: int = field(metadata=_meta("int8"))


RECORD_TYPES.update({11: UserScramCredentialRecord, 22: RemoveUserScramCredentialRecord})
API_KEYS.update({cls: key for key, cls in RECORD_TYPES.items()})
