"""The metadata image (Kafka's image package): replay rules, deltas, and the snapshot property
that ``to_records()`` rebuilds the same image."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from metadata_strategies import valid_records
from refka.metadata.image import MetadataImage, MetadataReplayError, PartitionRegistration
from refka.metadata.read_records import (
    FenceBrokerRecord,
    NoOpRecord,
    UnfenceBrokerRecord,
    UnregisterBrokerRecord,
)
from refka.metadata.records import (
    BrokerEndpoint,
    BrokerRegistrationChangeRecord,
    FeatureLevelRecord,
    MetadataRecord,
    RegisterBrokerRecord,
)
from refka.metadata.topic_records import (
    ClearElrRecord,
    ConfigRecord,
    PartitionChangeRecord,
    PartitionRecord,
    ProducerIdsRecord,
    RemoveTopicRecord,
    TopicRecord,
)

T = uuid.UUID(int=1)
EMPTY = MetadataImage.empty("cluster-a")


def broker(broker_id: int, epoch: int, fenced: bool = True) -> RegisterBrokerRecord:
    return RegisterBrokerRecord(
        broker_id=broker_id,
        incarnation_id=uuid.UUID(int=100 + broker_id),
        broker_epoch=epoch,
        end_points=(BrokerEndpoint(name="PLAINTEXT", host="h", port=9000 + broker_id),),
        rack="r1",
        fenced=fenced,
    )


def topic_foo() -> list[MetadataRecord]:
    return [
        TopicRecord(name="foo", topic_id=T),
        PartitionRecord(
            partition_id=0,
            topic_id=T,
            replicas=(1, 2, 3),
            isr=(1, 2, 3),
            leader=1,
            leader_epoch=0,
            partition_epoch=0,
        ),
    ]


# -- PartitionRegistration.merge -------------------------------------------------------------


def test_merge_leaves_unchanged_fields_and_bumps_partition_epoch() -> None:
    reg = PartitionRegistration(replicas=(1, 2), isr=(1, 2), leader=1, leader_epoch=3)
    merged = reg.merge(PartitionChangeRecord(topic_id=T, partition_id=0, isr=(1,)))
    assert merged == PartitionRegistration(
        replicas=(1, 2), isr=(1,), leader=1, leader_epoch=3, partition_epoch=1
    )


@pytest.mark.parametrize(("leader", "new_leader"), [(2, 2), (1, 1), (-1, -1)])
def test_any_leader_but_minus_two_bumps_the_leader_epoch(leader: int, new_leader: int) -> None:
    reg = PartitionRegistration(replicas=(1, 2), isr=(1, 2), leader=1, leader_epoch=3)
    merged = reg.merge(PartitionChangeRecord(topic_id=T, partition_id=0, leader=leader))
    assert (merged.leader, merged.leader_epoch, merged.partition_epoch) == (new_leader, 4, 1)


def test_merge_sets_elr_and_recovery_state() -> None:
    reg = PartitionRegistration(replicas=(1, 2), isr=(1, 2), leader=1)
    change = PartitionChangeRecord(
        topic_id=T,
        isr=(1,),
        eligible_leader_replicas=(2,),
        last_known_elr=(),
        leader_recovery_state=1,
    )
    merged = reg.merge(change)
    assert (merged.isr, merged.elr, merged.last_known_elr) == ((1,), (2,), ())
    assert merged.leader_recovery_state == 1
    assert (
        merged.merge(PartitionChangeRecord(topic_id=T, partition_id=0)).leader_recovery_state == 1
    )


# -- brokers ---------------------------------------------------------------------------------


def test_broker_registration_fence_unfence_and_shutdown() -> None:
    image, delta = EMPTY.apply(0, [broker(1, 0)])
    assert image.brokers[1].fenced and delta.changed_brokers == {1}
    assert image.brokers[1].address() == ("h", 9001)
    assert image.brokers[1].address("CONTROLLER") is None
    image, _ = image.apply(1, [UnfenceBrokerRecord(id=1, epoch=0)])
    assert not image.brokers[1].fenced
    change = BrokerRegistrationChangeRecord(broker_id=1, broker_epoch=0, in_controlled_shutdown=1)
    image, _ = image.apply(2, [change])
    assert image.brokers[1].in_controlled_shutdown and not image.brokers[1].fenced
    image, _ = image.apply(
        3, [BrokerRegistrationChangeRecord(broker_id=1, broker_epoch=0, fenced=1)]
    )
    assert image.brokers[1].fenced
    image, _ = image.apply(4, [broker(1, 4, fenced=False)])  # re-registration replaces it
    assert (image.brokers[1].broker_epoch, image.brokers[1].fenced) == (4, False)
    assert not image.brokers[1].in_controlled_shutdown
    image, delta = image.apply(5, [UnregisterBrokerRecord(broker_id=1, broker_epoch=4)])
    assert image.brokers == {} and delta.changed_brokers == {1}


@pytest.mark.parametrize(
    "record",
    [
        FenceBrokerRecord(id=1, epoch=7),  # wrong epoch
        UnfenceBrokerRecord(id=2, epoch=0),  # not registered
        BrokerRegistrationChangeRecord(broker_id=1, broker_epoch=0, fenced=2),  # unknown value
        PartitionChangeRecord(topic_id=T, partition_id=0),  # no such topic
        RemoveTopicRecord(topic_id=T),
    ],
)
def test_records_that_do_not_apply_raise(record: MetadataRecord) -> None:
    image, _ = EMPTY.apply(0, [broker(1, 0)])
    with pytest.raises(MetadataReplayError):
        image.apply(1, [record])


# -- topics, configs, features, producer ids -------------------------------------------------


def test_topic_creation_change_and_removal_with_its_configs() -> None:
    image, delta = EMPTY.apply(1, topic_foo())
    assert delta.created_topics == {"foo"}
    assert delta.changed_partitions == {("foo", 0): image.partition("foo", 0)}
    assert image.topics_by_id[T] is image.topics_by_name["foo"]
    config = ConfigRecord(resource_type=2, resource_name="foo", name="retention.ms", value="1")
    image, delta = image.apply(
        2, [config, PartitionChangeRecord(topic_id=T, partition_id=0, isr=(1, 2), leader=2)]
    )
    assert image.configs == {(2, "foo"): {"retention.ms": "1"}}
    assert delta.changed_configs == {(2, "foo")} and delta.created_topics == frozenset()
    reg = image.partition("foo", 0)
    assert reg is not None and (reg.leader, reg.leader_epoch, reg.partition_epoch) == (2, 1, 1)
    image, delta = image.apply(3, [RemoveTopicRecord(topic_id=T)])
    assert image.topics_by_name == {} and image.topics_by_id == {} and image.configs == {}
    assert delta.deleted_topics == {"foo"} and delta.deleted_topic_ids == {T}
    assert delta.changed_configs == {(2, "foo")}


def test_config_value_none_deletes_the_key() -> None:
    set_a = ConfigRecord(resource_type=4, resource_name="", name="a", value="1")
    set_b = ConfigRecord(resource_type=4, resource_name="", name="b", value="2")
    image, _ = EMPTY.apply(1, [set_a, set_b])
    image, _ = image.apply(2, [ConfigRecord(resource_type=4, resource_name="", name="a")])
    assert image.configs == {(4, ""): {"b": "2"}}
    image, _ = image.apply(3, [ConfigRecord(resource_type=4, resource_name="", name="b")])
    assert image.configs == {}


def test_features_producer_ids_and_no_op() -> None:
    records: list[MetadataRecord] = [
        FeatureLevelRecord(name="metadata.version", feature_level=27),
        FeatureLevelRecord(name="kraft.version", feature_level=1),
        ProducerIdsRecord(broker_id=1, broker_epoch=0, next_producer_id=1000),
        NoOpRecord(),
    ]
    image, _ = EMPTY.apply(3, records)
    assert image.features == {"metadata.version": 27, "kraft.version": 1}
    assert image.next_producer_id == 1000 and image.offset == 3
    image, _ = image.apply(4, [FeatureLevelRecord(name="kraft.version", feature_level=0)])
    assert image.features == {"metadata.version": 27}
    assert image.to_records()[0] == FeatureLevelRecord(name="metadata.version", feature_level=27)


def test_clear_elr_clears_one_topic() -> None:
    with_elr = PartitionChangeRecord(
        topic_id=T, partition_id=0, eligible_leader_replicas=(3,), last_known_elr=(2,)
    )
    image, _ = EMPTY.apply(2, [*topic_foo(), with_elr])
    image, delta = image.apply(3, [ClearElrRecord(topic_name="foo")])
    reg = image.partition("foo", 0)
    assert reg is not None and (reg.elr, reg.last_known_elr, reg.partition_epoch) == ((), (), 2)
    assert set(delta.changed_partitions) == {("foo", 0)}


def test_an_image_is_not_changed_by_apply() -> None:
    image, _ = EMPTY.apply(1, topic_foo())
    before = image.partition("foo", 0)
    image.apply(2, [PartitionChangeRecord(topic_id=T, partition_id=0, isr=(1,))])
    assert image.partition("foo", 0) == before
    with pytest.raises(TypeError):
        image.brokers[1] = None  # type: ignore[index]


# -- the snapshot property -------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(valid_records(), st.data())
def test_to_records_rebuilds_the_same_image(
    records: list[MetadataRecord], data: st.DataObject
) -> None:
    """Replay in any chunking gives one image; its records, replayed on an empty image, give it
    again (what loading a snapshot relies on)."""
    whole, _ = EMPTY.apply(len(records) - 1, records)
    cuts = sorted(data.draw(st.sets(st.integers(0, len(records)), max_size=4)))
    image, start = EMPTY, 0
    for cut in [*cuts, len(records)]:
        image, _ = image.apply(len(records) - 1, records[start:cut])
        start = max(start, cut)
    assert image == whole
    rebuilt, _ = EMPTY.apply(whole.offset, whole.to_records())
    assert rebuilt == whole
