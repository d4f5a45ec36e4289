"""conformance/api_parity.py: a broker's ApiVersions against Kafka 4.4's, per API and counted."""

from __future__ import annotations

from conformance import api_parity as parity


def test_counts_match_present_missing_extra() -> None:
    kafka = parity.kafka_ranges()
    ranges = {0: kafka[0], 1: (4, 17), 999: (0, 0)}  # Produce as Kafka, Fetch older, an extra
    counts = parity.counts(ranges)
    assert (counts[parity.MATCH], counts[parity.PRESENT], counts[parity.EXTRA]) == (1, 1, 1)
    assert counts[parity.MISSING] == len(parity.KAFKA_4_4) - 2
    assert parity.counts(kafka)[parity.MATCH] == len(parity.KAFKA_4_4)


def test_table_rows() -> None:
    table = parity.table_markdown({"x": {0: (0, 13), 1: (4, 17)}}, only_present=True)
    rows = table.splitlines()
    assert rows[2] == "| 0 | Produce | 0-13 | 0-13 (match) |"
    assert rows[3] == "| 1 | Fetch | 4-18 | 4-17 (present) |"
    assert len(rows) == 4  # APIs no target advertises are left out
    assert "| 3 | Metadata | 0-13 | - (missing) |" in parity.table_markdown({"x": {}})
