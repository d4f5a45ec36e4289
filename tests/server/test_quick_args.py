"""``refka broker``'s command line read without argparse (``quick_args``, issue 15): the same
answer as ``add_arguments``' parser for the usual lines, and None (argparse answers) for the
rest."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest
from refka.server.main import add_arguments, quick_args


def parsed(argv: list[str]) -> tuple[str | None, list[str], str]:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(argv)
    return args.config, args.set, args.log_level


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["--set", "log.dirs=/tmp/x", "--set", "listeners=PLAINTEXT://127.0.0.1:0"],
        ["--config", "server.properties", "--log-level", "debug", "--set", "node.id=2"],
        ["--set=advertised.listeners=PLAINTEXT://h:1", "--log-level=WARNING"],
        ["--config", "a.properties", "--config", "b.properties"],
    ],
)
def test_the_usual_lines_read_as_argparse_reads_them(argv: list[str]) -> None:
    quick = quick_args(argv)
    assert quick is not None
    assert (quick.config, quick.set, quick.log_level) == parsed(argv)


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["-h"],
        ["--set"],  # a missing value
        ["--set", "--config", "x"],
        ["--conf", "x"],  # argparse's abbreviation
        ["--log-level", "TRACE"],  # not a choice
        ["extra"],
    ],
)
def test_anything_else_is_left_to_argparse(argv: list[str]) -> None:
    assert quick_args(argv) is None


def test_a_mistake_still_gets_argparse_s_answer() -> None:
    argv = [sys.executable, "-m", "refka", "broker", "--log-level", "TRACE"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "invalid choice: 'TRACE'" in done.stderr
