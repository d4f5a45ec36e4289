"""Random schedules of KIP-848 heartbeats, leaves, expiries, subscription and topic changes
(and stale or garbage requests) against the coordinator, sans-I/O, with clients that follow
the protocol: after every step, the invariants of spec/ConsumerGroupProtocol.tla hold.

- CoordinatorAssignsEachPartitionOnce: no partition assigned to or pending revocation by two
  members;
- MembersOwnWhatTheyWereGiven: a live client owns only what the coordinator gave it;
- NoPartitionOwnedTwice: no two live clients own a partition at once;
and no request is answered with an exception. A failure prints the seed that replays it.
"""

from __future__ import annotations

import random
import uuid

import pytest
from kio.schema.errors import ErrorCode
from refka.group.consumer_messages import ConsumerHeartbeatRequest, ConsumerHeartbeatResult
from refka.group.messages import Reply

from tests.group.test_consumer_group_protocol import Topics, coordinator

E = ErrorCode
SESSION_MS = 10_000


class Client:
    def __init__(self, member_id: str, topics: tuple[str, ...]) -> None:
        self.member_id, self.topics = member_id, topics
        self.epoch = 0
        self.owned: frozenset[tuple[uuid.UUID, int]] = frozenset()
        self.in_group = False


def step(c: object, topics: Topics, client: Client, rng: random.Random, now_ms: int) -> None:
    epoch = client.epoch if client.in_group else 0
    kind = rng.random()
    fields: dict[str, object] = {}
    if kind < 0.05:
        epoch = rng.choice([epoch + 1, epoch - 1, 7, -3])  # a stale or wrong epoch
    elif kind < 0.1 and client.in_group:
        epoch = -1  # leave
    if epoch == 0:
        fields = {"rebalance_timeout_ms": 5_000, "subscribed_topic_names": client.topics}
    elif rng.random() < 0.1:
        fields = {"subscribed_topic_names": client.topics}
    if rng.random() < 0.05:
        fields["server_assignor"] = rng.choice(["uniform", "range"])
    owned = client.owned if epoch == 0 or rng.random() < 0.7 else None
    req = ConsumerHeartbeatRequest(
        "g",
        client.member_id,
        epoch,
        owned=frozenset() if epoch == 0 else owned,
        **fields,  # type: ignore[arg-type]
    )
    effects = c.consumer_group_heartbeat("r", req, topics, now_ms)  # type: ignore[attr-defined]
    (reply,) = [e for e in effects if isinstance(e, Reply)]
    r = reply.result
    assert isinstance(r, ConsumerHeartbeatResult)
    if r.error == E.none and epoch == -1:
        client.in_group, client.epoch, client.owned = False, 0, frozenset()
    elif r.error == E.none:
        client.in_group, client.epoch = True, r.member_epoch
        if r.assignment is not None:
            client.owned = r.assignment  # revoke what is gone, then take the rest
    elif r.error in (E.unknown_member_id, E.fenced_member_epoch) and epoch == client.epoch:
        client.in_group, client.epoch, client.owned = False, 0, frozenset()  # partitions lost


def check(c: object, clients: list[Client]) -> None:
    group = c.consumer_groups.get("g")  # type: ignore[attr-defined]
    if group is None:
        return
    held: set[tuple[uuid.UUID, int]] = set()
    for m in group.members.values():
        assert not (held & m.held), "CoordinatorAssignsEachPartitionOnce"
        held |= m.held
    owned: set[tuple[uuid.UUID, int]] = set()
    for client in clients:
        member = group.members.get(client.member_id)
        if member is None or not client.in_group:
            continue  # a fenced client learns it at its next heartbeat; its commits are refused
        assert client.owned <= member.held, "MembersOwnWhatTheyWereGiven"
        assert not (owned & client.owned), "NoPartitionOwnedTwice"
        owned |= client.owned


@pytest.mark.parametrize("seed", range(30))
def test_random_schedules_keep_the_invariants(seed: int) -> None:
    rng = random.Random(seed)
    c = coordinator(group_consumer_session_timeout_ms=SESSION_MS)
    topics = Topics(t1=rng.randint(1, 6), t2=rng.randint(1, 4))
    clients = [
        Client(f"m{i}", rng.choice([("t1",), ("t1", "t2"), ("t2",)]))
        for i in range(rng.randint(2, 5))
    ]
    now_ms = 0
    try:
        for _ in range(400):
            now_ms += rng.randint(0, 800)
            roll = rng.random()
            if roll < 0.02:
                topics.topics["t1"] = (topics.topics["t1"][0], topics.topics["t1"][1] + 1)
            elif roll < 0.05:
                c.on_tick(now_ms + SESSION_MS)  # some sessions expire
                now_ms += SESSION_MS
            else:
                step(c, topics, rng.choice(clients), rng, now_ms)
            check(c, clients)
    except AssertionError as e:
        raise AssertionError(f"seed {seed}: {e}") from e
