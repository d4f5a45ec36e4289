"""Kafka's checkpoint files: a version line, a count line, then one entry per line.

``recovery-point-offset-checkpoint``, ``log-start-offset-checkpoint`` and
``replication-offset-checkpoint`` (the high watermarks) hold ``topic partition offset``
lines; ``leader-epoch-checkpoint`` holds ``epoch offset`` lines.
Version 0 for all of them. Written atomically: ``<file>.tmp``, fsync, rename (Kafka's
``CheckpointFile``).
"""

from __future__ import annotations

from refka.log.storage import Storage, write_atomically

VERSION = 0
RECOVERY_POINT_CHECKPOINT = "recovery-point-offset-checkpoint"
LOG_START_OFFSET_CHECKPOINT = "log-start-offset-checkpoint"
REPLICATION_OFFSET_CHECKPOINT = "replication-offset-checkpoint"


class CorruptCheckpointError(ValueError):
    """A checkpoint file that does not parse (Kafka throws and the broker stops)."""


def write_checkpoint(storage: Storage, path: str, entries: list[tuple[object, ...]]) -> None:
    lines = [str(VERSION), str(len(entries))]
    lines += [" ".join(str(field) for field in entry) for entry in entries]
    write_atomically(storage, path, ("\n".join(lines) + "\n").encode())


def read_checkpoint(storage: Storage, path: str, fields: int) -> list[list[str]]:
    """The entries of ``path`` split into ``fields`` strings each; [] if it does not exist."""
    if not storage.exists(path):
        return []
    text = storage.read(path, 0, storage.size(path)).decode("utf-8", "replace")
    lines = text.splitlines()
    try:
        if int(lines[0]) != VERSION:
            raise CorruptCheckpointError(f"{path}: unrecognised version {lines[0]}")
        count = int(lines[1])
    except (IndexError, ValueError):
        raise CorruptCheckpointError(f"{path}: malformed header") from None
    entries = [line.split(" ") for line in lines[2:] if line]
    if len(entries) != count or any(len(e) != fields for e in entries):
        raise CorruptCheckpointError(f"{path}: expected {count} entries of {fields} fields")
    return entries


def write_offsets(storage: Storage, path: str, offsets: dict[tuple[str, int], int]) -> None:
    """``topic partition offset`` lines, sorted for a stable file."""
    write_checkpoint(storage, path, [(t, p, o) for (t, p), o in sorted(offsets.items())])


def read_offsets(storage: Storage, path: str) -> dict[tuple[str, int], int]:
    try:
        return {(t, int(p)): int(o) for t, p, o in read_checkpoint(storage, path, 3)}
    except ValueError as e:
        if isinstance(e, CorruptCheckpointError):
            raise
        raise CorruptCheckpointError(f"{path}: {e}") from None
