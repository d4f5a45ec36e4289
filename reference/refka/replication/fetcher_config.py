"""The replica fetcher's settings, read from the broker's config at start; the fetcher itself
(``refka.replication.replica_fetcher``) loads with the first partition this node follows."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class TruncationMode(enum.Enum):
    """How a follower truncates when it starts following (Replication.tla TruncationMode)."""

    KIP279 = "Kip279"  # OffsetsForLeaderEpoch until follower and leader agree (Kafka 2.0+)
    KIP101 = "Kip101"  # one OffsetsForLeaderEpoch round with the latest epoch (0.11 to 1.1)
    HIGH_WATERMARK = "HighWatermark"  # the own high watermark (before 0.11)


@dataclass(frozen=True, slots=True)
class FetcherConfig:
    """Kafka's broker configs for the replica fetcher (defaults as Kafka's)."""

    replica_fetch_wait_max_ms: int = 500
    replica_fetch_min_bytes: int = 1
    replica_fetch_max_bytes: int = 1_048_576
    replica_fetch_response_max_bytes: int = 10_485_760
    replica_fetch_backoff_ms: int = 1_000
    # v15+: ReplicaState carries the broker epoch (KIP-903); topic ids. v18 (KIP-1166) also
    # sends the follower's high watermark, so that the leader answers a follower behind it at
    # once; it is supported (``fetch_version=18``) but not the default: it narrows the window
    # in which a follower's high watermark lags, which the simulator's campaign needs to find
    # TruncateToHighWatermark and HighWatermarkRegression (a Kafka 4.4 cluster at an older
    # metadata.version sends v17 too)
    fetch_version: int = 17
    offset_for_leader_epoch_version: int = 4
    list_offsets_version: int = 7
    # bug switch: Bug.TRUNCATE_TO_HIGH_WATERMARK (spec/bugs/Replication_TruncateToHighWatermark.cfg)
    # bug switch: Bug.FAST_LEADER_CHANGE (spec/bugs/Replication_FastLeaderChange.cfg)
    truncation: TruncationMode = TruncationMode.KIP279
    # bug switch: Bug.STALE_EPOCH_FETCH (spec/bugs/Replication_StaleEpochFetch.cfg)
    fence_epochs: bool = True  # KIP-320: requests carry current_leader_epoch

    @property
    def sends_last_fetched_epoch(self) -> bool:
        """Fetch v12+ (Kafka 2.7): the leader checks it and answers a diverging epoch."""
        return self.truncation is TruncationMode.KIP279 and self.fence_epochs
