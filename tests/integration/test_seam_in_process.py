"""The sans-I/O seam: refka's core answers real request frames with no socket, clock or disk.

A test plays the driver: it feeds ``Broker.on_request(connection_id, frame, now_ms)`` and
``on_tick(now_ms)`` with a fake clock and ``MemoryStorage``, performs nothing, and decodes the
``Send`` effects' bytes with kio, exactly as a client would read them off a socket. A second
test walks the core's source and asserts it imports no I/O, threads, clocks or randomness.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest
import refka
from core_driver import START_MS, Driver, ms
from kio.records.readers import read_batch
from kio.schema.api_versions.v3.request import ApiVersionsRequest
from kio.schema.api_versions.v3.response import ApiVersionsResponse
from kio.schema.create_topics.v4.request import CreatableTopic, CreateTopicsRequest
from kio.schema.create_topics.v4.response import CreateTopicsResponse
from kio.schema.errors import ErrorCode
from kio.schema.fetch.v11.request import FetchPartition, FetchRequest, FetchTopic
from kio.schema.fetch.v11.response import FetchResponse
from kio.schema.produce.v8.request import PartitionProduceData, ProduceRequest, TopicProduceData
from kio.schema.produce.v8.response import ProduceResponse
from kio.schema.types import TopicName
from kio.static.primitive import Records, i16, i32, i32Timedelta, i64
from refka.core.effects import Effect, Send

from conformance.records import Record, build_batch

TOPIC = "seam"
MAX_WAIT_MS = 500


def create_topic(driver: Driver) -> None:
    topic = CreatableTopic(
        name=TopicName(TOPIC),
        num_partitions=i32(1),
        replication_factor=i16(1),
        assignments=(),
        configs=(),
    )
    request = CreateTopicsRequest(topics=(topic,), timeout=i32Timedelta.parse(ms(5000)))
    response = driver.call(1, request, CreateTopicsResponse)
    assert [(t.name, t.error_code) for t in response.topics] == [(TOPIC, ErrorCode.none)]


def produce_request(values: list[bytes]) -> ProduceRequest:
    records = [Record(value, key=b"k") for value in values]
    batch = build_batch(records, timestamp_ms=START_MS)
    partition = PartitionProduceData(index=i32(0), records=Records(batch))
    return ProduceRequest(
        acks=i16(-1),
        timeout=i32Timedelta.parse(ms(5000)),
        topic_data=(TopicProduceData(name=TopicName(TOPIC), partition_data=(partition,)),),
    )


def fetch_request(offset: int, max_wait_ms: int) -> FetchRequest:
    partition = FetchPartition(
        partition=i32(0), fetch_offset=i64(offset), partition_max_bytes=i32(1 << 20)
    )
    return FetchRequest(
        max_wait=i32Timedelta.parse(ms(max_wait_ms)),
        min_bytes=i32(1),
        topics=(FetchTopic(topic=TopicName(TOPIC), partitions=(partition,)),),
        forgotten_topics_data=(),
    )


def fetched(response: FetchResponse) -> tuple[int, list[tuple[int, bytes | None]]]:
    """(high watermark, [(offset, value)]) of partition 0, batches decoded and CRC-checked."""
    [topic] = response.responses
    [partition] = topic.partitions
    assert partition.error_code == ErrorCode.none
    records = partition.records or b""
    out: list[tuple[int, bytes | None]] = []
    position = 0
    while position < len(records):
        batch, size = read_batch(records, position)
        out += [(int(r.offset), r.value) for r in batch.records]
        position += size
    return int(partition.high_watermark), out


@pytest.fixture
def driver() -> Driver:
    driver = Driver()
    versions = driver.call(
        1,
        ApiVersionsRequest(client_software_name="seam", client_software_version="1"),
        ApiVersionsResponse,
    )
    assert versions.error_code == ErrorCode.none
    assert {0, 1, 18, 19} <= {int(k.api_key) for k in versions.api_keys}
    create_topic(driver)
    return driver


def test_produce_then_fetch_returns_the_records(driver: Driver) -> None:
    for values, base_offset in (([b"a", b"b", b"c"], 0), ([b"d", b"e"], 3)):
        produced = driver.call(2, produce_request(values), ProduceResponse)
        [partition] = produced.responses[0].partition_responses
        assert (partition.error_code, partition.base_offset) == (ErrorCode.none, base_offset)

    response = driver.call(2, fetch_request(0, max_wait_ms=0), FetchResponse)
    assert fetched(response) == (5, [(0, b"a"), (1, b"b"), (2, b"c"), (3, b"d"), (4, b"e")])
    response = driver.call(2, fetch_request(3, max_wait_ms=0), FetchResponse)
    assert fetched(response) == (5, [(3, b"d"), (4, b"e")])


def test_long_poll_fetch_answers_when_a_produce_arrives(driver: Driver) -> None:
    waiting = driver.request(1, fetch_request(0, max_wait_ms=MAX_WAIT_MS))
    assert not [e for e in waiting if isinstance(e, Send)], "a long poll answered at once"
    assert not [e for e in driver.tick(100) if isinstance(e, Send)]

    effects = driver.request(2, produce_request([b"late"]))
    [produce_answer] = driver.answers(effects, 2, ProduceResponse)
    assert produce_answer.responses[0].partition_responses[0].error_code == ErrorCode.none
    [fetch_answer] = driver.answers(effects, 1, FetchResponse)
    assert fetched(fetch_answer) == (1, [(0, b"late")])


def test_long_poll_fetch_expires_at_max_wait(driver: Driver) -> None:
    start_ms = driver.now_ms
    assert not [e for e in driver.request(1, fetch_request(0, MAX_WAIT_MS)) if isinstance(e, Send)]
    assert not [e for e in driver.tick(MAX_WAIT_MS - 1) if isinstance(e, Send)]
    [answer] = driver.answers(driver.tick(1), 1, FetchResponse)
    assert driver.now_ms == start_ms + MAX_WAIT_MS
    assert fetched(answer) == (0, [])


def test_same_seed_same_inputs_same_bytes() -> None:
    """Determinism: two runs of one script give byte-identical effects."""

    def script() -> list[bytes | Effect]:
        driver = Driver(seed=42)
        create_topic(driver)
        driver.request(1, fetch_request(0, MAX_WAIT_MS))
        driver.request(2, produce_request([b"x", b"y"]))
        driver.tick(MAX_WAIT_MS)
        return [driver.frame_bytes(e) if isinstance(e, Send) else e for e in driver.timeline]

    assert script() == script()


# --- the import walk ----------------------------------------------------------------------

CORE = [
    "core",
    "log",
    "protocol",
    "group",
    "handlers",
    "sim",
    "fuzz",
    "metadata",
    "controller",
    "replication",
    "broker",
    "txn",
    "producer_state.py",
    "replica.py",
    "node.py",
]  # a package that does not exist yet is skipped
FORBIDDEN_MODULES = {"asyncio", "socket", "selectors", "threading", "time", "random", "secrets"}
FORBIDDEN_PACKAGES = {
    "refka.server",
    "refka.peers",
    "refka.testing",
    "refka.pytest_plugin",
    "refka.cli",
}
FORBIDDEN_CALLS = {
    "datetime.now",
    "datetime.utcnow",
    "datetime.today",
    "date.today",
    "os.urandom",
    "uuid.uuid1",
    "uuid.uuid4",
}


def core_sources() -> Iterator[Path]:
    root = Path(refka.__file__).parent
    for name in CORE:
        path = root / name
        if path.is_dir():
            yield from sorted(path.rglob("*.py"))
        elif path.exists():
            yield path


def runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node, except those under ``if TYPE_CHECKING:`` (imports for annotations only)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))


def imported_modules(tree: ast.AST) -> Iterator[tuple[int, str]]:
    for node in runtime_nodes(tree):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module


def called_names(tree: ast.AST) -> Iterator[tuple[int, str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            target = node.func.value
            owner = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
            yield node.lineno, f"{owner}.{node.func.attr}"


def violations_in(source: str, name: str) -> list[str]:
    tree = ast.parse(source, name)
    found = []
    for line, module in imported_modules(tree):
        forbidden_package = any(
            module == p or module.startswith(p + ".") for p in FORBIDDEN_PACKAGES
        )
        if module.split(".")[0] in FORBIDDEN_MODULES or forbidden_package:
            found.append(f"{name}:{line} imports {module}")
    for line, call in called_names(tree):
        if call in FORBIDDEN_CALLS:
            found.append(f"{name}:{line} calls {call}()")
    return found


SIM_TOOLS = {"campaign.py", "machine.py", "simulate_cli.py", "replay_cli.py"}
"""The simulator's commands: they time runs and draw seeds; the world they drive does not."""

GLOBAL_RANDOM_CALLS = {
    f"random.{f}"
    for f in ("random", "randrange", "randint", "choice", "choices", "shuffle", "sample", "seed")
}


def sim_violations_in(source: str, name: str) -> list[str]:
    """The simulator may own a seeded ``random.Random``; nothing else of the core's rule
    changes (no clock, no global random source, no sockets)."""
    found = [v for v in violations_in(source, name) if not v.endswith(" imports random")]
    tree = ast.parse(source, name)
    found += [f"{name}:{line} calls {call}()" for line, call in called_names(tree)
              if call in GLOBAL_RANDOM_CALLS]  # fmt: skip
    return found


def test_core_imports_no_io_threads_clocks_or_randomness() -> None:
    sources = list(core_sources())
    assert len(sources) >= 10, sources  # the walk found the core
    violations = []
    for path in sources:
        if path.parent.name == "sim" and path.name in SIM_TOOLS:
            continue
        check = sim_violations_in if "sim" in path.parts[-3:-1] else violations_in
        violations += check(path.read_text(), str(path))
    assert not violations, "\n".join(violations)


def test_the_simulator_may_own_a_seeded_random_only() -> None:
    assert not sim_violations_in("import random\nrng = random.Random(7)\n", "w.py")
    assert sim_violations_in("import random\nx = random.random()\n", "w.py")
    assert sim_violations_in("import time\n", "w.py")


def test_the_walk_sees_what_it_forbids() -> None:
    source = """
import os.path
from typing import TYPE_CHECKING
from time import monotonic
import asyncio.tasks
from refka.server import driver
if TYPE_CHECKING:
    import random
def f():
    import socket
    return datetime.datetime.now(), os.urandom(4), uuid.uuid4()
"""
    assert sorted(violations_in(source, "m")) == [
        "m:10 imports socket",
        "m:11 calls datetime.now()",
        "m:11 calls os.urandom()",
        "m:11 calls uuid.uuid4()",
        "m:4 imports time",
        "m:5 imports asyncio.tasks",
        "m:6 imports refka.server",
    ]
