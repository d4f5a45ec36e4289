"""Where refka's start-up goes before the broker binds: ``python -X importtime`` of
``refka broker``, ranked by cumulative import time (the start-time target's profile)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

READY_DEADLINE_S = 30.0
TOP_IMPORTS = 30


def _ranked(stderr: str, limit: int) -> list[tuple[int, int, str]]:
    found = []
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        own, cumulative, name = line.removeprefix("import time:").split("|", 2)
        if own.strip().isdigit():
            found.append((int(cumulative), int(own), name.rstrip()))
    return sorted(found, reverse=True)[:limit]


def write_import_profile(work_dir: Path, out_path: Path, limit: int = TOP_IMPORTS) -> None:
    """Start refka under ``-X importtime`` until it prints its ready line; write the ranking."""
    argv = [sys.executable, "-X", "importtime", "-u", "-m", "refka", "broker"]
    argv += ["--set", "listeners=PLAINTEXT://127.0.0.1:0", "--set", f"log.dirs={work_dir}"]
    process = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True
    )
    assert process.stdout is not None
    end = time.monotonic() + READY_DEADLINE_S
    ready = ""
    while time.monotonic() < end and not ready.startswith("refka broker ready"):
        ready = process.stdout.readline()
        if not ready and process.poll() is not None:
            break
    process.terminate()
    _, stderr = process.communicate(timeout=30)
    lines = [f"refka broker under python -X importtime: {ready.strip() or 'no ready line'}", ""]
    lines.append(f"top {limit} imports by cumulative time (own time beside it), microseconds:")
    lines += [f"  {cum:>9} {own:>9}  {name}" for cum, own, name in _ranked(stderr, limit)]
    out_path.write_text("\n".join(lines) + "\n")
