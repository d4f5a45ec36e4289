"""Helpers of the transaction probes: a transactional id's producer id from its coordinator,
asked again while the coordinator is not ready (its ``__transaction_state`` being created or
loaded)."""

from __future__ import annotations

import time
from typing import Any

from kio.schema.errors import ErrorCode

from conformance.client_flows import deadline
from conformance.target import Target, require_api

TRANSACTIONAL = 0x10  # the batch attribute

E = ErrorCode
NOT_READY = {E.coordinator_not_available, E.not_coordinator, E.coordinator_load_in_progress}
TXN_APIS = ("FindCoordinator", "InitProducerId", "AddPartitionsToTxn", "EndTxn")


def until_ready(call: Any, error_of: Any = lambda a: a.error_code) -> Any:
    """``call()`` until its error is not a coordinator-not-ready one (or the deadline)."""
    end = deadline()
    while True:
        answer = call()
        if error_of(answer) not in NOT_READY | {E.concurrent_transactions}:
            return answer
        assert time.monotonic() < end, answer
        time.sleep(0.1)


def init(target: Target, txn_id: str, producer_id: int = -1, epoch: int = -1) -> Any:
    for api in TXN_APIS:
        require_api(target, api, 0)
    target.call("FindCoordinator", 0, 3, key=txn_id, key_type=1)  # creates the topic
    answer = until_ready(
        lambda: target.call(
            "InitProducerId",
            0,
            None,
            transactional_id=txn_id,
            transaction_timeout=60000,
            producer_id=producer_id,
            producer_epoch=epoch,
        )
    )
    assert answer.error_code == E.none, answer
    return answer
