"""``refka bench --start --instructions``: the start counted in instructions, not milliseconds.

Wall and CPU milliseconds of a start move with the machine and with its other tenants;
valgrind's callgrind counts the instructions a process executes, the same total for the same
interpreter, code and inputs whatever else the machine does. Two counts, each under each
interpreter given:

- ``refka broker``: from exec until it has answered its first Metadata request (callgrind
  dumps its counters on request once the answer arrived; the broker's idle loop between costs
  next to nothing);
- ``import asyncio``: ``python -c "import asyncio"`` to its exit, the floor every asyncio
  server pays before its own first import.

Divided by the milliseconds of the subprocess row of a run on the same machine, they give
that machine's pace, and from it what the start costs on another.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from refka.bench.probe import wait_first_metadata
from refka.bench.start import outside_checkout
from refka.peers.readiness import free_port

DEADLINE_S = 180.0  # a start under valgrind takes ~50 times its usual time
DUMP_WAIT_S = 30.0


def available() -> bool:
    return shutil.which("valgrind") is not None and shutil.which("callgrind_control") is not None


def _totals(path: Path) -> int:
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("totals:"):
            return int(line.split()[1])
    raise RuntimeError(f"no totals in {path}")


def _callgrind(out: Path, argv: list[str]) -> list[str]:
    return ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *argv]


def broker_start(python: str = sys.executable) -> int:
    """Instructions a ``refka broker`` executes until its first Metadata answer."""
    with tempfile.TemporaryDirectory(prefix="refka-bench-instructions-") as tmp:
        root, port = Path(tmp), free_port()
        argv = [python, "-m", "refka", "broker", "--set", f"log.dirs={root / 'data'}"]
        argv += ["--set", f"listeners=PLAINTEXT://127.0.0.1:{port}"]
        process = subprocess.Popen(
            _callgrind(root / "callgrind.out", argv),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=outside_checkout(),
        )
        try:
            wait_first_metadata("127.0.0.1", port, process, DEADLINE_S)
            subprocess.run(
                ["callgrind_control", "--dump", str(process.pid)],
                check=True,
                capture_output=True,
                timeout=DUMP_WAIT_S,
            )
            dump = root / "callgrind.out.1"
            end = time.monotonic() + DUMP_WAIT_S
            while not (dump.exists() and "totals:" in dump.read_text(errors="replace")):
                if time.monotonic() > end:
                    raise RuntimeError("callgrind wrote no dump")
                time.sleep(0.05)
            return _totals(dump)
        finally:
            process.kill()
            process.wait()


def asyncio_floor(python: str = sys.executable) -> int:
    """Instructions of ``python -c "import asyncio"``, start to exit."""
    with tempfile.TemporaryDirectory(prefix="refka-bench-instructions-") as tmp:
        out = Path(tmp) / "callgrind.out"
        subprocess.run(
            _callgrind(out, [python, "-c", "import asyncio"]),
            check=True,
            capture_output=True,
            env=outside_checkout(),
            timeout=DEADLINE_S,
        )
        return _totals(out)


def table(pythons: list[str]) -> str:
    lines = [
        "| interpreter | refka broker start, M instructions | import asyncio, M instructions "
        "| start / floor |",
        "| --- | ---: | ---: | ---: |",
    ]
    for python in pythons:
        start, floor = broker_start(python), asyncio_floor(python)
        lines.append(f"| {python} | {start / 1e6:.1f} | {floor / 1e6:.1f} | {start / floor:.2f} |")
    return "\n".join(lines) + "\n"


def run(python: str | None) -> int:
    if not available():
        print("refka bench --start --instructions: valgrind (callgrind) is not installed")
        return 2
    pythons = [sys.executable] + ([python] if python else [])
    print(table(pythons), end="")
    return 0
