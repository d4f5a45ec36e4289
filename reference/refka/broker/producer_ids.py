"""Producer ids in blocks from the controller: Kafka's ``RPCProducerIdManager`` (KIP-730).

InitProducerId hands out ids from the block this broker holds; when the block runs out the
broker asks the controller for the next one (AllocateProducerIds), and the requests that arrive
meanwhile wait. Every id is handed out once in the whole cluster, across restarts, because the
controller writes each block to the metadata log before granting it.
"""

from __future__ import annotations

from collections.abc import Callable

from kio.schema.errors import ErrorCode
from kio.schema.types import BrokerId
from kio.static.primitive import i64
from refka.core.network_client import Client, ClientResponse, NodeAddress

Waiter = Callable[[int | None], None]  # called with a producer id, or None if none could be had
WAITING = -2  # ``allocate``: the waiter will be called
UNAVAILABLE = -1  # ``allocate``: the controller cannot be asked now


class ProducerIdManager:
    """The current block ``[next_id, end)`` and the requests waiting for the next one."""

    def __init__(
        self,
        broker_id: int,
        broker_epoch: Callable[[], int],
        controller: NodeAddress,
        client: Client,
    ) -> None:
        self.broker_id = broker_id
        self.broker_epoch = broker_epoch
        self.controller = controller
        self.client = client
        self.next_id = 0
        self.end = 0
        self.waiting: list[Waiter] = []

    def allocate(self, now_ms: int, waiter: Waiter) -> int:
        """The next id now; else WAITING (``waiter`` is called once a block arrives), or
        UNAVAILABLE when the controller cannot be asked now."""
        if self.next_id < self.end and not self.waiting:
            producer_id = self.next_id
            self.next_id += 1
            return producer_id
        if not self.waiting and not self._request_block(now_ms):
            return UNAVAILABLE
        self.waiting.append(waiter)
        return WAITING

    def _request_block(self, now_ms: int) -> bool:
        from kio.schema.allocate_producer_ids.v0.request import (  # on first use: not at start
            AllocateProducerIdsRequest,
        )

        request = AllocateProducerIdsRequest(
            broker_id=BrokerId(self.broker_id), broker_epoch=i64(self.broker_epoch())
        )
        return self.client.send(self.controller, request, now_ms, self._on_block)

    def _on_block(self, result: ClientResponse) -> None:
        response = result.response
        if response is None or response.error_code != ErrorCode.none:
            self._fail_waiting()
            return
        self.next_id = int(response.producer_id_start)
        self.end = self.next_id + int(response.producer_id_len)
        waiting, self.waiting = self.waiting, []
        for waiter in waiting:
            if self.next_id < self.end:
                waiter(self.next_id)
                self.next_id += 1
            else:
                self.waiting.append(waiter)
        if self.waiting and not self._request_block(result.now_ms):
            self._fail_waiting()

    def _fail_waiting(self) -> None:
        waiting, self.waiting = self.waiting, []
        for waiter in waiting:
            waiter(None)
