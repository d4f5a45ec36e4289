"""Hypothesis strategies for metadata records: any record (codec tests) and valid sequences
of records a controller could write (image tests)."""

from __future__ import annotations

from dataclasses import fields, is_dataclass
from typing import Any, get_args, get_origin

from hypothesis import strategies as st
from refka.metadata import read_records as rr
from refka.metadata import records as r
from refka.metadata import topic_records as t
from refka.metadata.image import MetadataImage

_INTS = {
    "int8": (-(2**7), 2**7 - 1),
    "int16": (-(2**15), 2**15 - 1),
    "uint16": (0, 2**16 - 1),
    "int32": (-(2**31), 2**31 - 1),
    "int64": (-(2**63), 2**63 - 1),
}


def _scalar(kafka_type: str) -> st.SearchStrategy[Any]:
    if kafka_type in _INTS:
        low, high = _INTS[kafka_type]
        return st.integers(low, high)
    if kafka_type == "bool":
        return st.booleans()
    if kafka_type == "uuid":
        return st.uuids()
    if kafka_type == "string":
        return st.text(max_size=10)
    if kafka_type == "bytes":
        return st.binary(max_size=10)
    if kafka_type == "float64":
        return st.floats(allow_nan=False)
    raise AssertionError(kafka_type)


def _for_field(f: Any) -> st.SearchStrategy[Any]:
    args = get_args(f.type)
    nullable = type(None) in args
    inner = next((a for a in args if a is not type(None)), f.type) if nullable else f.type
    if get_origin(inner) is tuple:
        item = get_args(inner)[0]
        items = entity(item) if is_dataclass(item) else _scalar(f.metadata["kafka_type"])
        value: st.SearchStrategy[Any] = st.lists(items, max_size=3).map(tuple)
    else:
        value = _scalar(f.metadata["kafka_type"])
    return st.none() | value if nullable else value


def entity(cls: Any) -> st.SearchStrategy[Any]:
    """Any instance of a record (or nested) class, every field drawn over its Kafka type."""
    return st.builds(cls, **{f.name: _for_field(f) for f in fields(cls)})


def any_record() -> st.SearchStrategy[Any]:
    return st.sampled_from(list(r.all_record_types().values())).flatmap(entity)


# -- valid sequences: each record drawn against the image the ones before it built ------------

_IDS = st.integers(0, 4)
_REPLICAS = st.lists(_IDS, max_size=4, unique=True).map(tuple)
_MAYBE_REPLICAS = st.none() | _REPLICAS
Draw = Any


def _register(draw: Draw, image: MetadataImage) -> Any:
    endpoint = r.BrokerEndpoint(name="PLAINTEXT", host="h", port=draw(st.integers(0, 65535)))
    return r.RegisterBrokerRecord(
        broker_id=draw(_IDS),
        incarnation_id=draw(st.uuids()),
        broker_epoch=draw(st.integers(0, 100)),
        end_points=(endpoint,),
        rack=draw(st.none() | st.sampled_from(["a", "b"])),
        fenced=draw(st.booleans()),
        in_controlled_shutdown=draw(st.booleans()),
    )


def _broker_change(draw: Draw, image: MetadataImage) -> Any:
    b = image.brokers[draw(st.sampled_from(sorted(image.brokers)))]
    kind = draw(st.sampled_from(["fence", "unfence", "change", "unregister"]))
    if kind == "fence":
        return rr.FenceBrokerRecord(id=b.broker_id, epoch=b.broker_epoch)
    if kind == "unfence":
        return rr.UnfenceBrokerRecord(id=b.broker_id, epoch=b.broker_epoch)
    if kind == "unregister":
        return rr.UnregisterBrokerRecord(broker_id=b.broker_id, broker_epoch=b.broker_epoch)
    return r.BrokerRegistrationChangeRecord(
        broker_id=b.broker_id,
        broker_epoch=b.broker_epoch,
        fenced=draw(st.sampled_from([-1, 0, 1])),
        in_controlled_shutdown=draw(st.sampled_from([0, 1])),
    )


def _topic(draw: Draw, image: MetadataImage) -> Any:
    free = [n for n in ("a", "b", "c", "d") if n not in image.topics_by_name]
    if not free:
        return rr.NoOpRecord()
    return t.TopicRecord(name=draw(st.sampled_from(free)), topic_id=draw(st.uuids()))


def _partition(draw: Draw, image: MetadataImage) -> Any:
    topic_id = draw(st.sampled_from(sorted(image.topics_by_id)))
    return t.PartitionRecord(
        partition_id=draw(st.integers(0, 3)),
        topic_id=topic_id,
        replicas=draw(_REPLICAS),
        isr=draw(_REPLICAS),
        leader=draw(st.integers(-1, 4)),
        leader_recovery_state=draw(st.sampled_from([0, 1])),
        leader_epoch=draw(st.integers(0, 10)),
        partition_epoch=draw(st.integers(0, 10)),
        eligible_leader_replicas=draw(_MAYBE_REPLICAS),
        last_known_elr=draw(_MAYBE_REPLICAS),
    )


def _partition_change(draw: Draw, image: MetadataImage) -> Any:
    topics = [t for t in image.topics_by_id.values() if t.partitions]
    if not topics:
        return _partition(draw, image)
    topic = draw(st.sampled_from(sorted(topics, key=lambda t: t.name)))
    return t.PartitionChangeRecord(
        partition_id=draw(st.sampled_from(sorted(topic.partitions))),
        topic_id=topic.topic_id,
        isr=draw(_MAYBE_REPLICAS),
        leader=draw(st.integers(-2, 4)),
        replicas=draw(_MAYBE_REPLICAS),
        leader_recovery_state=draw(st.sampled_from([-1, 0, 1])),
        eligible_leader_replicas=draw(_MAYBE_REPLICAS),
        last_known_elr=draw(_MAYBE_REPLICAS),
    )


def _topic_end(draw: Draw, image: MetadataImage) -> Any:
    topic = image.topics_by_id[draw(st.sampled_from(sorted(image.topics_by_id)))]
    if draw(st.booleans()):
        return t.RemoveTopicRecord(topic_id=topic.topic_id)
    return t.ClearElrRecord(topic_name=draw(st.sampled_from([topic.name, ""])))


def _config(draw: Draw, image: MetadataImage) -> Any:
    kind, name = draw(st.sampled_from([(2, "a"), (2, "b"), (4, ""), (4, "1")]))
    return t.ConfigRecord(
        resource_type=kind,
        resource_name=name,
        name=draw(st.sampled_from(["x", "y"])),
        value=draw(st.none() | st.sampled_from(["1", "2"])),
    )


def _other(draw: Draw, image: MetadataImage) -> Any:
    return draw(
        st.builds(
            r.FeatureLevelRecord,
            name=st.sampled_from(["metadata.version", "kraft.version"]),
            feature_level=st.integers(0, 3),
        )
        | st.builds(
            t.ProducerIdsRecord,
            broker_id=_IDS,
            broker_epoch=st.integers(0, 9),
            next_producer_id=st.integers(0, 10**6),
        )
        | st.just(rr.NoOpRecord())
        | entity(rr.RegisterControllerRecord)
    )


@st.composite
def valid_records(draw: Draw, max_size: int = 40) -> list[Any]:
    """Records a controller could write, in an order that applies without error."""
    image = MetadataImage.empty("c")
    out: list[Any] = []
    for _ in range(draw(st.integers(0, max_size))):
        makers = [_register, _topic, _config, _other]
        if image.brokers:
            makers.append(_broker_change)
        if image.topics_by_id:
            makers += [_partition, _partition_change, _topic_end]
        record = draw(st.sampled_from(makers))(draw, image)
        image, _ = image.apply(len(out), [record])
        out.append(record)
    return out
