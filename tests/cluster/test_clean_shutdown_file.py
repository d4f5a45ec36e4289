"""``.kafka_cleanshutdown``: written on a clean stop, read and removed on the next start."""

from __future__ import annotations

import json

from refka.broker.clean_shutdown import (
    CLEAN_SHUTDOWN_FILE,
    mark_clean_shutdown,
    take_previous_broker_epoch,
)
from refka.log.storage import MemoryStorage


def test_a_clean_stop_is_remembered_once() -> None:
    storage = MemoryStorage()
    assert take_previous_broker_epoch(storage) == -1  # first start
    mark_clean_shutdown(storage, 42)
    body = storage.read(CLEAN_SHUTDOWN_FILE, 0, storage.size(CLEAN_SHUTDOWN_FILE))
    assert json.loads(body) == {"version": 0, "brokerEpoch": 42}  # CleanShutdownFileHandler's
    assert take_previous_broker_epoch(storage) == 42
    assert take_previous_broker_epoch(storage) == -1  # a crash after this start is unclean


def test_never_registered_or_garbled_means_unclean() -> None:
    storage = MemoryStorage()
    mark_clean_shutdown(storage, -1)
    assert not storage.exists(CLEAN_SHUTDOWN_FILE)
    storage.append(CLEAN_SHUTDOWN_FILE, b"{not json")
    assert take_previous_broker_epoch(storage) == -1
    assert not storage.exists(CLEAN_SHUTDOWN_FILE)
