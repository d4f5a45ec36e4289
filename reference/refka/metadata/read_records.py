"""The metadata records refka reads but its controller does not write: Kafka's controller
writes them (a broker unregistered or fenced by its own record, KIP-835's no-ops, KIP-919's
controller registrations and their removal), so they appear in a log Kafka wrote. Declared as
``refka.metadata.records`` declares the others.

Their own module so that a broker's start does not build them (issue 15); ``record_class``
loads this module on the first record of one of these types, and the classes register
themselves below.

Note: no ``from __future__ import annotations`` here; kio reads the field types at runtime.
"""

import uuid
from dataclasses import dataclass, field
from typing import ClassVar

from kio.static.constants import EntityType

from refka.metadata.records import API_KEYS, RECORD_TYPES, BrokerFeature, _entities, _f, _meta


@dataclass(frozen=True, slots=True, kw_only=True)
class UnregisterBrokerRecord:
    """apiKey 1: a broker's registration is removed."""

    __type__: ClassVar = EntityType.data
    __version__: ClassVar[int] = 0
    __flexible__: ClassVar[bool] = True
    broker_id: int = field(metadata=_meta("int32"))
    broker_epoch: int = field(metadata=_meta("int64"))


@dataclass(frozen=True, slots=True, kw_only=True)
class FenceBrokerRecord:
    """apiKey 7: fence broker ``id`` (it leaves every ISR)."""

    __type__: ClassVar = EntityType.data
    __version__: ClassVar[int] = 0
    __flexible__: ClassVar[bool] = True
    id: int = field(metadata=_meta("int32"))
    epoch: int = field(metadata=_meta("int64"))


@dataclass(frozen=True, slots=True, kw_only=True)
class UnfenceBrokerRecord:
    """apiKey 8: unfence broker ``id``."""

    __type__: ClassVar = EntityType.data
    __version__: ClassVar[int] = 0
    __flexible__: ClassVar[bool] = True
    id: int = field(metadata=_meta("int32"))
    epoch: int = field(metadata=_meta("int64"))


@dataclass(frozen=True, slots=True, kw_only=True)
class ControllerEndpoint:
    __type__: ClassVar = EntityType.nested
    __version__: ClassVar[int] = 0
    __flexible__: ClassVar[bool] = True
    name: str = field(metadata=_meta("string"))
    host: str = field(metadata=_meta("string"))
    port: int = field(metadata=_meta("uint16"))
    security_protocol: int = _f("int16", 0)


@dataclass(frozen=True, slots=True, kw_only=True)
class RegisterControllerRecord:
    """apiKey 27: a controller registered (KIP-919)."""

    __type__: ClassVar = EntityType.data
    __version__: ClassVar[int] = 0
    __flexible__: ClassVar[bool] = True
    controller_id: int = field(metadata=_meta("int32"))
    incarnation_id: uuid.UUID = field(metadata=_meta("uuid"))
    zk_migration_ready: bool = _f("bool", False)
    end_points: tuple[ControllerEndpoint, ...] = _entities()
    features: tuple[BrokerFeature, ...] = _entities()


@dataclass(frozen=True, slots=True, kw_only=True)
class UnregisterControllerRecord:
    """apiKey 29: a controller's registration is removed (KIP-853 UnregisterController)."""

    __type__: ClassVar = EntityType.data
    __version__: ClassVar[int] = 0
    __flexible__: ClassVar[bool] = True
    controller_id: int = field(metadata=_meta("int32"))


@dataclass(frozen=True, slots=True, kw_only=True)
class NoOpRecord:
    """apiKey 20: advances the log (and the high watermark) with no change (KIP-835)."""

    __type__: ClassVar = EntityType.data
    __version__: ClassVar[int] = 0
    __flexible__: ClassVar[bool] = True


RECORD_TYPES.update(
    {
        1: UnregisterBrokerRecord,
        7: FenceBrokerRecord,
        8: UnfenceBrokerRecord,
        20: NoOpRecord,
        27: RegisterControllerRecord,
        29: UnregisterControllerRecord,
    }
)
API_KEYS.update({cls: key for key, cls in RECORD_TYPES.items()})
