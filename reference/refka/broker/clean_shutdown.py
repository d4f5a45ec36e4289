"""The clean-shutdown file (KIP-966): a broker that stopped cleanly says so when it returns.

On a clean shutdown the broker writes its broker epoch to ``.kafka_cleanshutdown`` in its log
directory (``{"version":0,"brokerEpoch":N}``, as Kafka's ``CleanShutdownFileHandler``). At start
it reads and removes the file and registers with ``previous_broker_epoch = N``; without the
file (a crash) it sends -1, and the controller treats the shutdown as unclean: the broker leaves
the eligible leader replicas of its partitions, since its log may have lost unflushed records.
"""

from __future__ import annotations

from refka.log.storage import Storage, write_atomically

CLEAN_SHUTDOWN_FILE = ".kafka_cleanshutdown"
NO_EPOCH = -1


def take_previous_broker_epoch(storage: Storage) -> int:
    """The broker epoch of the last clean shutdown (the file is removed), else -1."""
    if not storage.exists(CLEAN_SHUTDOWN_FILE):
        return NO_EPOCH
    import json  # only a restart after a clean shutdown reads the file

    try:
        data = json.loads(storage.read(CLEAN_SHUTDOWN_FILE, 0, storage.size(CLEAN_SHUTDOWN_FILE)))
        epoch = int(data["brokerEpoch"])
    except (ValueError, KeyError, TypeError):
        epoch = NO_EPOCH
    storage.delete(CLEAN_SHUTDOWN_FILE)
    return epoch


def mark_clean_shutdown(storage: Storage, broker_epoch: int) -> None:
    if broker_epoch >= 0:
        import json

        text = json.dumps({"version": 0, "brokerEpoch": broker_epoch})
        write_atomically(storage, CLEAN_SHUTDOWN_FILE, text.encode())
