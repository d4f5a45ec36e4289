"""The canary: a well-behaved client that must keep being served while the fuzzer runs.

Between rounds of hostile inputs it produces one record with acks=all to its own topic and
reads the whole topic back; every acknowledged record must be there, in order. The same
requests serve the in-process target and the socket target (``Canary.check`` takes the
function that carries one request to the broker and returns its decoded response).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kio.schema.create_topics.v4 import request as create_topics
from kio.schema.fetch.v12 import request as fetch
from kio.schema.produce.v9 import request as produce

from refka.protocol import codec
from refka.protocol.records import NewRecord, build_batch, iter_batch_records

Call = Callable[[Any], Any]  # a request entity in, its decoded response out


def _ms(value: int) -> datetime.timedelta:
    return datetime.timedelta(milliseconds=value)


def create_topics_request(names: tuple[str, ...]) -> Any:
    topics = tuple(
        codec.build(
            create_topics.CreatableTopic,
            name=name,
            num_partitions=2,
            replication_factor=1,
            assignments=(),
            configs=(),
        )
        for name in names
    )
    return codec.build(create_topics.CreateTopicsRequest, topics=topics, timeout=_ms(5_000))


@dataclass
class Canary:
    """The canary's topic and what the broker acknowledged on it."""

    topic: str
    acknowledged: list[bytes] = field(default_factory=list)

    def check(self, call: Call, value: bytes) -> str | None:
        """Produce ``value`` with acks=all and read the topic back; a problem, or None."""
        batch = build_batch([NewRecord(b"canary", value)])
        partition = codec.build(produce.PartitionProduceData, index=0, records=batch)
        topic = codec.build(produce.TopicProduceData, name=self.topic, partition_data=(partition,))
        request = codec.build(
            produce.ProduceRequest, acks=-1, timeout=_ms(5_000), topic_data=(topic,)
        )
        error = call(request).responses[0].partition_responses[0].error_code
        if error.value != 0:
            return f"the canary's produce failed: {error.name}"
        self.acknowledged.append(value)
        read = self.read(call)
        if read != self.acknowledged:
            return f"the canary read {len(read)} records, {len(self.acknowledged)} acknowledged"
        return None

    def read(self, call: Call) -> list[bytes]:
        """Every record value in partition 0 of the canary's topic."""
        partition = codec.build(
            fetch.FetchPartition,
            partition=0,
            fetch_offset=0,
            log_start_offset=-1,
            partition_max_bytes=64 << 20,
            current_leader_epoch=-1,
            last_fetched_epoch=-1,
        )
        topic = codec.build(fetch.FetchTopic, topic=self.topic, partitions=(partition,))
        request = codec.build(
            fetch.FetchRequest,
            replica_id=-1,
            max_wait=_ms(0),
            min_bytes=1,
            max_bytes=64 << 20,
            isolation_level=0,
            session_id=0,
            session_epoch=-1,
            topics=(topic,),
            forgotten_topics_data=(),
            rack_id="",
        )
        records = call(request).responses[0].partitions[0].records or b""
        return [r.value or b"" for _, batch in iter_batch_records(records) for r in batch]
