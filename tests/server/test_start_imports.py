"""The broker's start path (issue 15): ``python -m refka broker`` becomes ready without importing
what only later requests, tracing, compressed batches or other tools need. Checked by module
name (``python -X importtime``), never by time."""

from __future__ import annotations

import ast
import importlib.util
import selectors
import subprocess
import sys
import time
from pathlib import Path

import pytest

READY_DEADLINE_S = 60.0

NOT_AT_START = {
    "pydantic",  # the config model is refka's own
    "hypothesis",  # kio registers strategies when it is importable
    "importlib.metadata",  # pydantic's plugin loader, the crc32c package's version lookup
    "gzip",
    "lz4",
    "zstandard",
    "cramjam",
    "refka.core.trace",
    "refka.controller.trace_events",
    "refka.group.coordinator",
    "refka.group.messages",
    "refka.handlers.fetch",
    "refka.handlers.group",
    "refka.handlers.produce",
    "refka.controller.topic_control",
    "refka.controller.partition_change",  # the first partition to change loads the builder
    "refka.producer_state",  # the first partition's replica
    "refka.replication.replica_fetcher",  # the first partition this node follows
    "argparse",  # the usual command line is read by ``quick_args``; argparse answers the rest
    "shutil",  # argparse's help formatter asks it for the terminal's width
    "hashlib",  # a log deletion names its directory with it; segment.jitter.ms draws with it
    "json",  # the clean-shutdown file, on a restart after a clean stop
    "refka.metadata.topic_records",  # the first topic, config or producer-id record
    "refka.metadata.read_records",  # records only Kafka's controller writes (fence, no-op ...)
    "refka.sim",
    "refka.bench",
    "kio.schema.create_topics.v7.request",
    "refka.protocol.kio_extra",  # ApiVersions v5, DeleteGroups v3, TxnOffsetCommit v6: on first use
    "refka.txn",  # the transaction coordinator, on the first transactional request
    "refka.handlers.transactions",
    "refka.core.txn_markers",  # the marker sender, with the first marker to write
    "refka.protocol.txn_markers",  # with kio's marker schemas: the first marker read or written
    "kio.schema.end_txn_marker.v0.data",
    "refka.handlers.telemetry",  # the first GetTelemetrySubscriptions
    "refka.log.transaction_index",  # the first partition's replica
    "refka.core.kafka_configs",  # the first DescribeConfigs or CreateTopics
    "refka.server.tls",  # only with an SSL or SASL_SSL listener
    "refka.security.principal_mapping",
    "refka.security.x500",
    "refka.security.session",  # a SASL listener's first connection
    "refka.security.jaas",  # only a SASL listener's settings are read from JAAS entries
    "refka.security.plain",
    "refka.security.connection_quotas",  # only with max.connections* set
    "refka.security.memory_pool",  # only with queued.max.request.bytes set
    "encodings.idna",  # getaddrinfo's codec for a host name: a listener's address is a literal
}
AT_START = {"refka.core.broker", "refka.controller.quorum_controller", "refka.handlers.metadata"}


def imports_until_ready(log_dir: Path) -> set[str]:
    """The modules a broker imports until it prints its ready line (then it is killed)."""
    argv = [sys.executable, "-X", "importtime", "-u", "-m", "refka", "broker"]
    argv += ["--set", "listeners=PLAINTEXT://127.0.0.1:0", "--set", f"log.dirs={log_dir}"]
    process = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    end = time.monotonic() + READY_DEADLINE_S
    ready = ""
    while not ready.startswith("refka broker ready") and time.monotonic() < end:
        if selector.select(timeout=end - time.monotonic()):
            ready = process.stdout.readline()
            if not ready and process.poll() is not None:
                break
    process.kill()  # no shutdown path: only the start's imports are listed
    _, stderr = process.communicate(timeout=30)
    assert ready.startswith("refka broker ready"), stderr[-2000:]
    return {
        line.rsplit("|", 1)[1].strip()
        for line in stderr.splitlines()
        if line.startswith("import time:") and line.count("|") == 2
    }


@pytest.fixture(scope="module")
def start_imports(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    return imports_until_ready(tmp_path_factory.mktemp("start"))


def test_the_start_imports_only_what_the_first_answer_needs(start_imports: set[str]) -> None:
    assert start_imports >= AT_START  # the listing is read
    # exact names: a blocked import (kio's ``hypothesis.strategies``) is listed, failing
    imported = NOT_AT_START & start_imports
    assert not imported, f"imported at start: {sorted(imported)}"


def undocumented_dataclasses(path: Path) -> list[str]:
    """The ``@dataclass`` classes of a source file that have no docstring."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ClassDef) and ast.get_docstring(node) is None:
            for decorator in node.decorator_list:
                target = decorator.func if isinstance(decorator, ast.Call) else decorator
                if getattr(target, "id", getattr(target, "attr", None)) == "dataclass":
                    found.append(node.name)
    return found


def test_the_start_path_dataclasses_have_docstrings(start_imports: set[str]) -> None:
    """Python 3.11's ``dataclass`` gives a class without a docstring one made from
    ``inspect.signature``: ~0.05-0.1 ms a class, on the start path a cost for nothing."""
    missing = []
    for name in sorted(m for m in start_imports if m.split(".")[0] == "refka"):
        spec = importlib.util.find_spec(name)
        assert spec is not None, name
        if spec.origin is not None:  # None: a namespace package, no source of its own
            missing += [f"{name}.{cls}" for cls in undocumented_dataclasses(Path(spec.origin))]
    assert not missing, f"dataclasses without a docstring on the start path: {missing}"
