"""Kafka's ``ControllerApis``: the requests the controller answers and their version ranges.

Ranges are those of Apache Kafka 4.4's controller within what kio has. Each handler reads
the request, asks the control module for records and an answer, commits the records
(``QuorumController.commit``: appended, flushed, applied) and only then answers.

The control modules a controller needs only once it is asked for topics, configs, producer ids
or reassignments are imported by their handlers on first use, not at start (issue 15).
"""

from __future__ import annotations

import importlib
import uuid
from collections import Counter
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from kio.schema.errors import ErrorCode
from kio.static.primitive import i16

from refka.controller import replication_control as rc
from refka.controller.metadata_fetch import METADATA_TOPIC, handle_fetch
from refka.core.context import RequestContext
from refka.core.topic_defaults import Entry, broker_key_for, topic_entries
from refka.handlers import api_versions
from refka.log import topic_configs as defs
from refka.protocol import codec

ZERO_UUID = uuid.UUID(int=0)

if TYPE_CHECKING:
    from refka.controller import topic_control
    from refka.controller.quorum_controller import QuorumController


def _module(ctx: RequestContext) -> Any:
    return codec.response_module(ctx.api_key, ctx.api_version)


# ------------------------------------------------------------------- ApiVersions


def handle_api_versions(c: QuorumController, ctx: RequestContext, request: Any) -> Any:
    """The controller's APIs, answered by the broker's own ApiVersions handler. At v5 Kafka's
    controller does not compare the cluster and node the client expects (a broker does).
    The features are the finalized levels of the controller's image (KIP-584)."""
    return api_versions.handle_api_versions(
        c.apis, ctx, request, features=lambda: (c.image.features, c.image.offset)
    )


# -------------------------------------------------------------- brokers (KIP-631)


def handle_broker_registration(c: QuorumController, ctx: RequestContext, request: Any) -> Any:
    m = _module(ctx)
    existing = c.image.brokers.get(request.broker_id)
    clean = (  # as ClusterControl.register decides (KIP-966), for the RegisterBroker event
        existing is None
        or existing.incarnation_id == request.incarnation_id
        or existing.broker_epoch == getattr(request, "previous_broker_epoch", -1)
    )
    error, message, records = c.cluster.register(c.image, request, c.log.end_offset, ctx.now_ms)
    epoch = -1
    if error is ErrorCode.none:
        first = c.commit(records, ctx.now_ms, clean_shutdown=clean)
        epoch = first + len(records) - 1  # the RegisterBrokerRecord's offset
    del message  # the response has no message field
    return codec.build(
        m.BrokerRegistrationResponse,
        throttle_time=codec.millis(0),
        error_code=error,
        broker_epoch=epoch,
    )


def handle_broker_heartbeat(c: QuorumController, ctx: RequestContext, request: Any) -> Any:
    m = _module(ctx)
    reply, records = c.cluster.heartbeat(c.image, request, c.log.end_offset, ctx.now_ms)
    c.commit(records, ctx.now_ms)
    return codec.build(
        m.BrokerHeartbeatResponse,
        throttle_time=codec.millis(0),
        error_code=reply.error,
        is_caught_up=reply.is_caught_up,
        is_fenced=reply.is_fenced,
        should_shut_down=reply.should_shut_down,
    )


def handle_unregister_broker(c: QuorumController, ctx: RequestContext, request: Any) -> Any:
    """KIP-631 UnregisterBroker (``kafka-cluster unregister``)."""
    message, records = c.cluster.unregister(c.image, request.broker_id)
    c.commit(records, ctx.now_ms)
    return codec.build(
        _module(ctx).UnregisterBrokerResponse,
        throttle_time=codec.millis(0),
        error_code=ErrorCode.none if message is None else ErrorCode.broker_id_not_registered,
        error_message=message,
    )


def handle_allocate_producer_ids(c: QuorumController, ctx: RequestContext, request: Any) -> Any:
    m = _module(ctx)
    stale = c.cluster.check_broker_epoch(c.image, request.broker_id, request.broker_epoch)
    if stale is not None:
        return codec.build(
            m.AllocateProducerIdsResponse,
            throttle_time=codec.millis(0),
            error_code=ErrorCode.stale_broker_epoch,
            producer_id_start=-1,
            producer_id_len=0,
        )
    from refka.controller.producer_id_control import generate_next_producer_id_block

    block, record = generate_next_producer_id_block(
        max(c.image.next_producer_id, 0), request.broker_id, request.broker_epoch
    )
    c.commit([record], ctx.now_ms)
    return codec.build(
        m.AllocateProducerIdsResponse,
        throttle_time=codec.millis(0),
        error_code=ErrorCode.none,
        producer_id_start=block.first_producer_id,
        producer_id_len=block.size,
    )


# ------------------------------------------------------------------------ topics


def handle_create_topics(c: QuorumController, ctx: RequestContext, request: Any) -> Any:
    """Kafka's ``ControllerApis.createTopics``: a name given twice gets one INVALID_REQUEST
    answer, after the others."""
    from refka.controller import topic_control

    m = _module(ctx)
    counts = Counter(t.name for t in request.topics)
    results = []
    for topic in request.topics:
        if counts[topic.name] > 1:
            continue
        if topic.name == METADATA_TOPIC:
            message = f"Creation of internal topic {METADATA_TOPIC} is prohibited."
            outcome = topic_control.TopicOutcome(ErrorCode.invalid_request, message)
        else:
            start = c.random.below(1 << 16)
            outcome = topic_control.create_topic(
                c.image, c.settings, topic, c.random.uuid4(), start
            )
            if outcome.error is ErrorCode.none and not request.validate_only:
                c.commit(outcome.records, ctx.now_ms)
        results.append(_created(m, c, topic.name, outcome))
    for name in _duplicates(request.topics):
        duplicate = topic_control.TopicOutcome(ErrorCode.invalid_request, "Duplicate topic name.")
        results.append(_created(m, c, name, duplicate))
    return codec.build(m.CreateTopicsResponse, throttle_time=codec.millis(0), topics=tuple(results))


def _duplicates(topics: Any) -> list[str]:
    counts = Counter(t.name for t in topics)
    return [name for name, n in counts.items() if n > 1]


def _cluster_min_isr(c: QuorumController, entry: Entry) -> Entry:
    """KIP-966: with eligible leader replicas on, Kafka keeps a cluster-wide
    ``min.insync.replicas``; a topic without an override takes it from there (source
    DYNAMIC_DEFAULT_BROKER_CONFIG), as DescribeConfigs reports (docs/configs.md)."""
    from refka.core.kafka_configs import DYNAMIC_DEFAULT_BROKER_CONFIG, DYNAMIC_TOPIC_CONFIG

    if entry.name != "min.insync.replicas" or entry.source == DYNAMIC_TOPIC_CONFIG:
        return entry
    if not c.settings.eligible_leader_replicas_enabled:
        return entry
    cluster = c.image.configs.get((4, ""), {}).get(entry.name)
    value = str(cluster) if cluster is not None else str(c.settings.min_insync_replicas)
    return replace(entry, value=value, source=DYNAMIC_DEFAULT_BROKER_CONFIG)


def _dynamic_default(c: QuorumController, entry: Entry) -> Entry:
    """A topic key without an override takes its broker key's dynamic value: this controller
    node's (DYNAMIC_BROKER_CONFIG), else the cluster-wide one (DYNAMIC_DEFAULT_BROKER_CONFIG),
    as Kafka 4.4 lists them (observed; conformance/test_dynamic_broker_configs.py)."""
    from refka.core.kafka_configs import (
        DYNAMIC_BROKER_CONFIG,
        DYNAMIC_DEFAULT_BROKER_CONFIG,
        DYNAMIC_TOPIC_CONFIG,
    )

    if entry.source in (DYNAMIC_TOPIC_CONFIG, DYNAMIC_DEFAULT_BROKER_CONFIG):
        return entry
    key = broker_key_for(entry.name)
    for name, source in (
        (str(c.node_id), DYNAMIC_BROKER_CONFIG),
        ("", DYNAMIC_DEFAULT_BROKER_CONFIG),
    ):
        value = c.image.configs.get((4, name), {}).get(key or "")
        if value is not None:
            parsed = defs.parse(entry.name, value, validate=False)
            return replace(
                entry, value=defs.format_value(defs.BY_NAME[entry.name], parsed), source=source
            )
    return entry


def _created(m: Any, c: QuorumController, name: str, o: topic_control.TopicOutcome) -> Any:
    ok = o.error is ErrorCode.none
    described = None
    if hasattr(m, "CreatableTopicConfigs"):
        entries = topic_entries(c.settings.topic_config_defaults, o.configs) if ok else []
        entries = [_dynamic_default(c, _cluster_min_isr(c, e)) for e in entries]
        described = tuple(
            codec.build(
                m.CreatableTopicConfigs,
                name=entry.name,
                value=entry.value,
                read_only=False,
                config_source=entry.source,
                is_sensitive=False,
            )
            for entry in entries
        )
    return codec.build(
        m.CreatableTopicResult,
        name=name,
        topic_id=o.topic_id if ok else ZERO_UUID,
        error_code=o.error,
        error_message=o.message,
        topic_config_error_code=0,
        num_partitions=o.partitions if ok else -1,
        replication_factor=o.replication_factor if ok else -1,
        configs=described,
    )


def handle_delete_topics(c: QuorumController, ctx: RequestContext, request: Any) -> Any:
    """Kafka's ``ControllerApis.deleteTopics``: a topic is named by name or (v6+) by id, not
    both; names or ids given twice get one INVALID_REQUEST answer each, after the others."""
    from refka.controller import topic_control

    m = _module(ctx)
    results = []

    def answer(name: str | None, topic_id: Any, error: ErrorCode, message: str | None) -> None:
        results.append(
            codec.build(
                m.DeletableTopicResult,
                name=name,
                topic_id=topic_id or ZERO_UUID,
                error_code=error,
                error_message=message,
            )
        )

    wanted: list[tuple[str | None, Any]] = []
    named = getattr(request, "topics", None)
    for name, topic_id in (
        [(n, None) for n in request.topic_names]
        if named is None
        else [(t.name, None if t.topic_id == ZERO_UUID else t.topic_id) for t in named]
    ):
        if name is None and topic_id is None:
            message = "Neither topic name nor id were specified."
            answer(None, None, ErrorCode.invalid_request, message)
        elif name is not None and topic_id is not None:
            message = "You may not specify both topic name and topic id."
            answer(name, topic_id, ErrorCode.invalid_request, message)
        else:
            wanted.append((name, topic_id))
    counts = Counter(wanted)
    for name, topic_id in dict.fromkeys(w for w in wanted if counts[w] == 1):
        outcome = topic_control.delete_topic(c.image, c.settings, name, topic_id)
        if name is None and outcome.topic_id is not None:
            name = c.image.topics_by_id[outcome.topic_id].name
        c.commit(outcome.records, ctx.now_ms)
        answer(name, outcome.topic_id or topic_id, outcome.error, outcome.message)
    for name, topic_id in dict.fromkeys(w for w in wanted if counts[w] > 1):
        message = "Duplicate topic name." if name is not None else "Duplicate topic id."
        answer(name, topic_id, ErrorCode.invalid_request, message)
    return codec.build(
        m.DeleteTopicsResponse, throttle_time=codec.millis(0), responses=tuple(results)
    )


def handle_create_partitions(c: QuorumController, ctx: RequestContext, request: Any) -> Any:
    from refka.controller import topic_control

    m = _module(ctx)
    duplicates = _duplicates(request.topics)
    results = [
        codec.build(
            m.CreatePartitionsTopicResult,
            name=name,
            error_code=ErrorCode.invalid_request,
            error_message="Duplicate topic name.",
        )
        for name in duplicates
    ]
    for topic in request.topics:
        if topic.name in duplicates:
            continue
        start = c.random.below(1 << 16)
        outcome = topic_control.create_partitions(c.image, c.settings, topic, start)
        if outcome.error is ErrorCode.none and not request.validate_only:
            c.commit(outcome.records, ctx.now_ms)
        results.append(
            codec.build(
                m.CreatePartitionsTopicResult,
                name=topic.name,
                error_code=outcome.error,
                error_message=outcome.message,
            )
        )
    return codec.build(
        m.CreatePartitionsResponse, throttle_time=codec.millis(0), results=tuple(results)
    )


# ---------------------------------------------------------------- AlterPartition


def handle_alter_partition(c: QuorumController, ctx: RequestContext, request: Any) -> Any:
    """KIP-497 AlterPartition (Election.tla ``HandleAlterPartition``)."""
    m = _module(ctx)
    if c.cluster.check_broker_epoch(c.image, request.broker_id, request.broker_epoch) is not None:
        if c.tracer is not None:
            for topic_data in request.topics:
                topic = c.image.topics_by_id.get(topic_data.topic_id)
                for data in topic_data.partitions:
                    if topic is not None and data.partition_index in topic.partitions:
                        _trace_alter(
                            c, request.broker_id, topic, data, ErrorCode.stale_broker_epoch
                        )
        return codec.build(
            m.AlterPartitionResponse,
            throttle_time=codec.millis(0),
            error_code=ErrorCode.stale_broker_epoch,
            topics=(),
        )
    topics = []
    for topic_data in request.topics:
        topic = c.image.topics_by_id.get(topic_data.topic_id)
        parts = []
        for data in topic_data.partitions:
            parts.append(_alter_one(c, m, ctx, request.broker_id, topic, data))
        topics.append(
            codec.build(m.TopicData, topic_id=topic_data.topic_id, partitions=tuple(parts))
        )
    return codec.build(
        m.AlterPartitionResponse,
        throttle_time=codec.millis(0),
        error_code=ErrorCode.none,
        topics=tuple(topics),
    )


def _trace_alter(c: QuorumController, broker_id: int, topic: Any, data: Any, error: Any) -> None:
    """HandleAlterPartition: the request's ISR, the answer, the partition's state after it."""
    assert c.tracer is not None
    from refka.controller import trace_events  # only a traced core loads it (issue 15)
    from refka.core import trace

    s = trace_events.partition_state(c.image, topic.topic_id, data.partition_index)
    requested = getattr(data, "new_isr_with_epochs", None)
    wanted = (
        tuple(b.broker_id for b in requested)
        if requested
        else tuple(getattr(data, "new_isr", ()) or ())
    )
    c.tracer(
        trace.HandleAlterPartition(
            c.node_id,
            s.topic,
            s.partition,
            broker_id,
            tuple(sorted(wanted)),
            ErrorCode(error).name.upper(),
            s.leader,
            s.leader_epoch,
            s.partition_epoch,
            s.isr,
            s.elr,
        )
    )


def _alter_one(
    c: QuorumController, m: Any, ctx: RequestContext, broker_id: int, topic: Any, data: Any
) -> Any:
    if topic is None:
        return codec.build(
            m.PartitionData,
            partition_index=data.partition_index,
            error_code=ErrorCode.unknown_topic_id,
            leader_id=-1,
            leader_epoch=-1,
            partition_epoch=-1,
        )
    partition = topic.partitions.get(data.partition_index)
    error = rc.validate_alter_partition(
        c.image, broker_id, partition, data, c.settings.fence_stale_broker_epochs
    )
    if error is not ErrorCode.none and c.tracer is not None and partition is not None:
        _trace_alter(c, broker_id, topic, data, error)
    if error is not ErrorCode.none:
        return codec.build(
            m.PartitionData,
            partition_index=data.partition_index,
            error_code=error,
            leader_id=-1,
            leader_epoch=-1,
            partition_epoch=-1,
        )
    record = rc.alter_partition_change(c.image, c.settings, topic, data.partition_index, data)
    if record is not None:
        c.commit([record], ctx.now_ms)
    if c.tracer is not None:
        _trace_alter(c, broker_id, topic, data, error)
    now = c.image.topics_by_id[topic.topic_id].partitions[data.partition_index]
    return codec.build(
        m.PartitionData,
        partition_index=data.partition_index,
        error_code=ErrorCode.none,
        leader_id=now.leader,
        leader_epoch=now.leader_epoch,
        isr=tuple(now.isr),
        leader_recovery_state=now.leader_recovery_state,
        partition_epoch=now.partition_epoch,
    )


# ------------------------------------------------------------------ ElectLeaders


def handle_elect_leaders(c: QuorumController, ctx: RequestContext, request: Any) -> Any:
    m = _module(ctx)
    election_type = getattr(request, "election_type", rc.PREFERRED)
    wanted = request.topic_partitions
    if wanted is None:  # every partition
        by_topic: dict[str, list[int]] = {}
        for topic, pid in rc.all_partitions(c.image):
            by_topic.setdefault(topic.name, []).append(pid)
        pairs = list(by_topic.items())
    else:
        pairs = [(t.topic, list(t.partitions)) for t in wanted]
    known_type = election_type in (rc.PREFERRED, rc.UNCLEAN)
    results = []
    for name, partitions in pairs:
        topic = c.image.topics_by_name.get(name)
        outcomes = []
        for pid in partitions:
            message: str | None
            if not known_type:
                error, record = ErrorCode.invalid_request, None
                message = f"Unknown election type {election_type}"
            elif topic is None:
                error, record = ErrorCode.unknown_topic_or_partition, None
                message = f"No such topic as {name}"
            else:
                error, message, record = rc.elect_leader(
                    c.image, c.settings, topic, pid, election_type
                )
            if record is not None:
                c.commit([record], ctx.now_ms)
            if wanted is None and error is ErrorCode.election_not_needed:
                continue  # Kafka leaves these out when it picked the partitions
            outcomes.append(
                codec.build(
                    m.PartitionResult, partition_id=pid, error_code=error, error_message=message
                )
            )
        # Kafka lists every topic asked for (or every topic), even with no partition left
        results.append(
            codec.build(m.ReplicaElectionResult, topic=name, partition_result=tuple(outcomes))
        )
    return codec.build(
        m.ElectLeadersResponse,
        throttle_time=codec.millis(0),
        error_code=ErrorCode.none if known_type else ErrorCode.invalid_request,
        replica_election_results=tuple(results),
    )


# ---------------------------------------------------- AlterPartitionReassignments


def handle_alter_partition_reassignments(
    c: QuorumController, ctx: RequestContext, request: Any
) -> Any:
    """KIP-455 (``refka.controller.reassignment``)."""
    from refka.controller.reassignment import reassign

    m = _module(ctx)
    allow = getattr(request, "allow_replication_factor_change", True)
    topics = []
    for topic in request.topics:
        parts = []
        for p in topic.partitions:
            error, message, record = reassign(
                c.image, c.settings, topic.name, p.partition_index, p.replicas, allow
            )
            if record is not None:
                c.commit([record], ctx.now_ms)
            parts.append(
                codec.build(
                    m.ReassignablePartitionResponse,
                    partition_index=p.partition_index,
                    error_code=error,
                    error_message=message,
                )
            )
        topics.append(
            codec.build(m.ReassignableTopicResponse, name=topic.name, partitions=tuple(parts))
        )
    return codec.build(
        m.AlterPartitionReassignmentsResponse,
        throttle_time=codec.millis(0),
        allow_replication_factor_change=getattr(request, "allow_replication_factor_change", True),
        error_code=ErrorCode.none,
        error_message=None,
        responses=tuple(topics),
    )


def handle_list_partition_reassignments(
    c: QuorumController, ctx: RequestContext, request: Any
) -> Any:
    """KIP-455: the partitions with adding or removing replicas."""
    from refka.controller.reassignment import ongoing

    m = _module(ctx)
    wanted = None
    if request.topics is not None:
        wanted = [(t.name, list(t.partition_indexes)) for t in request.topics]
    topics = tuple(
        codec.build(
            m.OngoingTopicReassignment,
            name=name,
            partitions=tuple(
                codec.build(
                    m.OngoingPartitionReassignment,
                    partition_index=o.partition_index,
                    replicas=o.replicas,
                    adding_replicas=o.adding_replicas,
                    removing_replicas=o.removing_replicas,
                )
                for o in parts
            ),
        )
        for name, parts in ongoing(c.image, wanted)
    )
    return codec.build(
        m.ListPartitionReassignmentsResponse,
        throttle_time=codec.millis(0),
        error_code=ErrorCode.none,
        error_message=None,
        topics=topics,
    )


# ---------------------------------------------------------------- DescribeQuorum


def handle_describe_quorum(c: QuorumController, ctx: RequestContext, request: Any) -> Any:
    """A single voter: this controller leads; brokers that fetch are observers."""
    from refka.controller.quorum_state import describe_quorum

    observers = c.quorum.live_observers(ctx.now_ms)
    end = int(c.log.end_offset)
    return describe_quorum(_module(ctx), request, c.node_id, c.epoch, end, observers, ctx.now_ms)


CONTROLLER_NOT_REGISTERED = 136
"""Kafka 4.4's code for an id with no controller registration (kio's ErrorCode lacks it)."""


def handle_unregister_controller(c: QuorumController, ctx: RequestContext, request: Any) -> Any:
    """KIP-853 UnregisterController: an UnregisterControllerRecord drops a registered
    controller's registration; the active controller (this one) cannot remove its own."""
    from refka.metadata.read_records import UnregisterControllerRecord

    controller_id = int(request.controller_id)
    error, message = 0, None
    if controller_id == c.node_id:
        error = int(ErrorCode.invalid_request.value)
        message = "Controller cannot unregister itself while it is active."
    elif controller_id not in c.image.controllers:
        error = CONTROLLER_NOT_REGISTERED
        message = f"Controller ID {controller_id} is not currently registered."
    else:
        c.commit([UnregisterControllerRecord(controller_id=controller_id)], ctx.now_ms)
    return codec.build(
        _module(ctx).UnregisterControllerResponse,
        throttle_time=codec.millis(0),
        error_code=i16(error),
        error_message=message,
    )


def _later(module: str, name: str) -> Any:
    """The handler ``name`` of ``refka.controller.<module>``, imported with its first request
    (admin APIs stay off the controller's start path)."""

    def handle(c: QuorumController, ctx: RequestContext, request: Any) -> Any:
        return getattr(importlib.import_module(f"refka.controller.{module}"), name)(c, ctx, request)

    return handle


API_TABLE: dict[int, tuple[str, int, int, Any]] = {
    1: ("Fetch", 4, 18, handle_fetch),
    18: ("ApiVersions", 0, 5, handle_api_versions),
    19: ("CreateTopics", 2, 7, handle_create_topics),
    20: ("DeleteTopics", 1, 6, handle_delete_topics),
    30: ("CreateAcls", 1, 3, _later("acl_control", "handle_create_acls")),
    31: ("DeleteAcls", 1, 3, _later("acl_control", "handle_delete_acls")),
    33: ("AlterConfigs", 0, 2, _later("config_control", "handle_alter_configs")),
    37: ("CreatePartitions", 0, 3, handle_create_partitions),
    43: ("ElectLeaders", 0, 2, handle_elect_leaders),
    44: (
        "IncrementalAlterConfigs",
        0,
        1,
        _later("config_control", "handle_incremental_alter_configs"),
    ),
    38: ("CreateDelegationToken", 1, 3, _later("token_control", "handle_create")),
    39: ("RenewDelegationToken", 1, 2, _later("token_control", "handle_renew")),
    40: ("ExpireDelegationToken", 1, 2, _later("token_control", "handle_expire")),
    45: ("AlterPartitionReassignments", 0, 1, handle_alter_partition_reassignments),
    46: ("ListPartitionReassignments", 0, 0, handle_list_partition_reassignments),
    49: ("AlterClientQuotas", 0, 1, _later("quota_control", "handle_alter_client_quotas")),
    51: (
        "AlterUserScramCredentials",
        0,
        0,
        _later("scram_control", "handle_alter_user_scram_credentials"),
    ),
    55: ("DescribeQuorum", 0, 2, handle_describe_quorum),
    56: ("AlterPartition", 2, 3, handle_alter_partition),
    57: ("UpdateFeatures", 0, 2, _later("update_features", "handle_update_features")),
    58: ("Envelope", 0, 0, _later("envelope", "handle_envelope")),
    62: ("BrokerRegistration", 0, 4, handle_broker_registration),
    63: ("BrokerHeartbeat", 0, 2, handle_broker_heartbeat),
    64: ("UnregisterBroker", 0, 0, handle_unregister_broker),
    67: ("AllocateProducerIds", 0, 0, handle_allocate_producer_ids),
    80: ("AddRaftVoter", 0, 1, _later("raft_voters", "handle_raft_voter_change")),
    81: ("RemoveRaftVoter", 0, 0, _later("raft_voters", "handle_raft_voter_change")),
    94: ("UnregisterController", 0, 0, handle_unregister_controller),
}
"""api key -> (name, lowest version, highest version, handler(controller, ctx, request))."""
