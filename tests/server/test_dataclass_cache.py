"""The cache of dataclasses' generated methods (``refka.dataclass_cache``, issue 15): a second
process takes the methods from the file instead of compiling them, they behave as compiled
ones, and a damaged, stale or unwritable file only costs the compiles."""

from __future__ import annotations

import json
import marshal
import os
import subprocess
import sys
from importlib.util import MAGIC_NUMBER
from pathlib import Path
from typing import Any

import pytest

# one process: install the cache at PATH, create a dataclass, save, report
PROCESS = """
import dataclasses, json, sys
from refka import dataclass_cache
dataclass_cache.PATH = sys.argv[1]
dataclass_cache.MAX_ENTRIES = int(sys.argv[2])
dataclass_cache.install()

@dataclasses.dataclass(frozen=True, slots=True)
class Point:
    x: int
    label: str = "origin"

compiled = len(dataclass_cache._new)
dataclass_cache.save()
try:
    Point(1).x = 2
    frozen = False
except dataclasses.FrozenInstanceError:
    frozen = True
print(json.dumps({
    "compiled": compiled,
    "equal": Point(1) == Point(1) and Point(1) != Point(2),
    "hashed": hash(Point(1, "a")) == hash(Point(1, "a")),
    "repr": repr(Point(3, "b")),
    "frozen": frozen,
}))
"""


def run(cache: Path, *flags: str, max_entries: int = 1024) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    out = subprocess.run(
        [sys.executable, *flags, "-c", PROCESS, str(cache), str(max_entries)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        timeout=60,
    )
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def behaves(result: dict[str, Any]) -> None:
    assert result["equal"] and result["hashed"] and result["frozen"]
    assert result["repr"] == "Point(x=3, label='b')"


def test_a_second_process_compiles_nothing_and_gets_the_same_methods(tmp_path: Path) -> None:
    cache = tmp_path / "methods.marshal"
    first = run(cache)
    assert first["compiled"] >= 5  # __init__, __repr__, __eq__, __hash__, __setattr__, ...
    assert cache.read_bytes().startswith(MAGIC_NUMBER)
    second = run(cache)
    assert second["compiled"] == 0
    behaves(first)
    behaves(second)


@pytest.mark.parametrize(
    "content",
    [b"", b"not marshal at all", b"\x00\x01\x02\x03" + marshal.dumps({"def f(): pass": 1})],
    ids=["empty", "garbage", "another-python"],
)
def test_a_damaged_or_stale_file_only_costs_the_compiles(tmp_path: Path, content: bytes) -> None:
    cache = tmp_path / "methods.marshal"
    cache.write_bytes(content)
    result = run(cache)
    assert result["compiled"] >= 5
    behaves(result)
    assert run(cache)["compiled"] == 0  # rewritten whole


def test_no_file_without_bytecode_writing_nor_where_it_cannot_be_written(tmp_path: Path) -> None:
    behaves(run(tmp_path / "methods.marshal", "-B"))  # PYTHONDONTWRITEBYTECODE's flag
    assert not (tmp_path / "methods.marshal").exists()
    not_a_folder = tmp_path / "a-file"
    not_a_folder.write_text("")
    behaves(run(not_a_folder / "methods.marshal"))  # the save fails, even for root
    assert list(tmp_path.iterdir()) == [not_a_folder]


def test_the_file_starts_over_beyond_its_limit(tmp_path: Path) -> None:
    cache = tmp_path / "methods.marshal"
    others = {
        f"def f{n}(): pass": compile(f"def f{n}(): pass", "<string>", "exec") for n in range(20)
    }
    cache.write_bytes(MAGIC_NUMBER + marshal.dumps(others))
    run(cache, max_entries=len(others) + 100)  # room: the other entries stay
    assert others.keys() < marshal.loads(cache.read_bytes()[len(MAGIC_NUMBER) :]).keys()
    cache.write_bytes(MAGIC_NUMBER + marshal.dumps(others))
    result = run(cache, max_entries=len(others))
    kept = marshal.loads(cache.read_bytes()[len(MAGIC_NUMBER) :])
    assert len(kept) == result["compiled"] and not others.keys() & kept.keys()


@pytest.mark.timeout(120)  # the broker prints its ready line or exits
def test_a_broker_leaves_its_start_methods_for_the_next_start(tmp_path: Path) -> None:
    from refka import dataclass_cache

    Path(dataclass_cache.PATH).unlink(missing_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    argv = [sys.executable, "-m", "refka", "broker", "--set", "listeners=PLAINTEXT://127.0.0.1:0"]
    argv += ["--set", f"log.dirs={tmp_path}"]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env=env) as broker:
        try:
            assert broker.stdout is not None
            assert broker.stdout.readline().startswith("refka broker ready")
            data = Path(dataclass_cache.PATH).read_bytes()
        finally:
            broker.kill()
    # the start path's dataclasses: refka's events, effects, records and kio's entities
    assert len(marshal.loads(data[len(MAGIC_NUMBER) :])) > 300


def test_what_a_fork_server_ran_before_forking_stays_out_of_the_file(tmp_path: Path) -> None:
    cache = tmp_path / "methods.marshal"
    code = PROCESS.replace("compiled = len(", "dataclass_cache.forget()\ncompiled = len(")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run([sys.executable, "-c", code, str(cache), "1024"], check=True, env=env)
    assert not cache.exists()


def test_a_fork_servers_warm_up_keeps_its_methods_apart_for_the_next_server(
    tmp_path: Path,
) -> None:
    """The second server compiles none of its warm-up's methods; the start's file (which
    every broker start reads whole) gets none of them."""
    code = (
        "import sys\n"
        "from refka import dataclass_cache\n"
        "dataclass_cache.PATH = sys.argv[1]\n"
        "dataclass_cache.install()\n"
        "from refka.testing.fork_server import warm_up\n"
        "print(warm_up(sys.argv[2]))\n"
    )
    start, warm = tmp_path / "start.marshal", tmp_path / "warm.marshal"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    compiled = []
    for _ in range(2):
        argv = [sys.executable, "-c", code, str(start), str(warm)]
        out = subprocess.run(argv, capture_output=True, text=True, check=True, env=env)
        compiled.append(int(out.stdout))
    assert compiled[0] > 100 and compiled[1] == 0
    assert warm.exists() and not start.exists()
