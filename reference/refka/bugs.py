"""Switches that bring back historical Kafka bugs, so that the model tests can show they find
them. Each is named after its TLA+ bug configuration in ``spec/bugs/`` (one bug, two checkers:
TLC on the spec, Hypothesis on the reference). All are off by default; ``refka.bugs`` names
the ones to switch on, comma-separated.
"""

from __future__ import annotations

import enum


class Bug(enum.Enum):
    """A historical bug; the value is its configuration file in ``spec/bugs/``."""

    TRUNCATE_TO_HIGH_WATERMARK = "Replication_TruncateToHighWatermark"  # before KIP-101
    FAST_LEADER_CHANGE = "Replication_FastLeaderChange"  # KIP-101 without KIP-279
    STALE_EPOCH_FETCH = "Replication_StaleEpochFetch"  # before KIP-320
    ACK_BEFORE_ISR = "Replication_AckBeforeIsr"
    HIGH_WATERMARK_REGRESSION = "Replication_HighWatermarkRegression"  # KAFKA-2334, KIP-207
    UNCLEAN_ELECTION = "Election_UncleanElection"
    LAST_REPLICA_STANDING = "Election_LastReplicaStanding"  # before KIP-966
    STALE_BROKER_EPOCH = "Election_StaleBrokerEpoch"  # before KIP-903
    NO_IDEMPOTENCE_WINDOW = "Delivery_RetriesWithoutIdempotence"
    ZOMBIE_COMMIT = "ConsumerGroup_ZombieCommit"
    LATE_WRITE_AFTER_ABORT = "Transactions_LateWriteAfterAbort"  # before KIP-890
    READ_UNCOMMITTED = "Transactions_ReadUncommitted"  # read_committed reads past the LSO

    @property
    def short_name(self) -> str:
        """The bug's name without its module: ``TruncateToHighWatermark``."""
        return self.value.split("_", 1)[1]


def parse_bugs(text: str) -> frozenset[Bug]:
    """``refka.bugs``: names (``TruncateToHighWatermark`` or
    ``Replication_TruncateToHighWatermark``), comma-separated."""
    by_name = {b.short_name.lower(): b for b in Bug} | {b.value.lower(): b for b in Bug}
    bugs = set()
    for name in (n.strip() for n in text.split(",")):
        if not name:
            continue
        try:
            bugs.add(by_name[name.lower()])
        except KeyError:
            known = ", ".join(b.short_name for b in Bug)
            raise ValueError(f"unknown bug {name!r} in refka.bugs (known: {known})") from None
    return frozenset(bugs)
