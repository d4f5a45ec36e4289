"""Kafka's ``ClientQuotaManager`` for the produce and fetch byte rates (KIP-13, KIP-55).

A request's user (its principal's name) and client id select the quota that applies, in
Kafka's order of precedence (``DefaultQuotaCallback``): (user, client-id), (user, default
client-id), user, (default user, client-id), (default user, default client-id), default user,
client-id, default client-id. The bytes are recorded into the rate window (``SampledRate``) of
the matched level's *metric tags*: a default entity stands for the client's own user or client
id, so each user or client id under a default quota has its own window, as in Kafka. The answer
is the throttle time (0 when no quota applies or the rate stays within it).
"""

from __future__ import annotations

from collections.abc import Mapping

from refka.quotas.entities import CLIENT_ID, USER, Entity
from refka.quotas.rate import SampledRate, throttle_time_ms

Tags = tuple[str, str]  # (user, client-id) metric tags; "" for a level that has none


def _levels(user: str, client_id: str) -> list[tuple[Entity, Tags]]:
    both = (user, client_id)
    return [
        (((CLIENT_ID, client_id), (USER, user)), both),
        (((CLIENT_ID, None), (USER, user)), both),
        (((USER, user),), (user, "")),
        (((CLIENT_ID, client_id), (USER, None)), both),
        (((CLIENT_ID, None), (USER, None)), both),
        (((USER, None),), (user, "")),
        (((CLIENT_ID, client_id),), ("", client_id)),
        (((CLIENT_ID, None),), ("", client_id)),
    ]


def find_quota(
    quotas: Mapping[Entity, Mapping[str, float]], key: str, user: str, client_id: str
) -> tuple[Tags, float] | None:
    """The metric tags and the bound of the quota ``key`` that applies, or None."""
    for entity, tags in _levels(user, client_id):
        value = quotas.get(entity, {}).get(key)
        if value is not None:
            return tags, value
    return None


class ClientQuotaManager:
    """One quota type's rate windows (``producer_byte_rate`` or ``consumer_byte_rate``)."""

    def __init__(self, key: str, samples: int = 11, window_ms: int = 1000) -> None:
        self.key = key
        self.samples, self.window_ms = samples, window_ms
        self.rates: dict[Tags, SampledRate] = {}

    def record(
        self,
        quotas: Mapping[Entity, Mapping[str, float]],
        user: str,
        client_id: str,
        value: float,
        now_ms: int,
    ) -> int:
        """``maybeRecordAndGetThrottleTimeMs``: record ``value`` bytes; the throttle time."""
        found = find_quota(quotas, self.key, user, client_id)
        if found is None:
            return 0
        tags, bound = found
        rate = self.rates.get(tags)
        if rate is None:
            rate = self.rates[tags] = SampledRate(self.samples, self.window_ms)
        rate.record(value, now_ms)
        return throttle_time_ms(rate, bound, now_ms)

    def unrecord(
        self,
        quotas: Mapping[Entity, Mapping[str, float]],
        user: str,
        client_id: str,
        value: float,
        now_ms: int,
    ) -> None:
        """Take back a recorded value (a throttled Fetch answers empty: Kafka's
        ``unrecordQuotaSensor``)."""
        found = find_quota(quotas, self.key, user, client_id)
        if found is not None and found[0] in self.rates:
            self.rates[found[0]].record(-value, now_ms)
