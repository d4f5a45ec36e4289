"""Connection quotas and the request memory pool, sans-I/O (Kafka's ``ConnectionQuotas``,
``SimpleMemoryPool``)."""

from __future__ import annotations

from refka.security.connection_quotas import ConnectionQuotas, OverLimit
from refka.security.memory_pool import MemoryPool


def test_per_ip_limit_and_override() -> None:
    quotas = ConnectionQuotas(max_per_ip=2, per_ip_overrides={"10.0.0.9": 3})
    assert quotas.admit("PLAINTEXT", "10.0.0.1") is None
    assert quotas.admit("PLAINTEXT", "10.0.0.1") is None
    over = quotas.admit("SSL", "10.0.0.1")
    assert over == OverLimit("too many connections from 10.0.0.1 (max 2)", wait=False)
    for _ in range(3):
        assert quotas.admit("PLAINTEXT", "10.0.0.9") is None
    assert quotas.admit("PLAINTEXT", "10.0.0.9") is not None
    quotas.release("PLAINTEXT", "10.0.0.1")
    assert quotas.admit("PLAINTEXT", "10.0.0.1") is None
    assert quotas.total == 5


def test_broker_wide_limit_spares_the_inter_broker_listener() -> None:
    quotas = ConnectionQuotas(max_connections=1, protected_listener="REPLICATION")
    assert quotas.admit("PLAINTEXT", "a") is None
    assert quotas.admit("PLAINTEXT", "b") == OverLimit(
        "too many connections (max.connections 1)", wait=True
    )
    assert quotas.admit("REPLICATION", "c") is None
    quotas.release("PLAINTEXT", "a")
    quotas.release("REPLICATION", "c")
    assert quotas.total == 0 and not quotas.by_ip and not quotas.by_listener


def test_listener_limit() -> None:
    quotas = ConnectionQuotas(listener_max={"SSL": 1})
    assert quotas.admit("SSL", "a") is None
    over = quotas.admit("SSL", "b")
    assert over is not None and over.wait and "listener SSL" in over.reason
    assert quotas.admit("PLAINTEXT", "b") is None


def test_pool_lets_one_request_overshoot_then_waits() -> None:
    pool = MemoryPool(100)
    assert pool.try_reserve(60)
    assert pool.try_reserve(60)  # memory was left: it goes through, overshooting
    assert not pool.try_reserve(1)
    pool.release(60)
    assert pool.try_reserve(1)


def test_unbounded_pool_always_reserves() -> None:
    pool = MemoryPool()
    assert pool.try_reserve(1 << 40) and not pool.bounded


def test_exempt_listener_is_not_counted() -> None:
    quotas = ConnectionQuotas(max_connections=0, max_per_ip=0, exempt=frozenset({"CONTROLLER"}))
    assert quotas.admit("CONTROLLER", "a") is None
    assert quotas.admit("PLAINTEXT", "a") is not None
    quotas.release("CONTROLLER", "a")
    assert quotas.total == 0


def test_announced_huge_frame_holds_only_what_arrived() -> None:
    """A size prefix of 50 MB followed by a few bytes does not allocate 50 MB."""
    import struct
    import tracemalloc

    from refka.protocol.framing import NEED_DATA, FrameDecoder

    decoder = FrameDecoder()
    tracemalloc.start()
    try:
        decoder.feed(struct.pack(">i", 50_000_000) + b"x" * 100_000)
        assert decoder.next_frame() is NEED_DATA
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2_000_000


def test_large_frame_grows_to_its_whole_size() -> None:
    import struct

    from refka.protocol.framing import NEED_DATA, FrameDecoder

    payload = bytes(range(256)) * 8192  # 2 MiB, over the size allocated at once
    decoder = FrameDecoder()
    data = struct.pack(">i", len(payload)) + payload + struct.pack(">i", 1) + b"z"
    frames = []
    for start in range(0, len(data), 70_001):
        decoder.feed(data[start : start + 70_001])
        frame = decoder.next_frame()
        while frame is not NEED_DATA and frame is not None:
            frames.append(bytes(frame))
            frame = decoder.next_frame()
    assert frames == [payload, b"z"]
