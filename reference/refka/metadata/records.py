"""Kafka's KRaft metadata records (KIP-500, KIP-631; ELR fields of KIP-966), as kio entities.

Each class is declared at the latest version Kafka 4.4 knows, field by field from Kafka's
schemas (``metadata/src/main/resources/common/metadata/*.json``), in the shape kio generates
(``__type__``/``__version__``/``__flexible__``, ``kafka_type`` and ``tag`` in each field's
metadata) so that kio's own serializer writes the bytes Kafka writes. Integer fields are typed
``int`` rather than kio's ``i32``/``i64`` so callers need no casts; the ``kafka_type`` decides
the encoding. A field added after version 0 carries ``since`` in its metadata:
``record_class(api_key, version)`` derives each older version from the latest class by dropping
the fields that version lacks, so a log Kafka wrote at an older ``metadata.version`` decodes.

A record value in the metadata log is framed as Kafka's ``MetadataRecordSerde`` (an
``AbstractApiMessageSerde``) frames it: ``uvarint frame_version (1) | uvarint api_key |
uvarint version | body``; ``encode_record`` and ``decode_record`` do that.

Note: no ``from __future__ import annotations`` here; kio reads the field types at runtime.
"""

import importlib
import io
import uuid
from dataclasses import dataclass, field, fields, make_dataclass
from typing import TYPE_CHECKING, Any, ClassVar, TypeAlias

from kio.serial import entity_reader, entity_writer
from kio.static.constants import EntityType

from refka.protocol.varint import decode_uvarint, encode_uvarint

if TYPE_CHECKING:
    from refka.metadata.acl_records import AccessControlEntryRecord, RemoveAccessControlEntryRecord
    from refka.metadata.quota_records import ClientQuotaRecord
    from refka.metadata.read_records import (
        FenceBrokerRecord,
        NoOpRecord,
        RegisterControllerRecord,
        UnfenceBrokerRecord,
        UnregisterBrokerRecord,
        UnregisterControllerRecord,
    )
    from refka.metadata.scram_records import (
        RemoveUserScramCredentialRecord,
        UserScramCredentialRecord,
    )
    from refka.metadata.token_records import DelegationTokenRecord, RemoveDelegationTokenRecord
    from refka.metadata.topic_records import (
        ClearElrRecord,
        ConfigRecord,
        PartitionChangeRecord,
        PartitionRecord,
        ProducerIdsRecord,
        RemoveTopicRecord,
        TopicRecord,
    )

FRAME_VERSION = 1


def _meta(kafka_type: str, *, tag: int | None = None, since: int = 0) -> dict[str, Any]:
    """Field metadata as kio reads it, plus ``since``: the first version with the field."""
    meta: dict[str, Any] = {"kafka_type": kafka_type, "since": since}
    if tag is not None:
        meta["tag"] = tag
    return meta


def _f(kafka_type: str, default: Any, *, tag: int | None = None, since: int = 0) -> Any:
    """A field of Kafka type ``kafka_type`` with a default; ``tag`` if tagged (KIP-482)."""
    return field(metadata=_meta(kafka_type, tag=tag, since=since), default=default)


def _entities(since: int = 0) -> Any:
    return field(metadata={"since": since}, default=())


# -- brokers (KIP-631) -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class BrokerEndpoint:
    """A listener of a ``RegisterBrokerRecord``."""

    __type__: ClassVar = EntityType.nested
    __version__: ClassVar[int] = 0
    __flexible__: ClassVar[bool] = True
    name: str = field(metadata=_meta("string"))
    host: str = field(metadata=_meta("string"))
    port: int = field(metadata=_meta("uint16"))
    security_protocol: int = _f("int16", 0)  # 0 PLAINTEXT, 1 SSL, 2 SASL_PLAINTEXT, 3 SASL_SSL


@dataclass(frozen=True, slots=True, kw_only=True)
class BrokerFeature:
    """A feature range a ``RegisterBrokerRecord`` supports."""

    __type__: ClassVar = EntityType.nested
    __version__: ClassVar[int] = 0
    __flexible__: ClassVar[bool] = True
    name: str = field(metadata=_meta("string"))
    min_supported_version: int = field(metadata=_meta("int16"))
    max_supported_version: int = field(metadata=_meta("int16"))


@dataclass(frozen=True, slots=True, kw_only=True)
class RegisterBrokerRecord:
    """apiKey 0: a broker registered; its epoch is the offset of this record."""

    __type__: ClassVar = EntityType.data
    __version__: ClassVar[int] = 4
    __flexible__: ClassVar[bool] = True
    broker_id: int = field(metadata=_meta("int32"))
    is_migrating_zk_broker: bool = _f("bool", False, since=2)
    incarnation_id: uuid.UUID = field(metadata=_meta("uuid"))
    broker_epoch: int = field(metadata=_meta("int64"))
    end_points: tuple[BrokerEndpoint, ...] = _entities()
    features: tuple[BrokerFeature, ...] = _entities()
    rack: str | None = _f("string", None)
    fenced: bool = _f("bool", True)
    in_controlled_shutdown: bool = _f("bool", False, since=1)
    log_dirs: tuple[uuid.UUID, ...] = _f("uuid", (), tag=0, since=3)
    cordoned_log_dirs: tuple[uuid.UUID, ...] | None = _f("uuid", None, tag=1, since=4)


@dataclass(frozen=True, slots=True, kw_only=True)
class BrokerRegistrationChangeRecord:
    """apiKey 17: ``fenced`` -1 unfenced, 0 no change, 1 fenced; ``in_controlled_shutdown``
    0 no change, 1 now in controlled shutdown."""

    __type__: ClassVar = EntityType.data
    __version__: ClassVar[int] = 3
    __flexible__: ClassVar[bool] = True
    broker_id: int = field(metadata=_meta("int32"))
    broker_epoch: int = field(metadata=_meta("int64"))
    fenced: int = _f("int8", 0, tag=0)
    in_controlled_shutdown: int = _f("int8", 0, tag=1, since=1)
    log_dirs: tuple[uuid.UUID, ...] = _f("uuid", (), tag=2, since=2)
    cordoned_log_dirs: tuple[uuid.UUID, ...] | None = _f("uuid", None, tag=3, since=3)


NO_LEADER = -1
NO_LEADER_CHANGE = -2


# -- configs, features, producer ids, no-ops -------------------------------------------------

TOPIC_RESOURCE = 2
BROKER_RESOURCE = 4


@dataclass(frozen=True, slots=True, kw_only=True)
class FeatureLevelRecord:
    """apiKey 12: a finalized feature level (``metadata.version``, KIP-778/KIP-584)."""

    __type__: ClassVar = EntityType.data
    __version__: ClassVar[int] = 0
    __flexible__: ClassVar[bool] = True
    name: str = field(metadata=_meta("string"))
    feature_level: int = field(metadata=_meta("int16"))


RECORD_TYPES: dict[int, type[Any]] = {
    0: RegisterBrokerRecord,
    12: FeatureLevelRecord,
    17: BrokerRegistrationChangeRecord,
}
"""api key -> the latest class; ``record_class(api_key, version)`` gives older versions. The
types of ``LAZY_RECORD_MODULES`` join when their module is loaded."""

LAZY_RECORD_MODULES: dict[int, str] = {
    # Topic, Partition, Config, PartitionChange, RemoveTopic, ProducerIds, ClearElr
    **dict.fromkeys((2, 3, 4, 5, 9, 15, 28), "refka.metadata.topic_records"),
    # UnregisterBroker, FenceBroker, UnfenceBroker, NoOp, RegisterController,
    # UnregisterController
    **dict.fromkeys((1, 7, 8, 20, 27, 29), "refka.metadata.read_records"),
    # AccessControlEntry, RemoveAccessControlEntry
    **dict.fromkeys((18, 19), "refka.metadata.acl_records"),
    # UserScramCredential, RemoveUserScramCredential
    **dict.fromkeys((11, 22), "refka.metadata.scram_records"),
    14: "refka.metadata.quota_records",  # ClientQuota
    # DelegationToken, RemoveDelegationToken
    **dict.fromkeys((10, 26), "refka.metadata.token_records"),
}
"""api key -> the module declaring it, loaded on the first record of that type (issue 15)."""

API_KEYS: dict[type[Any], int] = {cls: key for key, cls in RECORD_TYPES.items()}

MetadataRecord: TypeAlias = (
    "RegisterBrokerRecord | UnregisterBrokerRecord | TopicRecord | PartitionRecord"
    " | ConfigRecord | PartitionChangeRecord | FenceBrokerRecord | UnfenceBrokerRecord"
    " | RemoveTopicRecord | FeatureLevelRecord | ProducerIdsRecord"
    " | BrokerRegistrationChangeRecord | NoOpRecord | RegisterControllerRecord | ClearElrRecord"
    " | UnregisterControllerRecord"
    " | AccessControlEntryRecord | RemoveAccessControlEntryRecord"
    " | UserScramCredentialRecord | RemoveUserScramCredentialRecord"
    " | ClientQuotaRecord"
    " | DelegationTokenRecord | RemoveDelegationTokenRecord"
)


def all_record_types() -> dict[int, type[Any]]:
    """``RECORD_TYPES`` with every lazily loaded module's records in it."""
    for module in set(LAZY_RECORD_MODULES.values()):
        importlib.import_module(module)  # registers its classes
    return RECORD_TYPES


class MetadataRecordError(ValueError):
    """Bytes that are not a framed metadata record this codec knows."""


def record_class(api_key: int, version: int) -> type[Any]:
    """The entity class of ``api_key`` at ``version`` (the latest class, or one derived)."""
    if api_key in LAZY_RECORD_MODULES and api_key not in RECORD_TYPES:
        importlib.import_module(LAZY_RECORD_MODULES[api_key])  # registers its classes
    latest = RECORD_TYPES.get(api_key)
    if latest is None:
        raise MetadataRecordError(f"unknown metadata record type {api_key}")
    if not 0 <= version <= latest.__version__:
        raise MetadataRecordError(f"{latest.__name__} has no version {version}")
    return latest if version == latest.__version__ else _older(latest, version)


_OLDER: dict[tuple[type[Any], int], type[Any]] = {}


def _older(latest: type[Any], version: int) -> type[Any]:
    """``latest`` without the fields added after ``version`` (made once, then cached)."""
    if (latest, version) in _OLDER:
        return _OLDER[latest, version]
    kept = [
        (f.name, f.type, field(metadata=f.metadata, default=f.default))
        for f in fields(latest)
        if f.metadata.get("since", 0) <= version
    ]
    namespace = {"__type__": EntityType.data, "__version__": version, "__flexible__": True}
    older = make_dataclass(
        f"{latest.__name__}V{version}",
        kept,
        namespace=namespace,
        frozen=True,
        slots=True,
        kw_only=True,
    )
    _OLDER[latest, version] = older
    return older


def encode_record(record: MetadataRecord, version: int | None = None) -> bytes:
    """The framed bytes of ``record`` at ``version`` (default: the latest), as Kafka writes
    them. Like Kafka's generated ``write``, refuses a non-default value in a field the chosen
    version does not have."""
    latest = type(record)
    api_key = API_KEYS[latest]
    version = latest.__version__ if version is None else version
    cls = record_class(api_key, version)
    entity: Any = record
    if cls is not latest:
        names = {f.name for f in fields(cls)}
        for f in fields(latest):
            if f.name not in names and getattr(record, f.name) != f.default:
                raise MetadataRecordError(
                    f"{latest.__name__} v{version} cannot hold {f.name}={getattr(record, f.name)!r}"
                )
        entity = cls(**{name: getattr(record, name) for name in names})
    buffer = io.BytesIO()
    buffer.write(encode_uvarint(FRAME_VERSION) + encode_uvarint(api_key) + encode_uvarint(version))
    entity_writer(cls)(buffer, entity)
    return buffer.getvalue()


def decode_record(data: bytes | bytearray | memoryview) -> MetadataRecord:
    """The record framed in ``data``, as an instance of the latest class of its type."""
    data = bytes(data)
    try:
        frame_version, pos = decode_uvarint(data, 0)
        api_key, pos = decode_uvarint(data, pos)
        version, pos = decode_uvarint(data, pos)
    except ValueError as e:
        raise MetadataRecordError(f"bad record frame: {e}") from e
    if frame_version != FRAME_VERSION:
        raise MetadataRecordError(f"unsupported frame version {frame_version}")
    cls = record_class(api_key, version)
    try:
        entity, size = entity_reader(cls)(data, pos)  # the size read from ``pos``
    except Exception as e:  # the native reader raises several kinds on malformed bytes
        raise MetadataRecordError(f"malformed {cls.__name__}: {e}") from e
    if pos + size != len(data):
        raise MetadataRecordError(f"{len(data) - pos - size} bytes left after {cls.__name__}")
    latest = RECORD_TYPES[api_key]
    if cls is latest:
        return entity  # type: ignore[no-any-return]
    return latest(**{f.name: getattr(entity, f.name) for f in fields(cls)})  # type: ignore[no-any-return]
