"""The metadata image: the cluster's state as the metadata log builds it (KIP-500, KIP-631).

As Kafka's ``image`` package (``MetadataImage`` = cluster, topics, configs, features, producer
ids; ``MetadataDelta`` and its ``ClusterDelta``/``TopicsDelta``/``ConfigurationsDelta``/
``ProducerIdsDelta``/``FeaturesDelta`` replay records): an immutable value; ``apply(offset,
records)`` returns the next image and what changed, for the publishers (the replica manager
turns changed partitions into BecomeLeader / BecomeFollower). ``to_records()`` is the
image as records that recreate it: the body of a snapshot (KIP-630).

Replay rules, each where Kafka enforces it: a RegisterBrokerRecord replaces the registration;
Fence/Unfence/BrokerRegistrationChange need the registered broker at that epoch; a
PartitionChangeRecord merges into the registration (``PartitionRegistration.merge``);
RemoveTopicRecord drops the topic and its configs; a ConfigRecord with value None deletes the key;
a FeatureLevelRecord of level 0 removes the feature; KIP-966 ELR fields ride along;
AccessControlEntryRecord / RemoveAccessControlEntryRecord add and drop an ACL by id (Kafka's
``AclsDelta``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from refka.metadata.records import (
    NO_LEADER,
    NO_LEADER_CHANGE,
    TOPIC_RESOURCE,
    BrokerEndpoint,
    BrokerFeature,
    BrokerRegistrationChangeRecord,
    FeatureLevelRecord,
    MetadataRecord,
    RegisterBrokerRecord,
)

if TYPE_CHECKING:
    from refka.metadata.acl_records import AccessControlEntryRecord
    from refka.metadata.read_records import (
        RegisterControllerRecord,
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
    from refka.security.acl import AclBinding
    from refka.security.scram import ScramCredential

ConfigKey = tuple[int, str]  # (resource type: 2 topic, 4 broker; resource name)
QuotaEntity = tuple[tuple[str, str | None], ...]  # sorted (entity type, name; None = default)
RECOVERED, RECOVERING = 0, 1  # LeaderRecoveryState (KIP-704)


class MetadataReplayError(ValueError):
    """A record that does not apply to the image (Kafka throws IllegalStateException)."""


@dataclass(frozen=True, slots=True)
class BrokerRegistration:
    """A registered broker (Kafka's ``BrokerRegistration``); epoch = its record's offset."""

    broker_id: int
    broker_epoch: int
    incarnation_id: uuid.UUID
    listeners: tuple[tuple[str, str, int], ...]  # (name, host, port)
    rack: str | None
    fenced: bool
    in_controlled_shutdown: bool
    supported_features: tuple[tuple[str, int, int], ...] = ()  # (name, min, max)
    log_dirs: tuple[uuid.UUID, ...] = ()

    def address(self, listener: str = "PLAINTEXT") -> tuple[str, int] | None:
        for name, host, port in self.listeners:
            if name == listener:
                return host, port
        return None

    @classmethod
    def from_record(cls, record: RegisterBrokerRecord) -> BrokerRegistration:
        return cls(
            broker_id=record.broker_id,
            broker_epoch=record.broker_epoch,
            incarnation_id=record.incarnation_id,
            listeners=tuple((e.name, e.host, e.port) for e in record.end_points),
            rack=record.rack,
            fenced=record.fenced,
            in_controlled_shutdown=record.in_controlled_shutdown,
            supported_features=tuple(
                (f.name, f.min_supported_version, f.max_supported_version) for f in record.features
            ),
            log_dirs=record.log_dirs,
        )

    def to_record(self) -> RegisterBrokerRecord:
        """(Every listener is written as PLAINTEXT, security protocol 0: refka has no other.)"""
        return RegisterBrokerRecord(
            broker_id=self.broker_id,
            incarnation_id=self.incarnation_id,
            broker_epoch=self.broker_epoch,
            end_points=tuple(BrokerEndpoint(name=n, host=h, port=p) for n, h, p in self.listeners),
            features=tuple(
                BrokerFeature(name=n, min_supported_version=lo, max_supported_version=hi)
                for n, lo, hi in self.supported_features
            ),
            rack=self.rack,
            fenced=self.fenced,
            in_controlled_shutdown=self.in_controlled_shutdown,
            log_dirs=self.log_dirs,
        )


@dataclass(frozen=True, slots=True)
class PartitionRegistration:
    """One partition's replicas, ISR, ELR (KIP-966), leader and epochs."""

    replicas: tuple[int, ...]
    isr: tuple[int, ...]
    elr: tuple[int, ...] = ()
    last_known_elr: tuple[int, ...] = ()
    leader: int = NO_LEADER
    leader_recovery_state: int = RECOVERED
    leader_epoch: int = 0
    partition_epoch: int = 0
    removing_replicas: tuple[int, ...] = ()
    adding_replicas: tuple[int, ...] = ()
    directories: tuple[uuid.UUID, ...] = ()

    def merge(self, change: PartitionChangeRecord) -> PartitionRegistration:
        """Kafka's ``PartitionRegistration.merge``: None lists and leader -2 leave a field as it
        is; any other leader (even the same one, or -1 = none) bumps the leader epoch; every
        change bumps the partition epoch."""
        leader, leader_epoch = self.leader, self.leader_epoch
        if change.leader != NO_LEADER_CHANGE:
            leader, leader_epoch = change.leader, self.leader_epoch + 1
        recovery = self.leader_recovery_state
        if change.leader_recovery_state != -1:
            recovery = change.leader_recovery_state
        return PartitionRegistration(
            replicas=_or(change.replicas, self.replicas),
            isr=_or(change.isr, self.isr),
            elr=_or(change.eligible_leader_replicas, self.elr),
            last_known_elr=_or(change.last_known_elr, self.last_known_elr),
            leader=leader,
            leader_recovery_state=recovery,
            leader_epoch=leader_epoch,
            partition_epoch=self.partition_epoch + 1,
            removing_replicas=_or(change.removing_replicas, self.removing_replicas),
            adding_replicas=_or(change.adding_replicas, self.adding_replicas),
            directories=_or(change.directories, self.directories),
        )

    @classmethod
    def from_record(cls, record: PartitionRecord) -> PartitionRegistration:
        return cls(
            replicas=record.replicas,
            isr=record.isr,
            elr=record.eligible_leader_replicas or (),
            last_known_elr=record.last_known_elr or (),
            leader=record.leader,
            leader_recovery_state=record.leader_recovery_state,
            leader_epoch=record.leader_epoch,
            partition_epoch=record.partition_epoch,
            removing_replicas=record.removing_replicas,
            adding_replicas=record.adding_replicas,
            directories=record.directories,
        )

    def to_record(self, topic_id: uuid.UUID, partition_id: int) -> PartitionRecord:
        from refka.metadata.topic_records import PartitionRecord

        return PartitionRecord(
            partition_id=partition_id,
            topic_id=topic_id,
            replicas=self.replicas,
            isr=self.isr,
            removing_replicas=self.removing_replicas,
            adding_replicas=self.adding_replicas,
            leader=self.leader,
            leader_recovery_state=self.leader_recovery_state,
            leader_epoch=self.leader_epoch,
            partition_epoch=self.partition_epoch,
            directories=self.directories,
            eligible_leader_replicas=self.elr,
            last_known_elr=self.last_known_elr,
        )


def _or(value: tuple[Any, ...] | None, current: tuple[Any, ...]) -> tuple[Any, ...]:
    return current if value is None else tuple(value)


@dataclass(frozen=True, slots=True)
class TopicImage:
    """A topic in the image: its name, id and partitions."""

    name: str
    topic_id: uuid.UUID
    partitions: Mapping[int, PartitionRegistration]


@dataclass(frozen=True, slots=True)
class MetadataDelta:
    """What one ``apply`` changed, for publishers."""

    changed_partitions: Mapping[tuple[str, int], PartitionRegistration]  # the new registration
    deleted_topics: frozenset[str]
    created_topics: frozenset[str]
    changed_brokers: frozenset[int]
    changed_configs: frozenset[ConfigKey]
    deleted_topic_ids: frozenset[uuid.UUID] = frozenset()


@dataclass(frozen=True, slots=True)
class MetadataImage:
    """The cluster metadata as of ``offset``, built from the metadata log's records."""

    offset: int  # last applied metadata offset (-1 = empty)
    cluster_id: str
    brokers: Mapping[int, BrokerRegistration]
    topics_by_name: Mapping[str, TopicImage]
    topics_by_id: Mapping[uuid.UUID, TopicImage]
    configs: Mapping[ConfigKey, Mapping[str, str]]
    next_producer_id: int  # from ProducerIdsRecord: the next block's start (-1 = none yet)
    features: Mapping[str, int]
    controllers: Mapping[int, RegisterControllerRecord] = field(
        default_factory=lambda: MappingProxyType({})
    )
    acls: Mapping[uuid.UUID, AclBinding] = field(default_factory=lambda: MappingProxyType({}))
    client_quotas: Mapping[QuotaEntity, Mapping[str, float]] = field(
        default_factory=lambda: MappingProxyType({})
    )  # ClientQuotaRecord (KIP-546): entity -> quota key -> value
    scram: Mapping[tuple[str, int], UserScramCredentialRecord] = field(
        default_factory=lambda: MappingProxyType({})
    )  # (user, mechanism) -> credential (KIP-554)
    tokens: Mapping[str, DelegationTokenRecord] = field(
        default_factory=lambda: MappingProxyType({})
    )  # token id -> the token's information (KIP-48)

    def scram_credential(self, user: str, mechanism: int) -> ScramCredential | None:
        """``user``'s SCRAM credential for ``mechanism`` (1 SHA-256, 2 SHA-512), if any."""
        from refka.security.scram import ScramCredential

        found = self.scram.get((user, int(mechanism)))
        if found is None:
            return None
        return ScramCredential(found.salt, found.stored_key, found.server_key, found.iterations)

    @classmethod
    def empty(cls, cluster_id: str) -> MetadataImage:
        nothing: Mapping[Any, Any] = MappingProxyType({})
        return cls(-1, cluster_id, nothing, nothing, nothing, nothing, -1, nothing, nothing)

    def partition(self, topic: str, partition: int) -> PartitionRegistration | None:
        found = self.topics_by_name.get(topic)
        return None if found is None else found.partitions.get(partition)

    def apply(
        self, offset: int, records: Iterable[MetadataRecord]
    ) -> tuple[MetadataImage, MetadataDelta]:
        """Replay ``records`` (the last at ``offset``) on this image."""
        builder = _ImageBuilder(self)
        for record in records:
            builder.replay(record)
        return builder.build(offset)

    def to_records(self) -> list[MetadataRecord]:
        """Records that rebuild this image from an empty one (a snapshot's body); as Kafka,
        features first, so ``metadata.version`` leads."""
        from refka.metadata.topic_records import ConfigRecord, ProducerIdsRecord, TopicRecord

        out: list[MetadataRecord] = [
            FeatureLevelRecord(name=name, feature_level=level)
            for name, level in sorted(self.features.items(), key=lambda kv: kv[0] != _MV)
        ]
        out += [self.brokers[b].to_record() for b in sorted(self.brokers)]
        out += [self.controllers[c] for c in sorted(self.controllers)]
        for name in sorted(self.topics_by_name):
            topic = self.topics_by_name[name]
            out.append(TopicRecord(name=name, topic_id=topic.topic_id))
            out += [
                topic.partitions[p].to_record(topic.topic_id, p) for p in sorted(topic.partitions)
            ]
        for (kind, resource), values in sorted(self.configs.items()):
            out += [
                ConfigRecord(resource_type=kind, resource_name=resource, name=k, value=v)
                for k, v in sorted(values.items())
            ]
        out += [self.scram[key] for key in sorted(self.scram)]
        out += [self.tokens[token_id] for token_id in sorted(self.tokens)]
        if self.next_producer_id != -1:
            out.append(ProducerIdsRecord(broker_id=-1, next_producer_id=self.next_producer_id))
        out += [acl_record(acl_id, self.acls[acl_id]) for acl_id in sorted(self.acls)]
        if self.client_quotas:
            from refka.metadata.quota_records import ClientQuotaRecord, EntityData

            for entity, quotas in sorted(self.client_quotas.items(), key=lambda kv: repr(kv[0])):
                data = tuple(EntityData(entity_type=t, entity_name=n) for t, n in entity)
                out += [
                    ClientQuotaRecord(entity=data, key=k, value=v)
                    for k, v in sorted(quotas.items())
                ]
        return out


_MV = "metadata.version"


class _ImageBuilder:
    """The mutable working copy one ``apply`` replays records into (Kafka's MetadataDelta)."""

    def __init__(self, image: MetadataImage) -> None:
        self.image = image
        self.brokers = dict(image.brokers)
        self.controllers = dict(image.controllers)
        self.topics: dict[uuid.UUID, TopicImage] = dict(image.topics_by_id)
        self.configs = {k: dict(v) for k, v in image.configs.items()}
        self.next_producer_id = image.next_producer_id
        self.features = dict(image.features)
        self.acls = dict(image.acls)
        self.scram = dict(image.scram)
        self.client_quotas = {k: dict(v) for k, v in image.client_quotas.items()}
        self.tokens = dict(image.tokens)
        self.changed_partitions: dict[tuple[uuid.UUID, int], None] = {}
        self.changed_brokers: set[int] = set()
        self.changed_configs: set[ConfigKey] = set()
        # by class name: the topic records' classes load only with the first of them
        self._replay: dict[str, Callable[[Any], None]] = {
            "RegisterBrokerRecord": self._register_broker,
            "UnregisterBrokerRecord": self._unregister_broker,
            "FenceBrokerRecord": lambda r: self._change_broker(r.id, r.epoch, fenced=True),
            "UnfenceBrokerRecord": lambda r: self._change_broker(r.id, r.epoch, fenced=False),
            "BrokerRegistrationChangeRecord": self._broker_registration_change,
            "RegisterControllerRecord": self._register_controller,
            "UnregisterControllerRecord": self._unregister_controller,
            "TopicRecord": self._topic,
            "PartitionRecord": self._partition,
            "PartitionChangeRecord": self._partition_change,
            "RemoveTopicRecord": self._remove_topic,
            "ClearElrRecord": self._clear_elr,
            "ConfigRecord": self._config,
            "FeatureLevelRecord": self._feature_level,
            "ProducerIdsRecord": self._producer_ids,
            "ClientQuotaRecord": self._client_quota,
            "NoOpRecord": lambda _r: None,
            "AccessControlEntryRecord": lambda r: self.acls.__setitem__(r.id, acl_binding(r)),
            "RemoveAccessControlEntryRecord": lambda r: self._remove_acl(r.id),
            "UserScramCredentialRecord": self._scram,
            "RemoveUserScramCredentialRecord": self._remove_scram,
            "DelegationTokenRecord": self._token,
            "RemoveDelegationTokenRecord": self._remove_token,
        }

    def _remove_acl(self, acl_id: uuid.UUID) -> None:
        self.acls.pop(acl_id, None)

    def replay(self, record: MetadataRecord) -> None:
        handler = self._replay.get(type(record).__name__)
        if handler is None:
            raise MetadataReplayError(f"cannot replay {type(record).__name__}")
        handler(record)

    # -- brokers (ClusterDelta) ----------------------------------------------------------------

    def _register_broker(self, record: RegisterBrokerRecord) -> None:
        self.brokers[record.broker_id] = BrokerRegistration.from_record(record)
        self.changed_brokers.add(record.broker_id)

    def _unregister_broker(self, record: UnregisterBrokerRecord) -> None:
        self.brokers.pop(record.broker_id, None)
        self.changed_brokers.add(record.broker_id)

    def _change_broker(
        self, broker_id: int, epoch: int, fenced: bool | None, shutdown: bool | None = None
    ) -> None:
        current = self.brokers.get(broker_id)
        if current is None or current.broker_epoch != epoch:
            raise MetadataReplayError(f"no broker {broker_id} registered at epoch {epoch}")
        changed = replace(
            current,
            fenced=current.fenced if fenced is None else fenced,
            in_controlled_shutdown=current.in_controlled_shutdown if shutdown is None else shutdown,
        )
        if changed != current:
            self.brokers[broker_id] = changed
            self.changed_brokers.add(broker_id)

    def _broker_registration_change(self, record: BrokerRegistrationChangeRecord) -> None:
        fencing = {-1: False, 0: None, 1: True}
        shutdown = {0: None, 1: True}
        if record.fenced not in fencing or record.in_controlled_shutdown not in shutdown:
            raise MetadataReplayError(f"unknown change values in {record!r}")
        self._change_broker(
            record.broker_id,
            record.broker_epoch,
            fencing[record.fenced],
            shutdown[record.in_controlled_shutdown],
        )
        if record.log_dirs and record.broker_id in self.brokers:
            broker = self.brokers[record.broker_id]
            self.brokers[record.broker_id] = replace(broker, log_dirs=record.log_dirs)

    def _register_controller(self, record: RegisterControllerRecord) -> None:
        self.controllers[record.controller_id] = record

    def _unregister_controller(self, record: UnregisterControllerRecord) -> None:
        self.controllers.pop(record.controller_id, None)

    # -- topics and partitions (TopicsDelta) ---------------------------------------------------

    def _topic(self, record: TopicRecord) -> None:
        if any(t.name == record.name for t in self.topics.values()):
            raise MetadataReplayError(f"topic {record.name!r} already exists")
        self.topics[record.topic_id] = TopicImage(record.name, record.topic_id, {})

    def _set_partition(
        self, topic_id: uuid.UUID, partition: int, registration: PartitionRegistration
    ) -> None:
        topic = self._topic_by_id(topic_id)
        partitions = {**topic.partitions, partition: registration}
        self.topics[topic_id] = replace(topic, partitions=partitions)
        self.changed_partitions[topic_id, partition] = None

    def _topic_by_id(self, topic_id: uuid.UUID) -> TopicImage:
        topic = self.topics.get(topic_id)
        if topic is None:
            raise MetadataReplayError(f"no topic with id {topic_id}")
        return topic

    def _partition(self, record: PartitionRecord) -> None:
        registration = PartitionRegistration.from_record(record)
        self._set_partition(record.topic_id, record.partition_id, registration)

    def _partition_change(self, record: PartitionChangeRecord) -> None:
        current = self._topic_by_id(record.topic_id).partitions.get(record.partition_id)
        if current is None:
            raise MetadataReplayError(f"no partition {record.partition_id} in {record.topic_id}")
        self._set_partition(record.topic_id, record.partition_id, current.merge(record))

    def _remove_topic(self, record: RemoveTopicRecord) -> None:
        topic = self.topics.pop(record.topic_id, None)
        if topic is None:
            raise MetadataReplayError(f"no topic with id {record.topic_id} to remove")
        if self.configs.pop((TOPIC_RESOURCE, topic.name), None) is not None:
            self.changed_configs.add((TOPIC_RESOURCE, topic.name))

    def _clear_elr(self, record: ClearElrRecord) -> None:
        from refka.metadata.topic_records import PartitionChangeRecord

        for topic in list(self.topics.values()):
            if record.topic_name and topic.name != record.topic_name:
                continue
            for p, reg in topic.partitions.items():
                if reg.elr or reg.last_known_elr:
                    clear = PartitionChangeRecord(
                        topic_id=topic.topic_id,
                        partition_id=p,
                        eligible_leader_replicas=(),
                        last_known_elr=(),
                    )
                    self._set_partition(topic.topic_id, p, reg.merge(clear))

    # -- configs, features, producer ids -------------------------------------------------------

    def _config(self, record: ConfigRecord) -> None:
        key = (record.resource_type, record.resource_name)
        values = self.configs.setdefault(key, {})
        if record.value is None:
            values.pop(record.name, None)
        else:
            values[record.name] = record.value
        if not values:
            del self.configs[key]
        self.changed_configs.add(key)

    def _feature_level(self, record: FeatureLevelRecord) -> None:
        if record.feature_level == 0:
            self.features.pop(record.name, None)
        else:
            self.features[record.name] = record.feature_level

    def _scram(self, record: UserScramCredentialRecord) -> None:
        self.scram[record.name, record.mechanism] = record

    def _remove_scram(self, record: RemoveUserScramCredentialRecord) -> None:
        self.scram.pop((record.name, record.mechanism), None)

    def _token(self, record: DelegationTokenRecord) -> None:
        self.tokens[record.token_id] = record

    def _remove_token(self, record: RemoveDelegationTokenRecord) -> None:
        self.tokens.pop(record.token_id, None)

    def _producer_ids(self, record: ProducerIdsRecord) -> None:
        self.next_producer_id = record.next_producer_id

    def _client_quota(self, record: Any) -> None:
        entity = tuple(sorted((e.entity_type, e.entity_name) for e in record.entity))
        quotas = self.client_quotas.setdefault(entity, {})
        if record.remove:
            quotas.pop(record.key, None)
        else:
            quotas[record.key] = float(record.value)
        if not quotas:
            del self.client_quotas[entity]

    # -- the result ----------------------------------------------------------------------------

    def build(self, offset: int) -> tuple[MetadataImage, MetadataDelta]:
        old = self.image
        topics = {tid: _frozen_topic(t) for tid, t in self.topics.items()}
        by_name = {t.name: t for t in topics.values()}
        deleted_ids = frozenset(tid for tid in old.topics_by_id if tid not in topics)
        created = {t.name for tid, t in topics.items() if tid not in old.topics_by_id}
        changed = {
            (topics[tid].name, p): topics[tid].partitions[p]
            for tid, p in self.changed_partitions
            if tid in topics
        }
        image = MetadataImage(
            offset=offset,
            cluster_id=old.cluster_id,
            brokers=MappingProxyType(self.brokers),
            topics_by_name=MappingProxyType(by_name),
            topics_by_id=MappingProxyType(topics),
            configs=MappingProxyType({k: MappingProxyType(v) for k, v in self.configs.items()}),
            next_producer_id=self.next_producer_id,
            features=MappingProxyType(self.features),
            controllers=MappingProxyType(self.controllers),
            acls=MappingProxyType(self.acls),
            scram=MappingProxyType(self.scram),
            client_quotas=MappingProxyType(
                {k: MappingProxyType(v) for k, v in self.client_quotas.items()}
            ),
            tokens=MappingProxyType(self.tokens),
        )
        delta = MetadataDelta(
            changed_partitions=MappingProxyType(changed),
            deleted_topics=frozenset(old.topics_by_id[tid].name for tid in deleted_ids),
            created_topics=frozenset(created),
            changed_brokers=frozenset(self.changed_brokers),
            changed_configs=frozenset(self.changed_configs),
            deleted_topic_ids=deleted_ids,
        )
        return image, delta


def acl_binding(record: AccessControlEntryRecord) -> AclBinding:
    from refka.metadata import acl_records

    return acl_records.acl_binding(record)


def acl_record(acl_id: uuid.UUID, acl: AclBinding) -> AccessControlEntryRecord:
    from refka.metadata import acl_records

    return acl_records.acl_record(acl_id, acl)


def _frozen_topic(topic: TopicImage) -> TopicImage:
    if isinstance(topic.partitions, MappingProxyType):
        return topic
    return replace(topic, partitions=MappingProxyType(dict(topic.partitions)))


def iter_partitions(image: MetadataImage) -> Iterator[tuple[str, int, PartitionRegistration]]:
    """Every (topic, partition, registration) of ``image``, in name and partition order."""
    for name in sorted(image.topics_by_name):
        partitions = image.topics_by_name[name].partitions
        for p in sorted(partitions):
            yield name, p, partitions[p]


def whole_image_delta(image: MetadataImage) -> MetadataDelta:
    """A delta that changes everything ``image`` holds: what a publisher installed late is
    given first (Kafka's loader hands a new publisher the whole image as one delta)."""
    return MetadataDelta(
        changed_partitions={
            (name, index): registration
            for name, topic in image.topics_by_name.items()
            for index, registration in topic.partitions.items()
        },
        deleted_topics=frozenset(),
        created_topics=frozenset(image.topics_by_name),
        changed_brokers=frozenset(image.brokers),
        changed_configs=frozenset(image.configs),
    )
