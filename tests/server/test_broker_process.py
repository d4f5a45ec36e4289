"""``python -m refka broker`` as a process: the ready line, a bad config, SIGTERM."""

from __future__ import annotations

import importlib
import re
import signal
import socket
import struct
import subprocess
import sys
from pathlib import Path

import pytest

READY = re.compile(
    r"^refka broker ready on (\S+):(\d+) \(node (\d+), log\.dirs (.+)\) in (\d+) ms$"
)
DEADLINE_S = 20.0


def _core_imports() -> bool:
    try:
        importlib.import_module("refka.core.broker")
    except Exception:
        return False
    return True


needs_core = pytest.mark.skipif(not _core_imports(), reason="refka.core.broker does not import")


def broker(*settings: str) -> list[str]:
    argv = [sys.executable, "-m", "refka", "broker", "--log-level", "INFO"]
    for setting in settings:
        argv += ["--set", setting]
    return argv


def api_versions_v0(host: str, port: int) -> tuple[int, int]:
    """Send ApiVersions v0; return the response's (correlation id, error code)."""
    header = struct.pack(">hhih", 18, 0, 42, 4) + b"test"
    with socket.create_connection((host, port), timeout=DEADLINE_S) as sock:
        sock.sendall(struct.pack(">i", len(header)) + header)
        data = b""
        while len(data) < 10:
            chunk = sock.recv(4096)
            assert chunk, "connection closed before an answer"
            data += chunk
    _size, correlation_id, error_code = struct.unpack(">iih", data[:10])
    return correlation_id, error_code


def test_a_bad_value_exits_2_naming_the_key(tmp_path: Path) -> None:
    result = subprocess.run(
        broker(f"log.dirs={tmp_path}", "num.partitions=zero"),
        capture_output=True,
        text=True,
        timeout=DEADLINE_S,
    )
    assert result.returncode == 2
    assert "num.partitions" in result.stderr
    assert result.stdout == ""


@needs_core
def test_ready_line_answers_then_sigterm_exits_0(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    process = subprocess.Popen(
        broker("listeners=PLAINTEXT://127.0.0.1:0", f"log.dirs={data_dir}", "no.such.key=1"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().rstrip("\n")  # the broker flushes it when ready
        match = READY.match(line)
        assert match, f"not a ready line: {line!r}"
        host, port = match[1], int(match[2])
        assert port != 0 and match[3] == "1" and match[4] == str(data_dir)
        assert data_dir.is_dir()
        assert api_versions_v0(host, port) == (42, 0)
        process.send_signal(signal.SIGTERM)
        assert process.wait(DEADLINE_S) == 0
        assert process.stderr is not None
        stderr = process.stderr.read()
        assert "no.such.key" in stderr  # the unknown key was a warning, not an error
        with pytest.raises(OSError):  # nobody listens any more
            socket.create_connection((host, port), timeout=1).close()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@needs_core
def test_sigint_exits_0_too(tmp_path: Path) -> None:
    process = subprocess.Popen(
        broker("listeners=PLAINTEXT://127.0.0.1:0", f"log.dirs={tmp_path}"),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert READY.match(process.stdout.readline().rstrip("\n"))
        process.send_signal(signal.SIGINT)
        assert process.wait(DEADLINE_S) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_a_port_in_use_exits_1_saying_so(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            broker(f"listeners=PLAINTEXT://127.0.0.1:{port}", f"log.dirs={tmp_path}"),
            capture_output=True,
            text=True,
            timeout=DEADLINE_S,
        )
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert result.stdout == ""


@needs_core
def test_each_listener_answers_metadata_with_its_own_endpoints(tmp_path: Path) -> None:
    """Two broker listeners on port 0: the ready line names both bound ports, each advertised
    (port 0 advertises the bound one), and Metadata on each names the broker by that one."""
    from kio.schema.metadata.v7.request import MetadataRequest
    from kio.schema.metadata.v7.response import MetadataResponse
    from refka.peers.readiness import read_response, request_frame

    process = subprocess.Popen(
        broker(
            "listeners=PLAINTEXT://127.0.0.1:0,REPLICATION://127.0.0.1:0",
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,REPLICATION:PLAINTEXT",
            "inter.broker.listener.name=REPLICATION",
            f"log.dirs={tmp_path}",
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        first = re.search(r"ready on 127\.0\.0\.1:(\d+) ", line)
        other = re.search(r", listeners REPLICATION://127\.0\.0\.1:(\d+)\)", line)
        assert first and other, f"not a ready line naming both listeners: {line!r}"
        ports = {int(first[1]), int(other[1])}
        assert len(ports) == 2 and 0 not in ports
        for port in ports:
            with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE_S) as sock:
                sock.sendall(request_frame(MetadataRequest(topics=None), "test"))
                answer = read_response(sock, MetadataResponse)
            assert isinstance(answer, MetadataResponse)
            assert [(b.node_id, b.host, b.port) for b in answer.brokers] == [(1, "127.0.0.1", port)]
        process.send_signal(signal.SIGTERM)
        assert process.wait(DEADLINE_S) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
