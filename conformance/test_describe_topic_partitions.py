"""DescribeTopicPartitions (KIP-966): topics' partitions in name order, paged by a cursor."""

from __future__ import annotations

from typing import Any

import pytest
from kio.schema.errors import ErrorCode

from conformance.target import Target, unique_topic

ALL_TOPIC_OPERATIONS = 3576  # READ .. ALTER_CONFIGS: no authorizer
PAGE_LIMIT, MAX_PAGES = 100, 1000  # partitions a page; pages before the cursor must end


def describe(
    target: Target, names: list[str], limit: int = 2000, cursor: tuple[str, int] | None = None
) -> Any:
    return target.call(
        "DescribeTopicPartitions",
        0,
        0,
        topics=[{"name": n} for n in names],
        response_partition_limit=limit,
        cursor=None if cursor is None else {"topic_name": cursor[0], "partition_index": cursor[1]},
    )


def pages(answer: Any) -> list[tuple[str, ErrorCode, list[int]]]:
    return [
        (t.name, t.error_code, [p.partition_index for p in t.partitions]) for t in answer.topics
    ]


def cursor_of(answer: Any) -> tuple[str, int] | None:
    c = answer.next_cursor
    return None if c is None else (c.topic_name, c.partition_index)


def all_topic_names(target: Target) -> list[str]:
    """Every topic's name, page after page (a broker that has lived long holds more
    partitions than one answer's limit); a topic split across two pages is named once."""
    names: list[str] = []
    cursor = None
    for _ in range(MAX_PAGES):
        answer = describe(target, [], limit=PAGE_LIMIT, cursor=cursor)
        names += [t.name for t in answer.topics if not names or t.name != names[-1]]
        cursor = cursor_of(answer)
        if cursor is None:
            return names
    raise AssertionError(f"the cursor did not end within {MAX_PAGES} pages")


@pytest.fixture
def pair(target: Target) -> tuple[str, str]:
    """Two new topics, in name order, with three and two partitions."""
    first, second = sorted([unique_topic(), unique_topic()])
    target.create_topic(first, 3)
    target.create_topic(second, 2)
    return first, second


@pytest.mark.api(
    "DescribeTopicPartitions", behaviour="a topic: id, leader, replicas, ISR, empty ELR"
)
def test_one_topic(target: Target, topic3: str) -> None:
    answer = describe(target, [topic3])
    assert answer.next_cursor is None
    (found,) = answer.topics
    assert (found.error_code, found.name, found.is_internal) == (ErrorCode.none, topic3, False)
    assert found.topic_id == target.metadata_topic(topic3).topic_id
    assert found.topic_authorized_operations == ALL_TOPIC_OPERATIONS
    assert [p.partition_index for p in found.partitions] == [0, 1, 2]
    for p in found.partitions:
        assert p.error_code == ErrorCode.none and p.leader_id >= 0 and p.leader_epoch >= 0
        assert p.leader_id in p.isr_nodes and set(p.isr_nodes) <= set(p.replica_nodes)
        assert (p.eligible_leader_replicas, p.last_known_elr, p.offline_replicas) == ((), (), ())


@pytest.mark.api("DescribeTopicPartitions", behaviour="name order; unknown and illegal names")
def test_order_and_errors(target: Target, pair: tuple[str, str]) -> None:
    first, second = pair
    absent = unique_topic("absent")
    answer = describe(target, [second, "bad name!", absent, first])
    assert pages(answer) == sorted(
        [
            (first, ErrorCode.none, [0, 1, 2]),
            (second, ErrorCode.none, [0, 1]),
            (absent, ErrorCode.unknown_topic_or_partition, []),
            ("bad name!", ErrorCode.invalid_topic_exception, []),
        ]
    )
    for t in answer.topics:
        assert t.topic_authorized_operations == ALL_TOPIC_OPERATIONS


@pytest.mark.api("DescribeTopicPartitions", behaviour="the limit pages; the cursor resumes")
def test_paging(target: Target, pair: tuple[str, str]) -> None:
    first, second = pair
    answer = describe(target, [second, first], limit=2)
    assert pages(answer) == [(first, ErrorCode.none, [0, 1])]
    assert cursor_of(answer) == (first, 2)
    answer = describe(target, [second, first], limit=2, cursor=(first, 2))
    assert pages(answer) == [(first, ErrorCode.none, [2]), (second, ErrorCode.none, [0])]
    assert cursor_of(answer) == (second, 1)
    answer = describe(target, [second, first], limit=2, cursor=(second, 1))
    assert (pages(answer), cursor_of(answer)) == ([(second, ErrorCode.none, [1])], None)


@pytest.mark.api("DescribeTopicPartitions", behaviour="a full page ends at the next topic")
def test_exact_page(target: Target, pair: tuple[str, str]) -> None:
    first, second = pair
    answer = describe(target, [first, second], limit=3)
    assert (pages(answer), cursor_of(answer)) == ([(first, ErrorCode.none, [0, 1, 2])], (second, 0))
    answer = describe(target, [first], limit=3)
    assert cursor_of(answer) is None
    answer = describe(target, [first, second], limit=5)
    assert cursor_of(answer) is None and len(answer.topics) == 2


@pytest.mark.api("DescribeTopicPartitions", behaviour="a limit below 1 counts as 1")
@pytest.mark.parametrize("limit", [0, -5])
def test_limit_below_one(target: Target, pair: tuple[str, str], limit: int) -> None:
    first, second = pair
    answer = describe(target, [first, second], limit=limit)
    assert (pages(answer), cursor_of(answer)) == ([(first, ErrorCode.none, [0])], (first, 1))


@pytest.mark.api("DescribeTopicPartitions", behaviour="a cursor past the topic's partitions")
def test_cursor_past_end(target: Target, pair: tuple[str, str]) -> None:
    first, _ = pair
    answer = describe(target, [first], cursor=(first, 9))
    assert (pages(answer), cursor_of(answer)) == ([(first, ErrorCode.none, [])], None)


@pytest.mark.api("DescribeTopicPartitions", behaviour="no topics named: every topic, from a cursor")
def test_all_topics(target: Target, pair: tuple[str, str]) -> None:
    first, second = pair
    names = all_topic_names(target)
    assert names == sorted(names) and {first, second} <= set(names)
    answer = describe(target, [], limit=2, cursor=(first, 1))
    assert pages(answer) == [(first, ErrorCode.none, [1, 2])]
    assert cursor_of(answer) == (names[names.index(first) + 1], 0)


@pytest.mark.api("DescribeTopicPartitions", behaviour="a bad cursor: every topic INVALID_REQUEST")
@pytest.mark.parametrize("bad", ["other topic", "negative partition"])
def test_bad_cursor(target: Target, pair: tuple[str, str], bad: str) -> None:
    first, second = pair
    cursor = (unique_topic("absent"), 0) if bad == "other topic" else (first, -1)
    answer = describe(target, [second, first], cursor=cursor)
    assert pages(answer) == [
        (second, ErrorCode.invalid_request, []),
        (first, ErrorCode.invalid_request, []),
    ]
    assert answer.next_cursor is None
    assert {t.topic_authorized_operations for t in answer.topics} == {-(1 << 31)}
