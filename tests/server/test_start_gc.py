"""The start runs without the garbage collector (issue 15), and it comes back on: after a
refused config, and once a broker is ready (with the start's objects frozen out of its scans)."""

from __future__ import annotations

import argparse
import gc

from refka.server import main


def test_the_collector_is_back_on_after_a_refused_config() -> None:
    args = argparse.Namespace(config=None, set=["num.partitions=lots"], log_level="ERROR")
    assert main.run(args) == 2
    assert gc.isenabled()


def test_the_collector_is_back_on_once_ready() -> None:
    frozen = gc.get_freeze_count()
    gc.disable()
    try:
        main._collect_from_now()
        assert gc.isenabled()
        assert gc.get_freeze_count() > frozen
    finally:
        gc.unfreeze()
        gc.enable()


def test_a_collector_left_on_by_the_caller_is_not_frozen() -> None:
    """In-process brokers (``serve`` called by a test process) leave the collector alone."""
    frozen = gc.get_freeze_count()
    main._collect_from_now()
    assert gc.isenabled() and gc.get_freeze_count() == frozen
