"""A byte range of a segment file: what a log read returns instead of copying record data.

The log hands ``FileSlice``s up; the driver sends them from the file to the socket unchanged
(``sendfile``, zero copy), as Kafka's ``FileRecords.slice``/``TransferableRecords`` do.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FileSlice:
    """``size`` bytes of a segment file at ``position``, sent unchanged (``sendfile``)."""

    path: str
    position: int
    size: int
