"""CrossHair proves nothing absolutely, but within its budget it searches for inputs that break
the PEP 316 contracts of the pure codecs; it must find none in refka.protocol.varint, and must
find one in a copy with a planted bug (otherwise the check would have no teeth)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import refka.protocol.varint

CROSSHAIR = Path(sys.executable).with_name("crosshair")
SOURCE = Path(refka.protocol.varint.__file__)

pytestmark = pytest.mark.skipif(not CROSSHAIR.exists(), reason="crosshair-tool not installed")


def crosshair_check(target: str, cwd: Path) -> subprocess.Popen[str]:
    """Start ``crosshair check`` (bounded: one second per condition)."""
    return subprocess.Popen(
        [str(CROSSHAIR), "check", "--analysis_kind=PEP316", "--per_condition_timeout=1", target],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(cwd)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finish(process: subprocess.Popen[str]) -> tuple[int, str]:
    try:
        output, _ = process.communicate(timeout=90)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return process.returncode, output


def test_varint_contracts_hold_and_the_check_has_teeth(tmp_path: Path) -> None:
    broken = SOURCE.read_text().replace("n >>= 7", "n >>= 6")  # loses a bit per 7-bit group
    assert broken != SOURCE.read_text()
    (tmp_path / "broken_varint.py").write_text(broken)
    real = crosshair_check(str(SOURCE), SOURCE.parent)
    planted = crosshair_check("broken_varint.encode_uvarint", tmp_path)

    code, output = finish(real)
    assert code == 0 and "error" not in output, output
    code, output = finish(planted)
    assert code != 0
    assert "broken_varint.py" in output and "encode_uvarint(" in output, output
