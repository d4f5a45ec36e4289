"""Which APIs the broker speaks, at which versions, and the handler of each.

ApiVersions advertises exactly this table: each API at Apache Kafka 4.4's range (issue 12; a
client pinned to a Kafka release sends that release's versions without asking), which
librdkafka (confluent-kafka, kcat), kafka-python, aiokafka and the Java client each find a
common version in (``docs/architecture.md`` lists what each newer version changes).
Produce is advertised from v0 as Apache Kafka 4 does (KIP-896), so that librdkafka < 2.11.1
keeps compression on, but v0-v2 are refused on the wire (kio has no schema for them).

How handlers reach the broker (one scheme for every handler): a handler is a plain function
``handle_x(service, ctx, request)`` whose first argument is the one narrow service of its area,
never the whole broker:

- ``Partitions`` (``refka.core.partitions``): Produce, Fetch, ListOffsets;
- ``ReplicaManager`` (``refka.replication.replica_manager``): DeleteRecords, OffsetForLeaderEpoch,
  DescribeLogDirs;
- ``Topics`` (``refka.core.topics``): Metadata, CreateTopics, DeleteTopics, CreatePartitions,
  DescribeConfigs, AlterConfigs, IncrementalAlterConfigs, DescribeCluster, InitProducerId,
  DescribeTopicPartitions;
- ``GroupService`` (``refka.core.groups``): the group APIs;
- ``TransactionService`` (``refka.core.transactions``): the transaction APIs, and
  FindCoordinator and InitProducerId for a transactional id;
- ``ClientMetrics`` (``refka.core.client_metrics``): GetTelemetrySubscriptions, PushTelemetry
  (answered, not listed in ApiVersions, as Kafka without a metrics plugin);
- the API table itself: ApiVersions.

:func:`broker_apis` binds each handler to its service with ``functools.partial``, so the
dispatcher (``refka.core.dispatch``) calls ``api.handle(ctx, request)``. The core imports this
module; nothing here imports the core's ``Broker`` (the services are built first, then the
table), so there is no import circle. A controller core builds its own table the same way from
its own services.

The handlers a first Metadata answer needs (ApiVersions, Metadata, the forwarded admin APIs) are
imported with this module; every other handler module on its API's first request
(:func:`on_first_request`), so that the broker's start does not import them, nor the group
machinery behind the group handlers (issue 15).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from refka.core.client_metrics import ClientMetrics
from refka.core.dispatch import Api
from refka.core.groups import GroupService
from refka.core.partitions import Partitions
from refka.core.topics import Topics
from refka.core.transactions import TransactionService
from refka.handlers import api_versions, forwarded, group_apis, metadata
from refka.replication.replica_manager import ReplicaManager
from refka.security.authenticator import SaslAuthenticator

Handler = Callable[[Any, Any], Any]  # (ctx, request) -> response


def on_first_request(module: str, name: str, *services: object) -> Handler:
    """The handler ``name`` of ``refka.handlers.<module>``, bound to ``services``, imported
    when its first request arrives."""
    bound: Handler | None = None

    def handle(ctx: Any, request: Any) -> Any:
        nonlocal bound
        if bound is None:
            found = getattr(importlib.import_module(f"refka.handlers.{module}"), name)
            bound = partial(found, *services)
        return bound(ctx, request)

    return handle


class _GroupResponders(Mapping[int, Callable[[int, Any], Any]]):
    """``refka.handlers.group.RESPONDERS``, imported on first use (a group reply)."""

    def _table(self) -> Mapping[int, Callable[[int, Any], Any]]:
        from refka.handlers import group

        return group.RESPONDERS

    def __getitem__(self, key: int) -> Callable[[int, Any], Any]:
        return self._table()[key]

    def __iter__(self) -> Iterator[int]:
        return iter(self._table())

    def __len__(self) -> int:
        return len(self._table())


GROUP_RESPONDERS: Mapping[int, Callable[[int, Any], Any]] = _GroupResponders()
"""Coordinator results -> wire responses, for the ``GroupService`` to answer with."""


@dataclass(frozen=True, slots=True)
class BrokerServices:
    """The services the broker's handlers are bound to."""

    partitions: Partitions
    topics: Topics
    groups: GroupService
    replicas: ReplicaManager
    transactions: TransactionService
    client_metrics: ClientMetrics


def broker_apis(services: BrokerServices) -> dict[int, Api]:
    """The broker's API table, each handler bound to its service."""
    p, t, r = services.partitions, services.topics, services.replicas
    x, g, txn = services.transactions, services.groups, "transactions"
    admin, ard = "transaction_admin", "alter_replica_log_dirs"
    forward = partial(forwarded.handle_forwarded, t)
    lazy = on_first_request
    produce = lazy("produce", "handle_produce", p, r, x)
    handle_dtp = "handle_describe_topic_partitions"
    dscram = "handle_describe_user_scram_credentials"
    tokens = "delegation_tokens"
    get_telemetry, cm = "handle_get_telemetry_subscriptions", services.client_metrics
    describe_quotas = "handle_describe_client_quotas"
    list_resources = "handle_list_config_resources"
    apis: dict[int, Api] = {}

    def who() -> tuple[str | None, int]:
        return t.cluster_id, t.node.node_id

    def features() -> tuple[Mapping[str, int], int]:
        return t.image.features, t.image.offset

    table = [
        Api(0, "Produce", 3, 13, produce, advertised_min_version=0),
        Api(1, "Fetch", 4, 18, lazy("fetch", "handle_fetch", p, r)),
        Api(2, "ListOffsets", 1, 11, lazy("list_offsets", "handle_list_offsets", p, r)),
        Api(3, "Metadata", 0, 13, partial(metadata.handle_metadata, t)),
        Api(
            18,
            "ApiVersions",
            0,
            5,
            partial(api_versions.handle_api_versions, apis, identity=who, features=features),
        ),
        Api(19, "CreateTopics", 2, 7, forward),
        Api(20, "DeleteTopics", 1, 6, forward),
        Api(21, "DeleteRecords", 0, 2, lazy("delete_records", "handle_delete_records", r)),
        Api(22, "InitProducerId", 0, 5, lazy("producer_ids", "handle_init_producer_id", t, x)),
        Api(23, "OffsetForLeaderEpoch", 2, 4, lazy("offset_for_leader_epoch", "handle", r)),
        Api(24, "AddPartitionsToTxn", 0, 5, lazy(txn, "handle_add_partitions_to_txn", x)),
        Api(25, "AddOffsetsToTxn", 0, 4, lazy(txn, "handle_add_offsets_to_txn", x)),
        Api(26, "EndTxn", 0, 5, lazy(txn, "handle_end_txn", x)),
        Api(27, "WriteTxnMarkers", 1, 2, lazy("write_txn_markers", "handle_write_txn_markers", x)),
        Api(
            28, "TxnOffsetCommit", 0, 6, lazy("txn_offset_commit", "handle_txn_offset_commit", g, x)
        ),
        Api(29, "DescribeAcls", 1, 3, lazy("acls", "handle_describe_acls", t)),
        Api(30, "CreateAcls", 1, 3, lazy("acls", "handle_alter_acls", t)),
        Api(31, "DeleteAcls", 1, 3, lazy("acls", "handle_alter_acls", t)),
        Api(32, "DescribeConfigs", 1, 4, lazy("configs", "handle_describe_configs", t)),
        Api(33, "AlterConfigs", 0, 2, forward),
        Api(34, "AlterReplicaLogDirs", 1, 2, lazy(ard, "handle_alter_replica_log_dirs", r)),
        Api(35, "DescribeLogDirs", 1, 5, lazy("log_dirs", "handle_describe_log_dirs", r)),
        Api(37, "CreatePartitions", 0, 3, forward),
        Api(38, "CreateDelegationToken", 1, 3, lazy(tokens, "handle_token_change", t)),
        Api(39, "RenewDelegationToken", 1, 2, lazy(tokens, "handle_token_change", t)),
        Api(40, "ExpireDelegationToken", 1, 2, lazy(tokens, "handle_token_change", t)),
        Api(41, "DescribeDelegationToken", 1, 3, lazy(tokens, "handle_describe", t)),
        Api(43, "ElectLeaders", 0, 2, forward),
        Api(44, "IncrementalAlterConfigs", 0, 1, forward),
        Api(45, "AlterPartitionReassignments", 0, 1, forward),
        Api(46, "ListPartitionReassignments", 0, 0, forward),
        Api(48, "DescribeClientQuotas", 0, 1, lazy("client_quotas", describe_quotas, t)),
        Api(49, "AlterClientQuotas", 0, 1, forward),
        Api(50, "DescribeUserScramCredentials", 0, 0, lazy("scram_credentials", dscram, t)),
        Api(51, "AlterUserScramCredentials", 0, 0, forward),
        Api(55, "DescribeQuorum", 0, 2, forward),
        Api(57, "UpdateFeatures", 0, 2, forward),
        Api(64, "UnregisterBroker", 0, 0, forward),
        Api(94, "UnregisterController", 0, 0, forward),
        Api(80, "AddRaftVoter", 0, 1, forward),
        Api(81, "RemoveRaftVoter", 0, 0, forward),
        Api(60, "DescribeCluster", 0, 2, lazy("cluster", "handle_describe_cluster", t)),
        Api(61, "DescribeProducers", 0, 0, lazy("describe_producers", "handle", p)),
        Api(65, "DescribeTransactions", 0, 0, lazy(admin, "handle_describe_transactions", x)),
        Api(66, "ListTransactions", 0, 2, lazy(admin, "handle_list_transactions", x)),
        Api(74, "ListConfigResources", 0, 1, lazy("config_resources", list_resources, t)),
        Api(75, "DescribeTopicPartitions", 0, 0, lazy("topic_partitions", handle_dtp, t)),
        Api(
            71,
            "GetTelemetrySubscriptions",
            0,
            0,
            lazy("telemetry", get_telemetry, cm),
            listed=False,
        ),
        Api(
            72, "PushTelemetry", 0, 0, lazy("telemetry", "handle_push_telemetry", cm), listed=False
        ),
    ]
    for key, (low, high) in group_apis.SUPPORTED_VERSIONS.items():
        handler = lazy("group", "handle", key, services.groups)
        if key == group_apis.FIND_COORDINATOR:  # transactional ids too
            handler = lazy("group", "find_coordinator", services.groups, x)
        table.append(Api(key, group_apis.NAMES[key], low, high, handler))
    apis.update((api.key, api) for api in table)
    return apis


def sasl_apis(sasl: SaslAuthenticator) -> dict[int, Api]:
    """SaslHandshake and SaslAuthenticate, bound to the core's SASL sessions (KIP-43, KIP-152)."""
    handshake = on_first_request("sasl", "handle_sasl_handshake", sasl)
    authenticate = on_first_request("sasl", "handle_sasl_authenticate", sasl)
    return {
        17: Api(17, "SaslHandshake", 0, 1, handshake),
        36: Api(36, "SaslAuthenticate", 0, 2, authenticate),
    }


def unsupported_api_versions(apis: Mapping[int, Api]) -> Callable[[], Any]:
    """The KIP-511 answer for ``apis`` (an ApiVersions request at a version not in the table)."""
    return partial(api_versions.unsupported_version_response, apis)
