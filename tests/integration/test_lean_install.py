"""The lean install: build refka's sdist, then its wheel from that sdist, install the wheel
without extras into a fresh venv, and run a user's test file there (pytest added, nothing
else): the plugin loads through its entry point, and a record round-trips through a broker in
both modes and through a cluster.

Needs the package index (``pip install``); skipped, saying so, when it cannot be reached.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SUITE = Path(__file__).with_name("lean_user_suite.py")
# refka's base dependencies and theirs; nothing else may arrive with `pip install refka`.
BASE = {
    "refka", "kio", "typing-extensions", "crc32c", "lz4", "zstandard", "cramjam", "pip",
}  # fmt: skip
PYTEST = {"pytest", "iniconfig", "packaging", "pluggy", "pygments"}
IGNORED = {".venv", ".git", "data", "build", "dist", "states", "bench", ".peers"}


def run(*argv: object, cwd: Path | None = None, timeout: float = 600) -> str:
    """Run outside this checkout's environment: no PYTHONPATH pointing into the sources."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    result = subprocess.run(
        [str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, f"{argv}:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return result.stdout


def make_venv(path: Path) -> Path:
    venv.EnvBuilder(with_pip=True, clear=True).create(path)
    return path / "bin" / "python"


def installed(python: Path) -> set[str]:
    lines = run(python, "-m", "pip", "list", "--format=freeze").splitlines()
    return {line.split("==")[0].lower().replace("_", "-") for line in lines if "==" in line}


def site_packages_mb(python: Path) -> float:
    [site] = run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))").split()
    return sum(p.stat().st_size for p in Path(site).rglob("*") if p.is_file()) / 1e6


def ignore(_dir: str, names: list[str]) -> set[str]:
    return {n for n in names if n in IGNORED or n.endswith(".egg-info") or n == "__pycache__"}


def test_the_wheel_without_extras_runs_the_broker_and_the_fixtures(tmp_path: Path) -> None:
    tools = make_venv(tmp_path / "tools")
    try:
        run(tools, "-m", "pip", "install", "--quiet", "build", timeout=300)
    except AssertionError as error:
        if "No matching distribution" in str(error) or "connection" in str(error).lower():
            pytest.skip(f"the package index is out of reach: {str(error)[-300:]}")
        raise
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=ignore)
    dist = tmp_path / "dist"
    run(tools, "-m", "build", "--outdir", dist, source)  # the sdist, then the wheel from it
    [sdist] = dist.glob("refka-*.tar.gz")
    [wheel] = dist.glob("refka-*.whl")
    assert sdist.stat().st_size > 0

    user = make_venv(tmp_path / "user")
    fresh, fresh_mb = installed(user), site_packages_mb(user)  # pip (and setuptools on 3.11)
    run(user, "-m", "pip", "install", "--quiet", wheel)
    assert installed(user) - fresh <= BASE, installed(user) - fresh - BASE
    base_mb = site_packages_mb(user) - fresh_mb
    refka = tmp_path / "user" / "bin" / "refka"
    for tool in ("broker", "cluster", "storage"):
        run(refka, tool, "--help")
    missing = subprocess.run([refka, "conform", "--help"], capture_output=True, text=True)
    assert missing.returncode == 2 and "pip install 'refka[conformance]'" in missing.stderr

    run(user, "-m", "pip", "install", "--quiet", "pytest")
    assert installed(user) - fresh <= BASE | PYTEST, installed(user) - fresh - BASE - PYTEST
    suite = tmp_path / "suite"
    suite.mkdir()
    shutil.copy(SUITE, suite / "test_user.py")
    out = run(user, "-m", "pytest", "-q", "-p", "no:cacheprovider", suite, cwd=suite)
    assert "3 passed" in out, out
    print(f"refka without extras adds {base_mb:.1f} MB to a fresh venv's site-packages")
