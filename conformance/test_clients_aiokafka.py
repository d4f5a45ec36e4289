"""Client flows through aiokafka (non-flexible protocol versions only)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from conformance.client_flows import CODECS, Message, deadline, messages, require_data_plane
from conformance.target import Target, require_api


async def produce_all(target: Target, topic: str, sent: list[Message], **config: Any) -> None:
    p = AIOKafkaProducer(bootstrap_servers=target.bootstrap, linger_ms=5, **config)
    await p.start()
    try:
        futures = [
            await p.send(
                topic,
                m.value,
                m.key,
                partition=0,
                timestamp_ms=m.timestamp_ms,
                headers=list(m.headers) or None,
            )
            for m in sent
        ]
        await asyncio.gather(*futures)
    finally:
        await p.stop()


async def consume(target: Target, topic: str, offset: int, count: int) -> list[Any]:
    c = AIOKafkaConsumer(bootstrap_servers=target.bootstrap, enable_auto_commit=False)
    await c.start()
    try:
        tp = TopicPartition(topic, 0)
        c.assign([tp])
        c.seek(tp, offset)
        got: list[Any] = []
        end = deadline()
        while len(got) < count and time.monotonic() < end:
            for records in (await c.getmany(timeout_ms=500)).values():
                got.extend(records)
        return got
    finally:
        await c.stop()


def as_message(r: Any) -> Message:
    return Message(r.key, r.value, tuple((k, bytes(v)) for k, v in r.headers), r.timestamp)


@pytest.mark.api("Produce", behaviour="aiokafka round trip: keys, headers, timestamps")
@pytest.mark.parametrize("codec", CODECS)
def test_round_trip(target: Target, topic: str, codec: str) -> None:
    require_data_plane(target)
    sent = messages()

    async def flow() -> list[Any]:
        await produce_all(target, topic, sent, compression_type=None if codec == "none" else codec)
        return await consume(target, topic, 0, len(sent))

    got = asyncio.run(flow())
    assert [as_message(r) for r in got] == sent
    assert [r.offset for r in got] == list(range(len(sent)))


@pytest.mark.api("ListOffsets", behaviour="aiokafka offsets_for_times, beginning and end")
def test_offsets(target: Target, topic: str) -> None:
    require_data_plane(target)

    async def flow() -> tuple[Any, Any, int, int]:
        await produce_all(target, topic, messages(10))
        c = AIOKafkaConsumer(bootstrap_servers=target.bootstrap, enable_auto_commit=False)
        await c.start()
        try:
            tp = TopicPartition(topic, 0)
            found = (await c.offsets_for_times({tp: 1_700_000_004_500}))[tp]
            late = (await c.offsets_for_times({tp: 2**42}))[tp]
            low = (await c.beginning_offsets([tp]))[tp]
            high = (await c.end_offsets([tp]))[tp]
            return found, late, low, high
        finally:
            await c.stop()

    found, late, low, high = asyncio.run(flow())
    assert (found.offset, found.timestamp) == (5, 1_700_000_005_000)
    assert late is None
    assert (low, high) == (0, 10)


@pytest.mark.api("Fetch", behaviour="aiokafka: seek reads from the given offset")
def test_seek(target: Target, topic: str) -> None:
    require_data_plane(target)

    async def flow() -> list[Any]:
        await produce_all(target, topic, messages(8))
        return await consume(target, topic, 5, 3)

    assert [r.offset for r in asyncio.run(flow())] == [5, 6, 7]


@pytest.mark.api("Produce", behaviour="aiokafka idempotent producer: in order, no duplicates")
def test_idempotent(target: Target, topic: str) -> None:
    require_data_plane(target)
    require_api(target, "InitProducerId", 0)
    sent = messages(40)

    async def flow() -> list[Any]:
        await produce_all(target, topic, sent, enable_idempotence=True)
        return await consume(target, topic, 0, 40)

    assert [r.value for r in asyncio.run(flow())] == [m.value for m in sent]


@pytest.mark.api("JoinGroup", behaviour="aiokafka group consumer: subscribe and commit")
def test_group_commit(target: Target, topic: str) -> None:
    require_data_plane(target)
    for api in ("FindCoordinator", "JoinGroup", "SyncGroup", "OffsetCommit", "OffsetFetch"):
        require_api(target, api, 0)
    group = f"group-{topic}"

    async def flow() -> tuple[list[Any], Any]:
        await produce_all(target, topic, messages(5))
        c = AIOKafkaConsumer(
            topic,
            bootstrap_servers=target.bootstrap,
            group_id=group,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await c.start()
        try:
            got: list[Any] = []
            end = deadline()
            while len(got) < 5 and time.monotonic() < end:
                for records in (await c.getmany(timeout_ms=500)).values():
                    got.extend(records)
            await c.commit()
            return got, await c.committed(TopicPartition(topic, 0))
        finally:
            await c.stop()

    got, committed = asyncio.run(flow())
    assert [r.offset for r in got] == [0, 1, 2, 3, 4]
    assert committed == 5
