"""The replica fetcher against scripted leader answers: KIP-279's OffsetsForLeaderEpoch loop,
fencing errors, out-of-range resets and backoff."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kio.schema.errors import ErrorCode
from refka.core.network_client import ClientResponse, NodeAddress
from refka.protocol import codec
from refka.protocol.records import NewRecord, build_batch
from refka.replica import Replica
from refka.replication.fetcher_config import FetcherConfig
from refka.replication.replica_fetcher import (
    FetchState,
    ReplicaFetcher,
    truncation_offset,
)
from replication_helpers import TOPIC, epochs_of, make_replica, wire

TP = (TOPIC, 0)
LEADER = NodeAddress(1, "leader", 9092)


class ScriptedClient:
    def __init__(self) -> None:
        self.sent: list[tuple[Any, Callable[[ClientResponse], None]]] = []

    def ready(self, node_id: int, now_ms: int) -> bool:
        return True

    def send(self, node: NodeAddress, request: Any, now_ms: int, on_complete: Any) -> bool:
        self.sent.append((wire(request), on_complete))
        return True

    def answer(self, response: Any) -> Any:
        request, on_complete = self.sent.pop(0)
        on_complete(ClientResponse(1, request.__api_key__, wire(response)))
        return request

    def disconnect(self) -> Any:
        request, on_complete = self.sent.pop(0)
        on_complete(ClientResponse(1, request.__api_key__, None, disconnected=True))
        return request


def follower_with_epochs(epochs: list[int], leader_epoch: int) -> Replica:
    """A follower whose log holds one record per entry of ``epochs`` (Replication.tla's log)."""
    replica = make_replica(node_id=2)
    replica.become_follower(leader_epoch, 0, 1, (1, 2))
    for offset, epoch in enumerate(epochs):
        batch = build_batch(
            [NewRecord(None, b"r", (), 0)], base_offset=offset, partition_leader_epoch=epoch
        )
        replica.append_as_follower(batch, 0)
    return replica


def fetcher_for(
    replica: Replica, client: ScriptedClient, config: FetcherConfig | None = None
) -> ReplicaFetcher:
    fetcher = ReplicaFetcher(
        LEADER,
        2,
        lambda: 102,
        {TP: replica}.get,
        client,
        config or FetcherConfig(replica_fetch_backoff_ms=50, fetch_version=12),  # v17: own test
    )
    fetcher.add_partition(TP, None, replica.leader_epoch)
    return fetcher


def epoch_answer(epoch: int, end_offset: int, error: ErrorCode = ErrorCode.none) -> Any:
    m = codec.response_module(23, 4)
    return m.OffsetForLeaderEpochResponse(
        throttle_time=codec.millis(0),
        topics=(
            m.OffsetForLeaderTopicResult(
                topic=TOPIC,
                partitions=(
                    m.EpochEndOffset(
                        error_code=error, partition=0, leader_epoch=epoch, end_offset=end_offset
                    ),
                ),
            ),
        ),
    )


def fetch_answer(error: ErrorCode, records: bytes = b"", hw: int = 0, **extra: Any) -> Any:
    m = codec.response_module(1, 12)
    return m.FetchResponse(
        throttle_time=codec.millis(0),
        error_code=ErrorCode.none,
        session_id=0,
        responses=(
            m.FetchableTopicResponse(
                topic=TOPIC,
                partitions=(
                    codec.build(
                        m.PartitionData,
                        partition_index=0,
                        error_code=error,
                        high_watermark=hw,
                        last_stable_offset=hw,
                        log_start_offset=0,
                        aborted_transactions=None,
                        preferred_read_replica=-1,
                        records=records,
                        **extra,
                    ),
                ),
            ),
        ),
    )


def test_fast_leader_change_truncates_the_diverging_record() -> None:
    """spec/bugs/Replication_FastLeaderChange.cfg: r2 holds (0,2); r1 leads epoch 3 with
    [1, 1]. KIP-101's single round answered r1's LEO 2 for epoch 2 and r2 kept (0,2). With
    KIP-279 r1 answers (epoch 1, end 2); r2 has no epoch 1 below ... its cache says epoch 1 ends
    at 0 (where epoch 2 starts), so it truncates to 0 and the logs cannot diverge."""
    replica = follower_with_epochs([2], leader_epoch=3)
    client = ScriptedClient()
    fetcher = fetcher_for(replica, client)
    fetcher.poll(0)
    request = client.answer(epoch_answer(1, 2))
    asked = request.topics[0].partitions[0]
    assert (asked.leader_epoch, asked.current_leader_epoch, request.replica_id) == (2, 3, 2)
    assert replica.log_end_offset == 0
    assert fetcher.state_of(TP) is FetchState.FETCHING


def test_loop_asks_again_when_the_leader_names_an_epoch_we_lack() -> None:
    """Follower [1, 2, 4, 4]; leader's log [1, 3, 3, 3] at epoch 5. Ask for 4: the leader
    answers (3, 4); we lack epoch 3, so cut to the end of our largest epoch below it (2 ends at
    2) and ask for 2: the leader answers (1, 1): truncate to 1 and fetch (Kip279Offset)."""
    replica = follower_with_epochs([1, 2, 4, 4], leader_epoch=5)
    client = ScriptedClient()
    fetcher = fetcher_for(replica, client)
    fetcher.poll(0)
    first = client.answer(epoch_answer(3, 4))
    assert first.topics[0].partitions[0].leader_epoch == 4
    assert replica.log_end_offset == 2 and fetcher.state_of(TP) is FetchState.TRUNCATING
    fetcher.poll(0)
    second = client.answer(epoch_answer(1, 1))
    assert second.topics[0].partitions[0].leader_epoch == 2
    assert epochs_of(replica) == [1]
    assert fetcher.state_of(TP) is FetchState.FETCHING


def test_truncation_offset_cases() -> None:
    replica = follower_with_epochs([1, 1, 2], leader_epoch=3)
    assert truncation_offset(replica, 2, 5) == (3, True)  # we hold epoch 2: min(3, 5)
    assert truncation_offset(replica, 2, 2) == (2, True)
    assert truncation_offset(replica, 1, 1) == (1, True)
    assert truncation_offset(replica, -1, 2) == (2, True)  # no epoch in the answer
    assert truncation_offset(replica, -1, -1) == (0, True)  # nothing known: to our HW


def test_fetch_appends_and_takes_the_leaders_high_watermark() -> None:
    replica = follower_with_epochs([], leader_epoch=1)
    client = ScriptedClient()
    fetcher = fetcher_for(replica, client)
    fetcher.poll(0)
    client.answer(epoch_answer(-1, -1))  # empty follower: nothing to truncate
    fetcher.poll(0)
    batch = build_batch([NewRecord(None, b"a", (), 0)] * 2, partition_leader_epoch=1)
    request = client.answer(fetch_answer(ErrorCode.none, batch, hw=1))
    sent = request.topics[0].partitions[0]
    assert (sent.fetch_offset, sent.current_leader_epoch, request.replica_id) == (0, 1, 2)
    assert (request.max_wait.total_seconds(), request.min_bytes) == (0.5, 1)
    assert replica.log_end_offset == 2 and replica.high_watermark == 1
    fetcher.poll(0)
    assert client.sent[0][0].topics[0].partitions[0].fetch_offset == 2
    assert client.sent[0][0].topics[0].partitions[0].last_fetched_epoch == 1


def test_fenced_leader_epoch_removes_the_partition_until_new_metadata() -> None:
    replica = follower_with_epochs([], leader_epoch=1)
    client = ScriptedClient()
    fetcher = fetcher_for(replica, client)
    fetcher.poll(0)
    client.answer(epoch_answer(-1, -1))
    fetcher.poll(0)
    client.answer(fetch_answer(ErrorCode.fenced_leader_epoch, hw=-1))
    assert fetcher.state_of(TP) is None
    fetcher.poll(0)
    assert client.sent == []


def test_unknown_leader_epoch_backs_off_and_retries() -> None:
    replica = follower_with_epochs([], leader_epoch=1)
    client = ScriptedClient()
    fetcher = fetcher_for(replica, client)
    fetcher.poll(0)
    client.answer(epoch_answer(-1, -1, ErrorCode.unknown_leader_epoch))
    fetcher.poll(10)
    assert client.sent == [] and fetcher.next_deadline_ms() == 50
    fetcher.poll(50)
    assert len(client.sent) == 1


def test_disconnect_backs_off_every_partition_sent() -> None:
    replica = follower_with_epochs([], leader_epoch=1)
    client = ScriptedClient()
    fetcher = fetcher_for(replica, client)
    fetcher.poll(0)
    client.disconnect()
    fetcher.poll(49)
    assert client.sent == []
    fetcher.poll(50)
    assert len(client.sent) == 1


def test_offset_out_of_range_resets_to_the_leaders_log_start() -> None:
    replica = follower_with_epochs([1, 1], leader_epoch=1)
    client = ScriptedClient()
    fetcher = fetcher_for(replica, client)
    fetcher.poll(0)
    client.answer(epoch_answer(1, 2))
    fetcher.poll(0)
    client.answer(fetch_answer(ErrorCode.offset_out_of_range, hw=-1))
    assert fetcher.state_of(TP) is FetchState.RESETTING
    fetcher.poll(0)
    m = codec.response_module(2, 7)
    answer = m.ListOffsetsResponse(
        throttle_time=codec.millis(0),
        topics=(
            m.ListOffsetsTopicResponse(
                name=TOPIC,
                partitions=(
                    m.ListOffsetsPartitionResponse(
                        partition_index=0, error_code=ErrorCode.none, offset=10
                    ),
                ),
            ),
        ),
    )
    request = client.answer(answer)
    assert request.topics[0].partitions[0].timestamp == -2 and request.replica_id == 2
    assert (replica.log_start_offset, replica.log_end_offset) == (10, 10)
    assert fetcher.state_of(TP) is FetchState.FETCHING


def test_diverging_epoch_in_a_fetch_answer_truncates() -> None:
    replica = follower_with_epochs([1, 2, 2], leader_epoch=3)
    client = ScriptedClient()
    fetcher = fetcher_for(replica, client)
    fetcher.poll(0)
    client.answer(epoch_answer(2, 3))  # agrees: nothing to cut
    assert replica.log_end_offset == 3
    fetcher.poll(0)
    m = codec.response_module(1, 12)
    client.answer(
        fetch_answer(ErrorCode.none, hw=1, diverging_epoch=m.EpochEndOffset(epoch=1, end_offset=1))
    )
    assert epochs_of(replica) == [1]
    assert fetcher.state_of(TP) is FetchState.FETCHING


def test_an_answer_for_an_older_epoch_is_ignored() -> None:
    """The partition restarted (BecomeFollower at a newer epoch) while a request flew."""
    replica = follower_with_epochs([1, 1], leader_epoch=1)
    client = ScriptedClient()
    fetcher = fetcher_for(replica, client)
    fetcher.poll(0)
    replica.become_follower(2, 1, 1, (1, 2))
    fetcher.add_partition(TP, None, 2)
    client.answer(epoch_answer(0, 0))
    assert replica.log_end_offset == 2 and fetcher.state_of(TP) is FetchState.TRUNCATING
