"""``refka.protocol.bounds``: a compact array count larger than the frame is refused before kio
sizes a vector from it (kio's native reader aborted the process on a count of 2**32 - 2), and
the walk agrees with kio's layout on every flexible request version refka serves."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from refka.fuzz.schema import entities
from refka.log.storage import MemoryStorage
from refka.protocol import bounds, codec
from refka.protocol.framing import parse_request_header

DELETE_GROUPS_V2 = codec.request_class(42, 2)
LYING_COUNT = b"\xff\xff\xff\xff\x0f"  # uvarint 2**32 - 1: 2**32 - 2 entries


def test_a_count_past_the_frame_is_impossible() -> None:
    with pytest.raises(bounds.ImpossibleCount, match="groups_names claims 4294967294"):
        bounds.check(DELETE_GROUPS_V2, LYING_COUNT + b"\0", 0)
    bounds.check(DELETE_GROUPS_V2, b"\x02\x02g\0\0", 0)  # one group "g": fine


def test_the_broker_closes_the_connection_and_lives() -> None:
    """In a child process: before the fix the whole process aborted in kio's allocation."""
    script = f"""
from refka.fuzz.target import InProcessTarget
from refka.log.storage import MemoryStorage
target = InProcessTarget(MemoryStorage())
frame = bytes.fromhex("002a000200000001ffff00") + {LYING_COUNT!r} + b"\\0"
outcome = target.send(len(frame).to_bytes(4, "big") + frame)
print(outcome.verdict, target.canary(b"after"))
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["closed", "None"]


def _flexible_classes() -> list[type]:
    from refka.fuzz.target import InProcessTarget

    target = InProcessTarget(MemoryStorage())
    classes = [
        codec.request_class(key, version)
        for key, low, high in target.apis
        for version in range(low, high + 1)
    ]
    target.close()
    return [c for c in classes if c.__flexible__]


@settings(
    max_examples=200,
    database=None,
    deadline=None,
    phases=[Phase.generate],
    suppress_health_check=list(HealthCheck),
)
@given(st.data())
def test_the_walk_ends_where_kio_ends(data: st.DataObject) -> None:
    cls = data.draw(st.sampled_from(FLEXIBLE))
    try:
        frame = codec.request_frame(data.draw(entities(cls)), 1, "c")
    except (ValueError, TypeError, OverflowError):
        return  # a drawn value kio cannot write
    _, offset = parse_request_header(frame)
    assert bounds._entity(cls)(frame, offset, len(frame)) == len(frame)


FLEXIBLE = _flexible_classes()
