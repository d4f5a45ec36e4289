"""No request Kafka answers reaches "internal error" in refka.

A handler that raises makes the core log "<API> vN failed" and close the connection with
"internal error in <API>"; a client sees a dropped connection where Kafka answers an error
code. The property drives the core in process (``core_driver``) with random, structurally
valid requests of every API refka advertises at every version it supports (strategies from
``kio_entities``), after making topics, records and a group for the requests to name. A
Close is allowed only when it is not an internal error (a frame Kafka also refuses), and
every answer must decode as the API's response. Each example is one to three requests on a
fresh core, each followed by ticks far enough for waiting requests (Fetch, JoinGroup) to end;
``--slow`` runs 5,000 examples of up to four.

Each crash the property found is pinned below as a plain regression test, answered alike by
refka's core and (``--slow``) by Apache Kafka.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any
from uuid import UUID

import pytest
from core_driver import START_MS, Driver
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kio.schema.errors import ErrorCode
from kio.serial.errors import OutOfBoundValue
from kio_entities import Pools, entities
from refka.core.effects import Close, Effect, Send
from refka.log.config import TOPIC_CONFIG_DEFAULTS
from refka.peers.kafka import running_kafka
from refka.peers.process import PeerUnavailable
from refka.protocol import codec

from conformance.records import Record, build_batch
from conformance.wire import Connection, build, decode_response

TOPICS = {"fz-a": 2, "fz-b": 1}
TOPIC_CONFIGS = {  # fz-b: a segment a batch, compacted and trimmed by size
    "fz-b": {
        "cleanup.policy": "compact,delete",
        "segment.ms": "1",
        "retention.bytes": "300",
        "min.cleanable.dirty.ratio": "0.01",
    }
}
BATCHES = {"fz-a": 2, "fz-b": 6}
GROUP = "fz-g"
TOPIC_NAMES = (*TOPICS, *TOPICS, "fz-c", "absent", "__consumer_offsets", "")
GROUPS = (GROUP, "fz-h", "")
WORDS = (
    *TOPIC_CONFIG_DEFAULTS,
    *("-1", "0", "1", "0.01", "compact", "delete", "compact,delete", "LogAppendTime", "x"),
    *("producer", "gzip", "zstd", "uncompressed", "true", "false"),
    *("consumer", "range", "roundrobin"),
)
NEGATIVE_TIMESTAMPS = {38, 39, 40}  # Create/Renew/ExpireDelegationToken refusals: kio cannot
# read their -1 timestamps, which Apache Kafka sends too
APIS = Driver().broker.apis  # the table a broker advertises
VERSIONS = [
    (key, v) for key, api in APIS.items() for v in range(api.min_version, api.max_version + 1)
]
CREATE_TOPICS, PRODUCE, OFFSET_COMMIT, JOIN_GROUP, SYNC_GROUP, METADATA = 19, 0, 8, 11, 14, 3
JOIN_V5 = codec.response_class(JOIN_GROUP, 5)
JOIN_WAIT_MS = 4_000  # past group.initial.rebalance.delay.ms
SETUP_CONNECTION = 1000
SETUP_STEP_MS = 10
FIND_COORDINATOR = 10


def prepared() -> tuple[Driver, str]:
    """A broker with two topics, a few records in each partition and a stable group with
    committed offsets; and the id of the group's member."""
    driver = Driver()
    topics = [
        {
            "name": t,
            "num_partitions": n,
            "replication_factor": 1,
            "assignments": [],
            "configs": [{"name": k, "value": v} for k, v in TOPIC_CONFIGS.get(t, {}).items()],
        }
        for t, n in TOPICS.items()
    ]
    request = build(CREATE_TOPICS, 4, topics=topics, timeout=5000, validate_only=False)
    answer = driver.call(SETUP_CONNECTION, request, codec.response_class(CREATE_TOPICS, 4))
    assert {t.error_code for t in answer.topics} == {ErrorCode.none}
    for topic, partitions in TOPICS.items():
        for partition, _ in itertools.product(range(partitions), range(BATCHES[topic])):
            records = [Record(b"a", key=b"k1"), Record(b"b", key=b"k2")]
            batch = build_batch(records, timestamp_ms=driver.now_ms)
            data = [{"name": topic, "partition_data": [{"index": partition, "records": batch}]}]
            request = build(PRODUCE, 8, acks=-1, timeout=5000, topic_data=data)
            answer = driver.call(SETUP_CONNECTION, request, codec.response_class(PRODUCE, 8))
            [[written]] = [t.partition_responses for t in answer.responses]
            assert written.error_code == ErrorCode.none, written
            driver.tick(SETUP_STEP_MS)
    commit = build(
        OFFSET_COMMIT,
        2,
        group_id=GROUP,
        generation_id_or_member_epoch=-1,
        member_id="",
        retention_time_ms=-1,
        topics=[
            {
                "name": "fz-a",
                "partitions": [
                    {"partition_index": 0, "committed_offset": 1, "committed_metadata": ""}
                ],
            }
        ],
    )
    wait_for_coordinator(driver)
    driver.call(SETUP_CONNECTION, commit, codec.response_class(OFFSET_COMMIT, 2))
    return driver, join(driver)


def wait_for_coordinator(driver: Driver) -> None:
    """FindCoordinator until the group has one: the first asks the controller for
    ``__consumer_offsets``, whose partitions then load (as a client meets a new cluster)."""
    request = build(FIND_COORDINATOR, 3, key=GROUP, key_type=0)
    for _ in range(100):
        found = driver.call(SETUP_CONNECTION, request, codec.response_class(FIND_COORDINATOR, 3))
        if found.error_code == ErrorCode.none:
            driver.tick(SETUP_STEP_MS)  # the partition's load finishes on the next ticks
            return
        driver.tick(SETUP_STEP_MS)
    raise AssertionError(f"no coordinator for {GROUP}: {found}")


def join(driver: Driver) -> str:
    """A member joins ``GROUP`` and gets its assignment: generation 1, a stable group."""
    join = {
        "group_id": GROUP,
        "session_timeout": 30_000,
        "rebalance_timeout": 60_000,
        "protocol_type": "consumer",
        "protocols": [{"name": "range", "metadata": b""}],
        "reason": None,
    }
    first = driver.call(SETUP_CONNECTION, build(JOIN_GROUP, 5, member_id="", **join), JOIN_V5)
    assert first.error_code == ErrorCode.member_id_required, first
    member_id = first.member_id
    pending = driver.request(SETUP_CONNECTION, build(JOIN_GROUP, 5, member_id=member_id, **join))
    effects = pending + driver.tick(JOIN_WAIT_MS)
    [joined] = driver.answers(effects, SETUP_CONNECTION, JOIN_V5)
    assert joined.error_code == ErrorCode.none, joined
    sync = build(
        SYNC_GROUP,
        3,
        group_id=GROUP,
        generation_id=joined.generation_id,
        member_id=member_id,
        group_instance_id=None,
        assignments=[{"member_id": member_id, "assignment": b""}],
    )
    synced = driver.call(SETUP_CONNECTION, sync, codec.response_class(SYNC_GROUP, 3))
    assert synced.error_code == ErrorCode.none, synced
    return str(member_id)


def pools(driver: Driver, member_id: str) -> Pools:
    ids = tuple(t.topic_id for t in driver.broker.topics.metadata.topics.values())
    return Pools(
        topics=TOPIC_NAMES,
        groups=GROUPS,
        members=(member_id, member_id, "", "m"),
        words=WORDS,
        uuids=ids,
        timestamps_ms=(START_MS, START_MS - 1, START_MS + 3_600_001, 0),
    )


POOLS = pools(*prepared())  # ids come from the seeded random: the same in every driver


class Exchange:
    """Requests on their own connections, and every effect checked as a socket driver meets it:
    a Send's file slices are read at once (a later tick may delete a segment, as retention
    does), and decoded as the response to that connection's request."""

    def __init__(self) -> None:
        self.driver, _ = prepared()
        self.requests: dict[int, Any] = {}

    def send(self, request: Any) -> None:
        """One request through the core, then time enough for any waiting answer to come."""
        connection_id = len(self.requests) + 1
        self.requests[connection_id] = request
        driver = self.driver
        self.check(driver.request(connection_id, request, allow_close=True))
        for advance_ms in (0, 1_000, 10_000, 400_000):
            self.check(driver.tick(advance_ms, allow_close=True))

    def check(self, effects: list[Effect]) -> None:
        """No internal error; every answer decodes as its API's response."""
        for effect in effects:
            if isinstance(effect, Close):
                request = self.requests[effect.connection_id]
                assert "internal error" not in effect.reason, (
                    f"{type(request).__name__} v{request.__version__}: {effect}"
                )
            elif isinstance(effect, Send):
                request = self.requests[effect.connection_id]
                response_type = codec.response_class(request.__api_key__, request.__version__)
                try:
                    decode_response(self.driver.frame_bytes(effect)[4:], response_type)
                except OutOfBoundValue:  # a -1 timestamp: Kafka's too (token_probes.py)
                    if request.__api_key__ not in NEGATIVE_TIMESTAMPS:
                        raise


@st.composite
def requests(draw: st.DrawFn) -> Any:
    key, version = draw(st.sampled_from(VERSIONS))
    return draw(entities(APIS[key].request_class(version), POOLS))


def run(batch: list[Any]) -> None:
    exchange = Exchange()
    for request in batch:
        exchange.send(request)


SETTINGS = settings(
    deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


@settings(SETTINGS, max_examples=60)
@given(batch=st.lists(requests(), min_size=1, max_size=3))
def test_no_request_reaches_an_internal_error(batch: list[Any]) -> None:
    run(batch)


@pytest.mark.slow
@settings(SETTINGS, max_examples=5000)
@given(batch=st.lists(requests(), min_size=1, max_size=4))
def test_no_request_reaches_an_internal_error_many(batch: list[Any]) -> None:
    run(batch)


# -- crashes the property found, pinned ------------------------------------------------


Answer = Callable[[Any], Any]


def refka_answer(request: Any) -> Any:
    """The one answer to ``request`` from a prepared core (no Close of any kind)."""
    driver, _ = prepared()
    response_type = codec.response_class(request.__api_key__, request.__version__)
    return driver.call(1, request, response_type)


@pytest.fixture(scope="module")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    try:
        context = running_kafka(tmp_path_factory.mktemp("kafka"))
        peer = context.__enter__()
    except PeerUnavailable as error:
        pytest.skip(str(error))
    try:
        yield peer.bootstrap
    finally:
        context.__exit__(None, None, None)


@pytest.fixture(params=["refka", pytest.param("kafka", marks=pytest.mark.slow)])
def answer(request: pytest.FixtureRequest) -> Answer:
    """How a pinned request is answered: by refka's core, or (``--slow``) by Apache Kafka."""
    if request.param == "refka":
        return refka_answer
    bootstrap = request.getfixturevalue("kafka_bootstrap")

    def kafka_answer(entity: Any) -> Any:
        with Connection(bootstrap) as connection:
            return connection.request(entity)

    return kafka_answer


@pytest.mark.parametrize("version", [10, 11])
@pytest.mark.parametrize("topic_id", [None, UUID(int=5)])
def test_metadata_v10_v11_refuse_a_null_name_or_a_topic_id(
    answer: Answer, version: int, topic_id: UUID | None
) -> None:
    """v10-v11 carry topic ids but Kafka 4.4 refuses them and a null name: the whole request
    answers INVALID_REQUEST (a null name crashed refka's encoder)."""
    name = None if topic_id is None else "fz-a"
    request = build(
        METADATA,
        version,
        topics=[{"name": "fz-b", "topic_id": None}, {"name": name, "topic_id": topic_id}],
        allow_auto_topic_creation=False,
        include_topic_authorized_operations=False,
    )
    response = answer(request)
    assert [(t.error_code, t.name) for t in response.topics] == [
        (ErrorCode.invalid_request, "fz-b"),
        (ErrorCode.invalid_request, name or ""),
    ]
    assert (response.brokers, response.controller_id) == ((), -1)
