"""The history of client operations in a run, as Jepsen's Kafka workload records it.

Every client operation is recorded twice: an ``invoke`` when the client starts it, and a
completion: ``ok`` (it happened), ``fail`` (it certainly did not happen) or ``info`` (unknown:
a timeout or a lost connection). The checker (``refka.sim.checker``) reads only this history,
so it can check histories recorded against any broker.

Operations (``f``):

- ``send``: one record ``value`` (unique in the run) to ``topic``/``partition``; an ``ok``
  carries the ``offset`` the broker acknowledged;
- ``poll``: a consumer's fetch; an ``ok`` carries the ``reads`` in the order the client got
  them: ``(topic, partition, offset, value)``;
- ``commit``: a consumer's OffsetCommit of ``offsets``: ``(topic, partition, next offset)``;
- ``txn``: a transactional producer's transaction of ``records`` ``(partition, offset,
  value)`` (offset -1 until acknowledged): ``ok`` committed, ``fail`` aborted, ``info`` unknown;
- ``read``: a reader's fetch round (``refka.sim.clients.reader``: no group, every
  partition from offset 0, at its isolation level), with its ``reads``.
"""

from __future__ import annotations

from dataclasses import dataclass

Read = tuple[str, int, int, int]  # topic, partition, offset, value
CommittedOffset = tuple[str, int, int]  # topic, partition, next offset to consume
TxnRecord = tuple[int, int, int]  # partition, offset (-1: not acknowledged), value


@dataclass(frozen=True, slots=True)
class Op:
    """One history entry."""

    index: int  # position in the history
    at_ms: int
    process: int  # the client (its node id in the simulator)
    type: str  # "invoke" | "ok" | "fail" | "info"
    f: str  # "send" | "poll" | "commit"
    topic: str = ""
    partition: int = -1
    value: int | None = None  # send: the record's value
    offset: int | None = None  # send ok: the acknowledged offset
    reads: tuple[Read, ...] = ()  # poll ok
    offsets: tuple[CommittedOffset, ...] = ()  # commit
    error: str = ""  # fail / info: why
    records: tuple[TxnRecord, ...] = ()  # txn


class History:
    """Append-only: ``invoke`` returns the entry its completion refers to."""

    def __init__(self) -> None:
        self.ops: list[Op] = []

    def add(self, at_ms: int, process: int, type: str, f: str, **fields: object) -> Op:
        op = Op(len(self.ops), at_ms, process, type, f, **fields)  # type: ignore[arg-type]
        self.ops.append(op)
        return op
