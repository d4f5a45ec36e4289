"""A partition leader asks the transaction coordinator about a transaction's first write to a
partition (Kafka's ``AddPartitionsToTxnManager``, KIP-890).

Part 1 (Produce v11 and older, TxnOffsetCommit v4 and older): *verify* that the partition is
already in the producer's ongoing transaction. Part 2 (Produce v12+, TxnOffsetCommit v5+, the
clients of transaction version 2): *add* it, so that the client sends no AddPartitionsToTxn
(or AddOffsetsToTxn) itself. Either way the write waits for the answer.

When this broker coordinates the transactional id the coordinator is asked directly (an add
waits until its ``__transaction_state`` record is replicated); else the coordinator's broker
gets an AddPartitionsToTxn v5 request (``verify_only`` for part 1) through the broker's
``NetworkClient``, answered asynchronously. The answers are mapped as Kafka maps them for the
client: PRODUCER_FENCED becomes INVALID_PRODUCER_EPOCH; a coordinator that is moving, loading,
unreachable or still writing the last transaction's markers (CONCURRENT_TRANSACTIONS) becomes
NOT_ENOUGH_REPLICAS, an error the producer retries.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from kio.schema.errors import ErrorCode

from refka.core.network_client import ClientResponse, NetworkClient, NodeAddress

if TYPE_CHECKING:
    from refka.core.transactions import TransactionService

TopicPartition = tuple[str, int]
Verified = Callable[[dict[TopicPartition, ErrorCode]], None]
E = ErrorCode

RETRIABLE = frozenset(
    {
        E.not_coordinator,
        E.coordinator_not_available,
        E.coordinator_load_in_progress,
        E.concurrent_transactions,
        E.network_exception,
        E.request_timed_out,
    }
)


def for_client(error: ErrorCode) -> ErrorCode:
    """The coordinator's answer as the writing client is told it (Kafka's mapping)."""
    if error == E.producer_fenced:
        return E.invalid_producer_epoch
    if error in RETRIABLE:
        return E.not_enough_replicas
    return error


class AddPartitionsToTxnManager:
    """Verifies or adds partitions for the writes that wait on the coordinator."""

    def __init__(
        self,
        txns: TransactionService,
        client: NetworkClient,
        coordinator_address: Callable[[str, int], NodeAddress | None],
    ) -> None:
        """``coordinator_address(transactional_id, now_ms)``: the broker coordinating the id
        now (None while unknown)."""
        self._txns = txns
        self._client = client
        self._coordinator_address = coordinator_address
        # ids whose add waits for its __transaction_state write here: later checks of the
        # id wait behind it, so that writes are appended in the order they came
        self._writing: dict[str, list[Callable[[], None]]] = {}

    def check(
        self,
        transactional_id: str,
        producer_id: int,
        producer_epoch: int,
        tps: Iterable[TopicPartition],
        add: bool,
        now_ms: int,
        done: Verified,
    ) -> None:
        """Verify (``add`` False) or add ``tps``; ``done(errors)`` with each partition's
        coordinator error (NONE: the write may go on), maybe before this returns."""
        wanted = sorted(set(tps))
        txns = self._txns
        if txns.coordinates(transactional_id):
            queued = self._writing.get(transactional_id)
            if queued is not None:
                args = (transactional_id, producer_id, producer_epoch, wanted, add, now_ms, done)
                queued.append(lambda: self.check(*args))
                return
            error, effects = txns.coordinator.add_partitions(
                transactional_id,
                producer_id,
                producer_epoch,
                wanted,
                now_ms,
                verify_only=not add,
                transaction_version=2 if add else 0,
            )
            if error != E.none or not effects:
                done(dict.fromkeys(wanted, error))
                return
            self._writing[transactional_id] = []

            def written(failed: ErrorCode) -> None:
                waiting = self._writing.pop(transactional_id, [])
                done(dict.fromkeys(wanted, failed))
                for check in waiting:
                    check()

            txns.carry_out(effects, now_ms, written)
            return
        address = self._coordinator_address(transactional_id, now_ms)
        if address is None:
            done(dict.fromkeys(wanted, E.coordinator_not_available))
            return
        request = _request(transactional_id, producer_id, producer_epoch, wanted, add)

        def answered(result: ClientResponse) -> None:
            done(_errors(result.response, wanted))

        if not self._client.send(address, request, now_ms, answered):
            done(dict.fromkeys(wanted, E.coordinator_not_available))


def _request(
    transactional_id: str,
    producer_id: int,
    producer_epoch: int,
    tps: list[TopicPartition],
    add: bool,
) -> Any:
    from kio.schema.add_partitions_to_txn.v5 import request as m

    topics: dict[str, list[int]] = {}
    for topic, partition in tps:
        topics.setdefault(topic, []).append(partition)
    transaction = m.AddPartitionsToTxnTransaction(
        transactional_id=transactional_id,  # type: ignore[arg-type]
        producer_id=producer_id,  # type: ignore[arg-type]
        producer_epoch=producer_epoch,  # type: ignore[arg-type]
        verify_only=not add,
        topics=tuple(
            m.AddPartitionsToTxnTopic(name=t, partitions=tuple(p))  # type: ignore[arg-type]
            for t, p in topics.items()
        ),
    )
    return m.AddPartitionsToTxnRequest(transactions=(transaction,))


def _errors(response: Any, wanted: list[TopicPartition]) -> dict[TopicPartition, ErrorCode]:
    """Each partition's error in an AddPartitionsToTxn v5 answer (NETWORK_EXCEPTION for none;
    the top-level error for all when there is one)."""
    if response is None:
        return dict.fromkeys(wanted, E.network_exception)
    if response.error_code != E.none:
        return dict.fromkeys(wanted, response.error_code)
    found = {
        (topic.name, int(p.partition_index)): p.partition_error_code
        for txn in response.results_by_transaction
        for topic in txn.topic_results
        for p in topic.results_by_partition
    }
    return {tp: found.get(tp, E.unknown_server_error) for tp in wanted}
