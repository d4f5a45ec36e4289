"""The broker under test: its address, what it advertises, and the probe helpers tests share.

A probe asks `target.version(API, lo, hi)` for the highest version both the target and the
probe speak; `require_api` turns "none" into a skip whose reason starts with "not supported",
which the report counts apart from failures.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from kio.index import schema_name_map as _schemas
from kio.schema.errors import ErrorCode
from kio.schema.index import api_key_map
from refka.protocol.kio_extra import APIS as EXTRA_APIS

from conformance.wire import EXTRA_SCHEMAS, Connection, build, request_schema


def eventually(
    call: Callable[[], Any], done: Callable[[Any], bool] = bool, deadline_s: float = 15.0
) -> Any:
    """``call()`` until ``done`` holds for its answer, or the deadline: what the answer is then.

    A broker learns of a committed change (a config, an ACL, a quota) when it reaches the
    record in the metadata log, a moment after the controller answered the request.
    """
    end = time.monotonic() + deadline_s
    while True:
        answer = call()
        if done(answer) or time.monotonic() > end:
            return answer
        time.sleep(0.05)


# API keys by Kafka's name (the names in the report and in @pytest.mark.api).
API_KEYS: dict[str, int] = {
    "".join(part.capitalize() for part in name.split("_")): key
    for key, name in {**api_key_map, **EXTRA_APIS}.items()
}
API_KEYS["ApiVersions"] = 18
API_NAMES: dict[int, str] = {key: name for name, key in API_KEYS.items()}

NOT_SUPPORTED = "not supported"


def kio_versions(api_key: int) -> range:
    """The versions the suite can encode: kio's, and those declared where kio lacks them."""
    if api_key not in api_key_map:  # a whole API kio lacks (UnregisterController)
        extra = sorted(v for k, v in EXTRA_SCHEMAS if k == api_key)
        return range(extra[0], extra[-1] + 1) if extra else range(0)
    versions = sorted(_schemas[api_key_map[api_key]])
    newest = max([versions[-1], *(v for k, v in EXTRA_SCHEMAS if k == api_key)])
    return range(versions[0], newest + 1)


def api_key_of(api: str | int) -> int:
    return api if isinstance(api, int) else API_KEYS[api]


@dataclass
class Target:
    """One broker reached at `bootstrap`; `api_ranges` is its ApiVersions answer.

    `bootstrap` may list several brokers (comma-separated); probes talk to the first, whose
    node id is `node_id` (None if Metadata does not list its address). On a cluster,
    `create_topic` places single-replica topics on that broker, so the single-broker probes
    find every partition's leader at the end of their connection.
    """

    bootstrap: str
    api_ranges: dict[int, tuple[int, int]] = field(default_factory=dict)
    name: str = "unknown"
    cluster_id: str | None = None
    node_id: int | None = None
    broker_count: int = 1
    _admin: Connection | None = None

    @classmethod
    def discover(cls, bootstrap: str, name: str | None = None) -> Target:
        target = cls(bootstrap)
        with Connection(bootstrap) as conn:
            answer = conn.request(build(18, 0))
            target.api_ranges = {
                int(a.api_key): (int(a.min_version), int(a.max_version)) for a in answer.api_keys
            }
            version = target.version("Metadata", 2, 12) or 1
            metadata = conn.request(build(3, version, topics=[]))
            target.cluster_id = getattr(metadata, "cluster_id", None)
        first = bootstrap.split(",")[0].strip()
        ids = [int(b.node_id) for b in metadata.brokers if f"{b.host}:{b.port}" == first]
        target.node_id = ids[0] if ids else None
        target.broker_count = len(metadata.brokers)
        target.name = name or guess_name(target.cluster_id)
        return target

    def version(self, api: str | int, lo: int = 0, hi: int | None = None) -> int | None:
        """The highest version in [lo, hi] that the target advertises and kio knows."""
        key = api_key_of(api)
        if key not in self.api_ranges:
            return None
        low, high = self.api_ranges[key]
        known = kio_versions(key)
        top = min(high, known.stop - 1, hi if hi is not None else high)
        bottom = max(low, lo, known.start)
        return top if top >= bottom else None

    def connect(self, timeout_s: float = 15.0) -> Connection:
        return Connection(self.bootstrap, timeout_s)

    def brokers(self) -> dict[int, str]:
        """The live brokers from Metadata: node id -> `host:port`."""
        answer = self.call(
            "Metadata",
            1,
            12,
            topics=[],
            allow_auto_topic_creation=False,
            include_topic_authorized_operations=False,
            include_cluster_authorized_operations=False,
        )
        return {int(b.node_id): f"{b.host}:{b.port}" for b in answer.brokers}

    def connect_to(self, node_id: int, timeout_s: float = 15.0) -> Connection:
        """A connection to one broker of the cluster, by its node id (address from Metadata)."""
        return Connection(self.brokers()[node_id], timeout_s)

    def admin(self) -> Connection:
        """A shared connection for setup requests (reopened if a probe broke it)."""
        if self._admin is None:
            self._admin = self.connect()
        return self._admin

    def call(self, api: str | int, lo: int = 0, hi: int | None = None, **fields: Any) -> Any:
        """Build the request at the best common version and send it on the admin connection."""
        version = require_api(self, api, lo, hi)
        try:
            return self.admin().request(build(api_key_of(api), version, **fields))
        except OSError:
            self._admin = None
            return self.admin().request(build(api_key_of(api), version, **fields))

    def create_topic(
        self,
        name: str,
        partitions: int = 1,
        configs: dict[str, str] | None = None,
        replication_factor: int = 1,
    ) -> None:
        """CreateTopics, then wait until Metadata shows a leader for every partition."""
        spec = topic_spec(name, partitions, configs, replication_factor)
        if self.broker_count > 1 and replication_factor == 1 and self.node_id is not None:
            spec |= on_broker(self.node_id, partitions)
        answer = self.call(
            "CreateTopics",
            2,
            None,
            topics=[spec],
            timeout=15000,
            validate_only=False,
        )
        error = answer.topics[0].error_code
        if error != ErrorCode.none:
            raise AssertionError(f"could not create topic {name}: {error!r}")
        self.wait_leaders(name, partitions)

    def wait_leaders(self, name: str, partitions: int, deadline_s: float = 15.0) -> None:
        end = time.monotonic() + deadline_s
        while True:
            topic = self.metadata_topic(name)
            if (
                topic is not None
                and topic.error_code == ErrorCode.none
                and len(topic.partitions) == partitions
                and all(p.leader_id >= 0 for p in topic.partitions)
            ) and self._partitions_serve(topic):
                return
            if time.monotonic() > end:
                raise AssertionError(f"topic {name} has no leaders after {deadline_s}s: {topic}")
            time.sleep(0.05)

    def _partitions_serve(self, topic: Any) -> bool:
        """Each partition's leader answers ListOffsets (the metadata can run ahead of it)."""
        if self.version("ListOffsets", 1) is None:
            return True
        by_leader: dict[int, list[int]] = {}
        for p in topic.partitions:
            by_leader.setdefault(int(p.leader_id), []).append(int(p.partition_index))
        for leader, indexes in by_leader.items():
            request = build(
                API_KEYS["ListOffsets"],
                require_api(self, "ListOffsets", 1),
                replica_id=-1,
                isolation_level=0,
                timeout=5000,
                topics=[
                    {
                        "name": topic.name,
                        "partitions": [
                            {"partition_index": i, "current_leader_epoch": -1, "timestamp": -1}
                            for i in indexes
                        ],
                    }
                ],
            )
            answer = self.request_to(leader, request)
            if any(p.error_code != ErrorCode.none for p in answer.topics[0].partitions):
                return False
        return True

    def request_to(self, node_id: int, request: Any) -> Any:
        """Send `request` to broker `node_id`: on the admin connection if it is the first
        bootstrap broker (or the target is one broker), else on a new connection."""
        if self.broker_count == 1 or node_id == self.node_id:
            try:
                return self.admin().request(request)
            except OSError:
                self._admin = None
                return self.admin().request(request)
        with self.connect_to(node_id) as conn:
            return conn.request(request)

    def metadata_topic(self, name: str, auto_create: bool = False) -> Any:
        answer = self.call(
            "Metadata",
            1,
            12,
            topics=[{"name": name, "topic_id": None}],
            allow_auto_topic_creation=auto_create,
            include_topic_authorized_operations=False,
            include_cluster_authorized_operations=False,
        )
        return answer.topics[0] if answer.topics else None

    def close(self) -> None:
        if self._admin is not None:
            self._admin.close()
            self._admin = None


def topic_spec(
    name: str, partitions: int, configs: dict[str, str] | None = None, replication_factor: int = 1
) -> dict:
    return {
        "name": name,
        "num_partitions": partitions,
        "replication_factor": replication_factor,
        "assignments": [],
        "configs": [{"name": k, "value": v} for k, v in (configs or {}).items()],
    }


def on_broker(node_id: int, partitions: int) -> dict:
    """CreateTopics fields that place every partition's one replica on broker `node_id`."""
    return {
        "num_partitions": -1,
        "replication_factor": -1,
        "assignments": [{"partition_index": i, "broker_ids": [node_id]} for i in range(partitions)],
    }


def guess_name(cluster_id: str | None) -> str:
    if cluster_id and "tansu" in cluster_id.lower():
        return "Tansu"
    if cluster_id and "refka" in cluster_id.lower():
        return "refka"
    return "unknown"


def require_api(target: Target, api: str | int, lo: int = 0, hi: int | None = None) -> int:
    """The version to probe `api` at, or skip as "not supported" when there is none."""
    version = target.version(api, lo, hi)
    if version is None:
        key = api_key_of(api)
        advertised = target.api_ranges.get(key)
        wanted = f"v{lo}+" if hi is None else (f"v{lo}" if lo == hi else f"v{lo}..v{hi}")
        offered = f"v{advertised[0]}..v{advertised[1]}" if advertised else "none"
        pytest.skip(
            f"{NOT_SUPPORTED}: {API_NAMES.get(key, key)} {wanted} (target advertises {offered})"
        )
    return version


def unique_topic(prefix: str = "conform") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def request_type(api: str | int, version: int) -> Any:
    return request_schema(api_key_of(api), version)
