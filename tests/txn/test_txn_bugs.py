"""The transaction bug switches (``refka.bugs``), each showing the anomaly its TLA+
configuration finds (spec/bugs/Transactions_*.cfg, invariant ReadCommittedSeesNoAborted).

- ``ReadUncommitted``: a read_committed Fetch reads up to the high watermark and lists no
  aborted transactions, so the consumer returns an aborted transaction's records.
- ``LateWriteAfterAbort`` (before KIP-890): the leader does not verify that a transactional
  write belongs to the producer's ongoing transaction, so a write that arrives after its
  transaction ended is appended (and opens a transaction no marker will close).
"""

from __future__ import annotations

import pytest
from kio.schema.errors import ErrorCode
from refka.testing import RunningBroker
from txn_helpers import DEADLINE_S, confluent_producer, create_topic, read_all, stable_end
from txn_helpers import send as send_values

from conformance.probes import PRODUCE, produce_request, send
from conformance.records import Record, build_batch
from conformance.target import Target
from conformance.txn_probes import TRANSACTIONAL, init


@pytest.mark.refka(refka_bugs="ReadUncommitted")
def test_read_uncommitted_switch_returns_aborted_records(refka_broker: RunningBroker) -> None:
    bootstrap, topic = refka_broker.bootstrap, "bug-read-uncommitted"
    create_topic(bootstrap, topic)
    producer = confluent_producer(bootstrap, "bug-ru")
    producer.begin_transaction()
    send_values(producer, topic, [b"aborted"])
    producer.abort_transaction(DEADLINE_S)
    assert read_all(bootstrap, topic, "read_committed") == [b"aborted"]  # the anomaly


@pytest.mark.refka(refka_bugs="LateWriteAfterAbort")
def test_late_write_switch_accepts_a_write_outside_the_transaction(
    refka_broker: RunningBroker,
) -> None:
    bootstrap, topic = refka_broker.bootstrap, "bug-late-write"
    create_topic(bootstrap, topic)
    target = Target.discover(bootstrap)
    answer = init(target, "bug-lw")
    late = build_batch(
        [Record(b"late")],
        attributes=TRANSACTIONAL,
        producer_id=answer.producer_id,
        producer_epoch=answer.producer_epoch,
        base_sequence=0,
    )
    request = produce_request(topic, late) | {"transactional_id": "bug-lw"}
    response = send(target, None, PRODUCE, **request).responses[0].partition_responses[0]
    assert response.error_code == ErrorCode.none  # Kafka 4 refuses it: TRANSACTION_ABORTABLE
    assert stable_end(bootstrap, topic) == 0  # an open transaction nobody will end
    consumer_view = read_all(bootstrap, topic, "read_uncommitted")
    assert consumer_view == [b"late"]
