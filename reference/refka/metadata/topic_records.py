"""The metadata records of topics, partitions, configs and producer ids (KIP-500, KIP-631;
ELR fields of KIP-966), declared as ``refka.metadata.records`` declares the broker records.

Their own module so that a broker's start, whose log holds only registrations and features
until the first topic, does not build them (issue 15); ``record_class`` loads this module on
the first record of one of these types, and the classes register themselves below.

Note: no ``from __future__ import annotations`` here; kio reads the field types at runtime.
"""

import uuid
from dataclasses import dataclass, field
from typing import ClassVar

from kio.static.constants import EntityType

from refka.metadata.records import (
    API_KEYS,
    NO_LEADER_CHANGE,
    RECORD_TYPES,
    _f,
    _meta,
)

# -- topics and partitions -------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class TopicRecord:
    """apiKey 2: a topic was created."""

    __type__: ClassVar = EntityType.data
    __version__: ClassVar[int] = 0
    __flexible__: ClassVar[bool] = True
    name: str = field(metadata=_meta("string"))
    topic_id: uuid.UUID = field(metadata=_meta("uuid"))


@dataclass(frozen=True, slots=True, kw_only=True)
class PartitionRecord:
    """apiKey 3: a partition's full registration (v1 directories KIP-858, v2 ELR KIP-966)."""

    __type__: ClassVar = EntityType.data
    __version__: ClassVar[int] = 2
    __flexible__: ClassVar[bool] = True
    partition_id: int = _f("int32", -1)
    topic_id: uuid.UUID = field(metadata=_meta("uuid"))
    replicas: tuple[int, ...] = _f("int32", ())
    isr: tuple[int, ...] = _f("int32", ())
    removing_replicas: tuple[int, ...] = _f("int32", ())
    adding_replicas: tuple[int, ...] = _f("int32", ())
    leader: int = _f("int32", -1)
    leader_recovery_state: int = _f("int8", 0, tag=0)
    leader_epoch: int = _f("int32", -1)
    partition_epoch: int = _f("int32", -1)
    directories: tuple[uuid.UUID, ...] = _f("uuid", (), since=1)
    eligible_leader_replicas: tuple[int, ...] | None = _f("int32", None, tag=1, since=2)
    last_known_elr: tuple[int, ...] | None = _f("int32", None, tag=2, since=2)


@dataclass(frozen=True, slots=True, kw_only=True)
class PartitionChangeRecord:
    """apiKey 5: a change to a partition; every field but the ids is "unchanged" by default
    (None lists, ``leader`` -2, ``leader_recovery_state`` -1)."""

    __type__: ClassVar = EntityType.data
    __version__: ClassVar[int] = 2
    __flexible__: ClassVar[bool] = True
    partition_id: int = _f("int32", -1)
    topic_id: uuid.UUID = field(metadata=_meta("uuid"))
    isr: tuple[int, ...] | None = _f("int32", None, tag=0)
    leader: int = _f("int32", NO_LEADER_CHANGE, tag=1)
    replicas: tuple[int, ...] | None = _f("int32", None, tag=2)
    removing_replicas: tuple[int, ...] | None = _f("int32", None, tag=3)
    adding_replicas: tuple[int, ...] | None = _f("int32", None, tag=4)
    leader_recovery_state: int = _f("int8", -1, tag=5)
    directories: tuple[uuid.UUID, ...] | None = _f("uuid", None, tag=8, since=1)
    eligible_leader_replicas: tuple[int, ...] | None = _f("int32", None, tag=6, since=2)
    last_known_elr: tuple[int, ...] | None = _f("int32", None, tag=7, since=2)


@dataclass(frozen=True, slots=True, kw_only=True)
class RemoveTopicRecord:
    """apiKey 9: a topic and all its partitions are deleted."""

    __type__: ClassVar = EntityType.data
    __version__: ClassVar[int] = 0
    __flexible__: ClassVar[bool] = True
    topic_id: uuid.UUID = field(metadata=_meta("uuid"))


@dataclass(frozen=True, slots=True, kw_only=True)
class ClearElrRecord:
    """apiKey 28: clear the ELR and last known ELR of a topic, or of all topics if the name is
    empty (KIP-966, when ELR is turned off)."""

    __type__: ClassVar = EntityType.data
    __version__: ClassVar[int] = 0
    __flexible__: ClassVar[bool] = True
    topic_name: str = _f("string", "")


# -- configs and producer ids --------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ConfigRecord:
    """apiKey 4: set (or with ``value`` None delete) one config key of a resource."""

    __type__: ClassVar = EntityType.data
    __version__: ClassVar[int] = 0
    __flexible__: ClassVar[bool] = True
    resource_type: int = field(metadata=_meta("int8"))  # 2 topic, 4 broker (ConfigResource.Type)
    resource_name: str = field(metadata=_meta("string"))  # "" for the cluster-wide broker default
    name: str = field(metadata=_meta("string"))
    value: str | None = _f("string", None)


@dataclass(frozen=True, slots=True, kw_only=True)
class ProducerIdsRecord:
    """apiKey 15: a block of producer ids was handed out (KIP-730)."""

    __type__: ClassVar = EntityType.data
    __version__: ClassVar[int] = 0
    __flexible__: ClassVar[bool] = True
    broker_id: int = field(metadata=_meta("int32"))
    broker_epoch: int = _f("int64", -1)
    next_producer_id: int = field(metadata=_meta("int64"))


RECORD_TYPES.update(
    {
        2: TopicRecord,
        3: PartitionRecord,
        4: ConfigRecord,
        5: PartitionChangeRecord,
        9: RemoveTopicRecord,
        15: ProducerIdsRecord,
        28: ClearElrRecord,
    }
)
API_KEYS.update({cls: key for key, cls in RECORD_TYPES.items()})
