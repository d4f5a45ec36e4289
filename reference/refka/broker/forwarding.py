"""Admin requests a broker does not decide: forwarded to the controller (KIP-590, KIP-500).

CreateTopics, DeleteTopics, CreatePartitions, AlterConfigs, IncrementalAlterConfigs,
ElectLeaders, AlterClientQuotas, DescribeQuorum, UnregisterBroker, UnregisterController and the
reassignment APIs
(KIP-455) change or read cluster metadata that only the controller holds. The broker sends the
client's request on unchanged (same API, same version) and relays the controller's answer; the
new metadata reaches the broker itself through its metadata log fetch. When the controller
cannot be reached before ``request.timeout.ms``, every item of the request gets
REQUEST_TIMED_OUT, as Kafka's ``ForwardingManager`` answers.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping
from typing import Any

from kio.schema.errors import ErrorCode
from kio.schema.types import TopicName
from kio.static.primitive import i16, i32, i32Timedelta
from refka.core.context import PENDING, Deferred, Encoded, RequestContext
from refka.core.network_client import Client, ClientResponse, NodeAddress
from refka.protocol import codec

Reply = Callable[[RequestContext, Any], None]

CREATE_TOPICS, DELETE_TOPICS, CREATE_PARTITIONS = 19, 20, 37
ALTER_CONFIGS, INCREMENTAL_ALTER_CONFIGS, ELECT_LEADERS = 33, 44, 43
ALTER_PARTITION_REASSIGNMENTS, LIST_PARTITION_REASSIGNMENTS = 45, 46
CREATE_ACLS, DELETE_ACLS = 30, 31
ALTER_USER_SCRAM_CREDENTIALS = 51
ALTER_CLIENT_QUOTAS, DESCRIBE_QUORUM, UNREGISTER_BROKER = 49, 55, 64
UNREGISTER_CONTROLLER = 94
RAFT_VOTER_RESPONSES = {80: "AddRaftVoterResponse", 81: "RemoveRaftVoterResponse"}
UPDATE_FEATURES = 57
FORWARDED = frozenset(
    {
        CREATE_TOPICS,
        DELETE_TOPICS,
        CREATE_PARTITIONS,
        ALTER_CONFIGS,
        INCREMENTAL_ALTER_CONFIGS,
        ELECT_LEADERS,
        CREATE_ACLS,
        DELETE_ACLS,
        ALTER_USER_SCRAM_CREDENTIALS,
    }
)


class ForwardingManager:
    """Sends admin requests to the controller and answers the client with its response."""

    def __init__(self, controller: NodeAddress, client: Client, reply: Reply) -> None:
        self.controller = controller
        self.client = client
        self.reply = reply

    def forward(
        self, ctx: RequestContext, request: Any, merge: Callable[[Any], Any] | None = None
    ) -> Deferred | Any:
        """``merge`` completes the controller's answer (the items the broker refused itself)."""
        complete = merge or (lambda response: response)

        def relay(result: ClientResponse) -> None:
            response = result.response
            self.reply(ctx, complete(response if response is not None else failed(ctx, request)))

        if not self.client.send(self.controller, request, ctx.now_ms, relay):
            return complete(failed(ctx, request))
        return PENDING

    def forward_enveloped(self, ctx: RequestContext, request: Any, failed_answer: Any) -> Any:
        """Forward ``request`` in an Envelope carrying ``ctx``'s principal (KIP-590), for the
        APIs whose answer depends on who asks (the delegation token APIs); ``failed_answer``
        answers when the controller cannot be reached or refuses the Envelope."""
        from kio.schema.envelope.v0.request import EnvelopeRequest
        from refka.controller.envelope import principal_data

        inner = codec.request_frame(request, ctx.correlation_id, ctx.client_id)
        envelope = EnvelopeRequest(
            request_data=inner,
            request_principal=principal_data(ctx.principal),
            client_host_address=_address(ctx.client_host),
        )

        def relay(result: ClientResponse) -> None:
            data = getattr(result.response, "response_data", None)
            if result.response is None or result.response.error_code != ErrorCode.none or not data:
                self.reply(ctx, failed_answer)
                return
            # the body as the controller wrote it (kio cannot read ExpireDelegationToken's
            # negative expiry timestamp, so it is relayed, not decoded)
            header_size = 5 if codec.is_flexible(ctx.api_key, ctx.api_version) else 4
            self.reply(ctx, Encoded((bytes(data[header_size:]),)))

        if not self.client.send(self.controller, envelope, ctx.now_ms, relay):
            return failed_answer
        return PENDING

    def create_topic(
        self,
        name: str,
        partitions: int,
        replication_factor: int,
        configs: Mapping[str, str],
        now_ms: int,
    ) -> None:
        """Ask for a topic and answer nobody: auto-creation (Metadata, ``__consumer_offsets``).
        A failure is ignored; the next request that needs the topic asks again."""
        from kio.schema.create_topics.v7.request import (  # on first use: not at start
            CreatableTopic,
            CreatableTopicConfig,
            CreateTopicsRequest,
        )

        topic = CreatableTopic(
            name=TopicName(name),
            num_partitions=i32(partitions),
            replication_factor=i16(replication_factor),
            assignments=(),
            configs=tuple(CreatableTopicConfig(name=k, value=v) for k, v in configs.items()),
        )
        request = CreateTopicsRequest(
            topics=(topic,), timeout=i32Timedelta.parse(datetime.timedelta(seconds=30))
        )
        self.client.send(self.controller, request, now_ms, lambda _: None)


def _address(host: str) -> bytes:
    """The client's address as 4 or 16 bytes (Java's ``InetAddress.getAddress``)."""
    import ipaddress

    try:
        return ipaddress.ip_address(host).packed
    except ValueError:
        return b""


def failed(
    ctx: RequestContext, request: Any, error: ErrorCode = ErrorCode.request_timed_out
) -> Any:
    """The response of ``request`` with ``error`` for every item it names."""
    m = codec.response_module(ctx.api_key, ctx.api_version)
    zero = codec.millis(0)
    if ctx.api_key == CREATE_TOPICS:
        topics = tuple(
            codec.build(
                m.CreatableTopicResult,
                name=t.name,
                topic_id=None,
                error_code=error,
                error_message=None,
                topic_config_error_code=0,
                num_partitions=-1,
                replication_factor=-1,
                configs=None,
            )
            for t in request.topics
        )
        return codec.build(m.CreateTopicsResponse, throttle_time=zero, topics=topics)
    if ctx.api_key == DELETE_TOPICS:
        names = list(getattr(request, "topic_names", ()) or ())
        names += [t.name for t in getattr(request, "topics", ()) or ()]
        results = tuple(
            codec.build(m.DeletableTopicResult, name=n, topic_id=None, error_code=error)
            for n in names
        )
        return codec.build(m.DeleteTopicsResponse, throttle_time=zero, responses=results)
    if ctx.api_key == CREATE_PARTITIONS:
        results = tuple(
            codec.build(m.CreatePartitionsTopicResult, name=t.name, error_code=error)
            for t in request.topics
        )
        return codec.build(m.CreatePartitionsResponse, throttle_time=zero, results=results)
    if ctx.api_key in (ALTER_CONFIGS, INCREMENTAL_ALTER_CONFIGS):
        responses = tuple(
            codec.build(
                m.AlterConfigsResourceResponse,
                error_code=error,
                error_message=None,
                resource_type=r.resource_type,
                resource_name=r.resource_name,
            )
            for r in request.resources
        )
        name = (
            "AlterConfigsResponse"
            if ctx.api_key == ALTER_CONFIGS
            else ("IncrementalAlterConfigsResponse")
        )
        return codec.build(getattr(m, name), throttle_time=zero, responses=responses)
    if ctx.api_key == ELECT_LEADERS:
        return codec.build(
            m.ElectLeadersResponse,
            throttle_time=zero,
            error_code=error,
            replica_election_results=(),
        )
    if ctx.api_key == ALTER_PARTITION_REASSIGNMENTS:
        return codec.build(
            m.AlterPartitionReassignmentsResponse,
            throttle_time=zero,
            error_code=error,
            error_message=None,
            responses=(),
        )
    if ctx.api_key == CREATE_ACLS:
        results = tuple(
            codec.build(m.AclCreationResult, error_code=error, error_message=None)
            for _ in request.creations
        )
        return codec.build(m.CreateAclsResponse, throttle_time=zero, results=results)
    if ctx.api_key == DELETE_ACLS:
        filter_results = tuple(
            codec.build(
                m.DeleteAclsFilterResult, error_code=error, error_message=None, matching_acls=()
            )
            for _ in request.filters
        )
        return codec.build(m.DeleteAclsResponse, throttle_time=zero, filter_results=filter_results)
    if ctx.api_key == ALTER_USER_SCRAM_CREDENTIALS:
        users = dict.fromkeys(c.name for c in (*request.deletions, *request.upsertions))
        results = tuple(
            codec.build(
                m.AlterUserScramCredentialsResult, user=u, error_code=error, error_message=None
            )
            for u in users
        )
        return codec.build(m.AlterUserScramCredentialsResponse, throttle_time=zero, results=results)
    if ctx.api_key == ALTER_CLIENT_QUOTAS:
        entries = tuple(
            codec.build(
                m.EntryData,
                error_code=error,
                error_message=None,
                entity=tuple(
                    codec.build(m.EntityData, entity_type=e.entity_type, entity_name=e.entity_name)
                    for e in entry.entity
                ),
            )
            for entry in request.entries
        )
        return codec.build(m.AlterClientQuotasResponse, throttle_time=zero, entries=entries)
    if ctx.api_key == UNREGISTER_BROKER:
        return codec.build(
            m.UnregisterBrokerResponse, throttle_time=zero, error_code=error, error_message=None
        )
    if ctx.api_key == UNREGISTER_CONTROLLER:  # its error field is a plain int16
        return codec.build(
            m.UnregisterControllerResponse,
            throttle_time=zero,
            error_code=i16(error.value),
            error_message=None,
        )
    if ctx.api_key == UPDATE_FEATURES:
        return codec.build(
            m.UpdateFeaturesResponse,
            throttle_time=zero,
            error_code=error,
            error_message=None,
            results=(),
        )
    if ctx.api_key in RAFT_VOTER_RESPONSES:
        return codec.build(
            getattr(m, RAFT_VOTER_RESPONSES[ctx.api_key]),
            throttle_time=zero,
            error_code=error,
            error_message=None,
        )
    if ctx.api_key == DESCRIBE_QUORUM:
        return codec.build(
            m.DescribeQuorumResponse, error_code=error, error_message=None, topics=(), nodes=()
        )
    if ctx.api_key == LIST_PARTITION_REASSIGNMENTS:
        return codec.build(
            m.ListPartitionReassignmentsResponse,
            throttle_time=zero,
            error_code=error,
            error_message=None,
            topics=(),
        )
    raise ValueError(f"API {ctx.api_key} is not forwarded")
