"""The anchor: the socket fuzzer against Apache Kafka 4.4 (``--slow``; skipped without Java
or the jars). Kafka closes or answers the inputs and stays up; the inputs it leaves
unanswered and its canary answers are listed in docs/security.md."""

from __future__ import annotations

from pathlib import Path

import pytest
from refka.fuzz_cli import fuzz
from refka.fuzz_socket import SocketTarget
from refka.peers.kafka import running_kafka
from refka.peers.process import PeerUnavailable
from test_fuzz_runs import args


@pytest.mark.slow
def test_apache_kafka_survives_the_fuzzer(tmp_path: Path) -> None:
    try:
        context = running_kafka(tmp_path / "kafka")
        peer = context.__enter__()
    except PeerUnavailable as error:
        pytest.skip(str(error))
    try:
        target = SocketTarget(peer.host, peer.port, timeout_s=3.0)
        stats = fuzz(target, args("--frames", "300", "--seed", "1", "--out", str(tmp_path)))
    finally:
        context.__exit__(None, None, None)
    assert stats.crashes == 0
    assert not [f for f in stats.failures if "not served" in f], stats.failures  # still up
