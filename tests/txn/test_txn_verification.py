"""The partition leader's questions to the transaction coordinator (``AddPartitionsToTxnManager``,
KIP-890) without a broker: the coordinator here or on another broker, the errors as the
client is told them, and the order of a transaction's writes while its add is written."""

from __future__ import annotations

from typing import Any

from kio.schema.add_partitions_to_txn.v5 import response as r
from kio.schema.errors import ErrorCode
from refka.core.network_client import ClientResponse, NodeAddress
from refka.core.txn_verification import AddPartitionsToTxnManager, for_client
from refka.txn.coordinator import TransactionCoordinator
from refka.txn.state_manager import TransactionConfig

E = ErrorCode
TP = ("t", 0)
COORDINATOR = NodeAddress(2, "h", 1)


class FakeTxns:
    """A TransactionService stand-in: the coordinator here (``local``) or elsewhere; a write
    of the coordinator completes when the test says so."""

    def __init__(self, local: bool) -> None:
        self.local = local
        self.coordinator = TransactionCoordinator.build(TransactionConfig(900_000, 50))
        self.coordinator.init_producer_id("id", 60_000, -1, -1, 1000, 0)
        self.writes: list[Any] = []

    def coordinates(self, transactional_id: str) -> bool:
        return self.local

    def carry_out(self, effects: list[Any], now_ms: int, done: Any) -> None:
        self.writes.append(done)


class FakeClient:
    def __init__(self) -> None:
        self.sent: list[tuple[NodeAddress, Any, Any]] = []

    def send(self, node: NodeAddress, request: Any, now_ms: int, on_complete: Any) -> bool:
        self.sent.append((node, request, on_complete))
        return True


def manager(local: bool) -> tuple[AddPartitionsToTxnManager, FakeTxns, FakeClient]:
    txns, client = FakeTxns(local), FakeClient()
    return AddPartitionsToTxnManager(txns, client, lambda _id, _now: COORDINATOR), txns, client  # type: ignore[arg-type]


def test_errors_as_the_client_is_told_them() -> None:
    assert for_client(E.producer_fenced) == E.invalid_producer_epoch
    assert for_client(E.concurrent_transactions) == E.not_enough_replicas  # retried
    assert for_client(E.not_coordinator) == E.not_enough_replicas
    assert for_client(E.invalid_txn_state) == E.invalid_txn_state


def test_a_local_verify_of_a_partition_outside_the_transaction_fails() -> None:
    m, _, _ = manager(local=True)
    answers: list[dict] = []
    m.check("id", 1000, 0, [TP], False, 0, answers.append)
    m.check("id", 1000, 1, [TP], True, 0, answers.append)  # an epoch it never gave: fenced
    assert answers == [{TP: E.invalid_txn_state}, {TP: E.producer_fenced}]


def test_later_checks_wait_behind_an_add_being_written() -> None:
    m, txns, _ = manager(local=True)
    answers: list[tuple[str, dict]] = []
    m.check("id", 1000, 0, [TP], True, 0, lambda e: answers.append(("first", e)))
    m.check("id", 1000, 0, [TP], True, 0, lambda e: answers.append(("second", e)))
    assert answers == []  # the second would see the partition added: it must not overtake
    txns.writes[0](E.none)
    assert answers == [("first", {TP: E.none}), ("second", {TP: E.none})]


def test_a_remote_coordinator_gets_add_partitions_v5() -> None:
    m, _, client = manager(local=False)
    answers: list[dict] = []
    m.check("id", 1000, 0, [TP, ("t", 1)], False, 0, answers.append)
    ((node, request, on_complete),) = client.sent
    assert node == COORDINATOR
    (txn,) = request.transactions
    assert (txn.transactional_id, txn.producer_id, txn.verify_only) == ("id", 1000, True)
    assert [(t.name, t.partitions) for t in txn.topics] == [("t", (0, 1))]
    result = r.AddPartitionsToTxnResult(
        transactional_id="id",  # type: ignore[arg-type]
        topic_results=(
            r.AddPartitionsToTxnTopicResult(
                name="t",  # type: ignore[arg-type]
                results_by_partition=tuple(
                    r.AddPartitionsToTxnPartitionResult(
                        partition_index=p,  # type: ignore[arg-type]
                        partition_error_code=e,
                    )
                    for p, e in ((0, E.none), (1, E.invalid_txn_state))
                ),
            ),
        ),
    )
    response = r.AddPartitionsToTxnResponse(
        throttle_time=0,  # type: ignore[arg-type]
        error_code=E.none,
        results_by_transaction=(result,),
    )
    on_complete(ClientResponse(2, 24, response, now_ms=5))
    assert answers == [{TP: E.none, ("t", 1): E.invalid_txn_state}]


def test_an_unreachable_coordinator_is_a_network_error() -> None:
    m, _, client = manager(local=False)
    answers: list[dict] = []
    m.check("id", 1000, 0, [TP], True, 0, answers.append)
    client.sent[0][2](ClientResponse(2, 24, None, disconnected=True, now_ms=5))
    assert answers == [{TP: E.network_exception}]
    assert for_client(E.network_exception) == E.not_enough_replicas
