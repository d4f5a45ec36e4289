"""``refka.trace.file``: a real refka process writes its cores' trace events, one
``<node id> <repr(event)>`` a line, as they happen."""

from __future__ import annotations

import time
from pathlib import Path

import confluent_kafka
from refka.core import trace
from refka.testing import running_broker

DEADLINE_S = 20.0


def _events(path: Path) -> list[tuple[int, trace.TraceEvent]]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        node, _, event = line.partition(" ")
        if not event.startswith("#"):  # "# start": the node (re)started
            out.append((int(node), trace.parse(event)))
    return out


def test_a_produce_to_a_traced_broker_writes_leader_append_lines(tmp_path: Path) -> None:
    path = tmp_path / "trace.log"
    with running_broker(config={"refka.trace.file": str(path)}) as broker:
        producer = confluent_kafka.Producer({"bootstrap.servers": broker.bootstrap})
        for value in (b"a", b"b", b"c"):
            producer.produce("traced", value, partition=0)
        assert producer.flush(DEADLINE_S) == 0
        deadline = time.monotonic() + DEADLINE_S
        while True:  # lines are written as the steps happen
            appends = [e for _, e in _events(path) if isinstance(e, trace.LeaderAppend)]
            if sum(e.log_end_offset - e.offset for e in appends) >= 3:
                break
            assert time.monotonic() < deadline, path.read_text() if path.exists() else "no file"
            time.sleep(0.05)
    events = _events(path)
    assert path.read_text().startswith("1 # start\n")
    assert {node for node, _ in events} == {1}
    assert all(e.node == 1 for _, e in events)
    kinds = [type(e) for _, e in events]
    assert trace.RegisterBroker in kinds and trace.ElectLeader in kinds
    assert trace.BecomeLeader in kinds
    appends = [e for _, e in events if isinstance(e, trace.LeaderAppend)]
    assert {(e.topic, e.partition) for e in appends} == {("traced", 0)}
    assert appends[0].offset == 0 and appends[-1].log_end_offset == 3
