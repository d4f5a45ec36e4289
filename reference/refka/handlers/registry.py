"""Which APIs the broker speaks, at which versions, and the handler of each.

ApiVersions advertises exactly this table. The ranges are chosen so that librdkafka
(confluent-kafka, kcat), kafka-python, aiokafka and the Java client each find a common version
for every API they use (``docs/architecture.md`` lists why each bound is where it is).
Produce is advertised from v0 as Apache Kafka 4 does (KIP-896), so that librdkafka < 2.11.1
keeps compression on, but v0-v2 are refused on the wire (kio has no schema for them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from refka.protocol import codec

if TYPE_CHECKING:
    from refka.core.broker import Broker
    from refka.core.context import RequestContext

Handler = Callable[["Broker", "RequestContext", Any], Any]


@dataclass(frozen=True, slots=True)
class Api:
    key: int
    name: str
    min_version: int
    max_version: int
    handle: Handler
    advertised_min_version: int | None = None

    def supports(self, version: int) -> bool:
        return self.min_version <= version <= self.max_version

    def request_class(self, version: int) -> type:
        return codec.request_class(self.key, version)

    @property
    def advertised(self) -> tuple[int, int]:
        low = (
            self.min_version if self.advertised_min_version is None else self.advertised_min_version
        )
        return low, self.max_version


def _apis() -> dict[int, Api]:
    from refka.handlers import (
        alter_configs,
        api_versions,
        cluster,
        configs,
        fetch,
        group,
        list_offsets,
        metadata,
        produce,
        producer_ids,
        topics,
    )

    apis = [
        Api(0, "Produce", 3, 11, produce.handle_produce, advertised_min_version=0),
        Api(1, "Fetch", 4, 12, fetch.handle_fetch),
        Api(2, "ListOffsets", 1, 11, list_offsets.handle_list_offsets),
        Api(3, "Metadata", 0, 12, metadata.handle_metadata),
        Api(18, "ApiVersions", 0, 4, api_versions.handle_api_versions),
        Api(19, "CreateTopics", 2, 7, topics.handle_create_topics),
        Api(20, "DeleteTopics", 1, 6, topics.handle_delete_topics),
        Api(22, "InitProducerId", 0, 5, producer_ids.handle_init_producer_id),
        Api(32, "DescribeConfigs", 1, 4, configs.handle_describe_configs),
        Api(33, "AlterConfigs", 0, 2, alter_configs.handle_alter_configs),
        Api(44, "IncrementalAlterConfigs", 0, 1, alter_configs.handle_incremental_alter_configs),
        Api(37, "CreatePartitions", 0, 3, topics.handle_create_partitions),
        Api(60, "DescribeCluster", 0, 1, cluster.handle_describe_cluster),
    ]
    for key, (low, high) in group.SUPPORTED_VERSIONS.items():
        apis.append(Api(key, group.NAMES[key], low, high, group.HANDLERS[key]))
    return {api.key: api for api in apis}


def make_group_coordinator(broker: Broker, now_ms: int) -> Any:
    from refka.handlers import group

    return group.make_coordinator(broker, now_ms)


APIS: dict[int, Api] = _apis()
