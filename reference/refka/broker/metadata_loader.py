"""How a broker learns cluster metadata: it fetches the controller's metadata log (KIP-500,
KIP-631) as a KRaft observer, applies the committed records to its ``MetadataImage``, and hands
each delta to its publishers (replica roles, the group coordinator, the broker's views).

No broker edits cluster metadata on its own: a topic exists on a broker once the record that
created it has arrived here. Kafka's broker does the same through ``KafkaRaftClient`` (as an
observer) and ``MetadataLoader``; refka's loader asks with the plain Fetch API (see the wire
shape in ``docs/replication.md``) and long-polls, so a change reaches every broker in about a
network round trip.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kio.schema.errors import ErrorCode
from kio.schema.fetch.v12.request import FetchPartition, FetchRequest, FetchTopic
from kio.schema.types import BrokerId, TopicName
from kio.static.primitive import i8, i32, i32Timedelta, i64
from refka.core.network_client import Client, ClientResponse, NodeAddress
from refka.metadata.image import MetadataDelta, MetadataImage
from refka.metadata.metadata_log import decode_batches
from refka.protocol.batch_header import iter_headers

METADATA_TOPIC = "__cluster_metadata"
FETCH_MAX_WAIT_MS = 500
FETCH_MAX_BYTES = 8 * 1024 * 1024

Publisher = Callable[[MetadataImage, MetadataDelta, int], None]  # (image, delta, now_ms)


class MetadataLoader:
    """Fetches the metadata log from the controller and publishes each applied delta."""

    def __init__(
        self,
        node_id: int,
        controller: NodeAddress,
        client: Client,
        image: MetadataImage,
        publish: Publisher,
        retry_backoff_ms: int,
        now_ms: int,
    ) -> None:
        self.node_id = node_id
        self.controller = controller
        self.client = client
        self.image = image
        self.publish = publish
        self.retry_backoff_ms = retry_backoff_ms
        self.last_fetched_epoch = -1
        self.high_watermark = 0
        self._in_flight = False
        self._next_fetch_ms = now_ms
        self._last_fetch: tuple[tuple[int, int], FetchRequest] | None = None

    @property
    def next_offset(self) -> int:
        return self.image.offset + 1

    @property
    def caught_up(self) -> bool:
        """Every record below the controller's last known high watermark is applied."""
        return self.next_offset >= self.high_watermark

    def on_tick(self, now_ms: int) -> None:
        if self._in_flight or now_ms < self._next_fetch_ms:
            return
        self._in_flight = self.client.send(
            self.controller, self._fetch_request(), now_ms, self._on_response
        )
        if not self._in_flight:
            self._next_fetch_ms = now_ms + self.retry_backoff_ms

    def next_deadline_ms(self) -> int | None:
        return None if self._in_flight else self._next_fetch_ms

    def _fetch_request(self) -> FetchRequest:
        """The Fetch from ``next_offset``; the previous request again while nothing was
        applied (a caught-up broker long-polls the controller with the same request)."""
        asked = (self.next_offset, self.last_fetched_epoch)
        if self._last_fetch is None or self._last_fetch[0] != asked:
            self._last_fetch = (asked, self._build_fetch_request())
        return self._last_fetch[1]

    def _build_fetch_request(self) -> FetchRequest:
        partition = FetchPartition(
            partition=i32(0),
            current_leader_epoch=i32(-1),
            fetch_offset=i64(self.next_offset),
            last_fetched_epoch=i32(self.last_fetched_epoch),
            log_start_offset=i64(-1),
            partition_max_bytes=i32(FETCH_MAX_BYTES),
        )
        return FetchRequest(
            replica_id=BrokerId(self.node_id),
            max_wait=i32Timedelta.parse(_ms(FETCH_MAX_WAIT_MS)),
            min_bytes=i32(1),
            max_bytes=i32(FETCH_MAX_BYTES),
            isolation_level=i8(0),
            session_id=i32(0),
            session_epoch=i32(-1),
            topics=(FetchTopic(topic=TopicName(METADATA_TOPIC), partitions=(partition,)),),
            forgotten_topics_data=(),
            rack_id="",
        )

    def _on_response(self, result: ClientResponse) -> None:
        self._in_flight = False
        now_ms = result.now_ms
        response = result.response
        data = _partition_data(response)
        if data is None or data.error_code != ErrorCode.none:
            self._next_fetch_ms = now_ms + self.retry_backoff_ms
            return
        self.high_watermark = int(data.high_watermark)
        self._apply(data.records or b"", now_ms)
        self._next_fetch_ms = now_ms  # fetch again at once: the controller long-polls

    def _apply(self, records: bytes, now_ms: int) -> None:
        """Apply the fetched records below the high watermark, in one delta."""
        fetched = [
            (offset, record)
            for offset, record in decode_batches(records)
            if self.next_offset <= offset < self.high_watermark
        ]
        if not fetched:
            return
        epochs = [h.partition_leader_epoch for h in iter_headers(records)]
        self.last_fetched_epoch = epochs[-1] if epochs else self.last_fetched_epoch
        last_offset = fetched[-1][0]
        image, delta = self.image.apply(last_offset, [record for _, record in fetched])
        self.image = image
        self.publish(image, delta, now_ms)


def _partition_data(response: Any) -> Any:
    if response is None or response.error_code != ErrorCode.none:
        return None
    for topic in response.responses:
        for partition in topic.partitions:
            return partition
    return None


def _ms(value: int) -> Any:
    import datetime

    return datetime.timedelta(milliseconds=value)
