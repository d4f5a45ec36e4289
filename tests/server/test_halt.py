"""``Halt``: the asyncio driver stops the process at once with status 1 and an error line, as
Kafka's ``Exit.halt(1)`` after its last log directory failed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent.parent

SCRIPT = """
from refka.core.effects import Halt
from refka.server.driver import CoreRunner
CoreRunner(None, None).perform([Halt("all log dirs in data have failed: ENOSPC")])
print("still running")
"""


def test_a_halt_effect_exits_with_status_1_and_logs_why() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "reference")}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    assert "still running" not in done.stdout
    assert "halting: all log dirs in data have failed: ENOSPC" in done.stderr
