"""The simulated network: TCP connections between nodes, their latency and their faults.

Every node talks to another over a connection it opens (``SendRequest``), as Kafka's
``NetworkClient`` does; the connection carries requests from its source to its target and
responses back. A node may hold one connection per *channel* to the same target (a broker's
``heartbeat``, ``alter-partition``, ``forwarding`` and ``raft`` channels to the controller,
``refka.core.channels``); each is its own TCP connection with its own faults.
A :class:`Conn` is one TCP connection (one *generation* of the link from source to target):
a reconnect opens a new one with a new connection id, so nothing sent on an old connection
can arrive on the new one.

What a frame may meet on its way, each drawn per frame from the world's random source
(:class:`NetworkFaults`):

- **latency**: uniform in ``[min_latency_ms, max_latency_ms]``. A connection is FIFO in each
  direction, as TCP is: a frame never arrives before one sent earlier on the same connection
  in the same direction (its arrival is pushed back to the previous one's).
- **delay** (``delay``): ``1..max_delay_ms`` more, as a TCP retransmission stall; the frames
  behind it on the connection wait too (head-of-line blocking).
- **drop** (``drop``): the frame is lost, and since TCP cannot deliver bytes past a hole, so is
  everything after it in that direction of the connection: the direction stalls (a black hole,
  as when a middlebox forgets the connection). The sender's ``NetworkClient`` times out
  (``request.timeout.ms``) and disconnects; the next request opens a new connection.
- **duplicate** (``duplicate``): the frame arrives twice, which TCP never does. A duplicated
  request is answered twice; the client then reads an answer whose correlation id it does not
  expect and disconnects, as Kafka's client does on a correlation mismatch.
- **reorder** (``reorder``): the frame may overtake frames sent before it on its connection
  (it escapes the FIFO rule), which TCP never does either; the peer sees responses out of order
  (a correlation mismatch again) or requests in another order than sent.

A **stall** (``stall(source, target, channel)``, a schedule operation) black-holes one
connection, both ways, as a drop does: the one open on that channel now, or else the next one
opened. It stands for a TCP connection stuck while the others between the same hosts work (a
middlebox or a NAT that lost that one flow's state, a full socket buffer on a stuck peer
thread): the sender's requests on that channel time out (``request.timeout.ms``), it
disconnects and retries on a new connection; its other channels are untouched. ``heal``
forgets a stall not yet armed on a connection, not a connection already stuck.

Partitions are directed cuts ``(sender, receiver)``. A frame sent on a cut direction is *held*
(TCP keeps retransmitting it) and released, in order, when the cut heals, unless its connection
was closed meanwhile: then it arrives on a closed connection and is dropped. So a partition
shorter than ``request.timeout.ms`` only delays, and a longer one makes the sender time out and
reconnect, as with real TCP (whose retransmissions give up after ~15 minutes; the simulator
holds frames until the heal). Closing a connection is always heard by the other end, in order
behind the frames already on their way (a FIN or RST after the data); only data frames obey
cuts and drops.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from refka.core.seeded import SeededRandom

CONNECTION_ID_BASE = 1_000_000
"""Connection ids of simulated connections start here (a core only compares them)."""

TO_TARGET, TO_SOURCE = 0, 1
"""The two directions of a connection: requests go to the target, responses to the source."""


@dataclass(frozen=True, slots=True)
class NetworkFaults:
    """Per-frame latency and fault probabilities, drawn from the world's random source."""

    min_latency_ms: int = 1
    max_latency_ms: int = 5
    drop: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0
    delay: float = 0.0
    max_delay_ms: int = 1_000

    def __post_init__(self) -> None:
        assert 0 <= self.min_latency_ms <= self.max_latency_ms, "latency bounds"
        for p in (self.drop, self.duplicate, self.reorder, self.delay):
            assert 0.0 <= p <= 1.0, "a probability"


@dataclass(slots=True)
class Conn:
    """One TCP connection from ``source`` (the client end) to ``target`` (which accepted it).

    ``*_incarnation`` tell which life of each node it belongs to: a restarted node is a new
    process, and the connections of its previous life are dead for it.
    """

    source: int
    target: int
    connection_id: int
    source_incarnation: int
    target_incarnation: int
    channel: str = ""  # the source's channel (SendRequest.channel)
    accepted: bool = False  # the target was told (on_connect, with the first frame)
    source_closed: bool = False  # the source dropped it or heard it break: answers are dropped
    target_closed: bool = False  # the target closed it or died: requests are dropped
    target_heard_close: bool = False  # the target was told (on_disconnect)
    last_at_ms: list[int] = field(default_factory=lambda: [0, 0])  # FIFO, per direction
    stalled: list[bool] = field(default_factory=lambda: [False, False])  # after a drop
    held: list[list[tuple[object, ...]]] = field(default_factory=lambda: [[], []])  # by cuts
    pending: dict[int, str] = field(default_factory=dict)  # correlation id -> request name

    def ends(self, direction: int) -> tuple[int, int]:
        """(sender, receiver) of a direction."""
        if direction == TO_TARGET:
            return self.source, self.target
        return self.target, self.source


@dataclass(frozen=True, slots=True)
class Fate:
    """What the network does with one frame: arrival times (none: lost or held), and a note
    for the timeline (empty when nothing special happened)."""

    arrivals: tuple[int, ...]
    note: str = ""
    held: bool = False


class Network:
    """The cuts, the connections and the fault draws; the world moves the frames."""

    def __init__(self, rng: SeededRandom, faults: NetworkFaults) -> None:
        self.rng = rng
        self.faults = faults
        self.cuts: set[tuple[int, int]] = set()
        self.stalls: set[tuple[int, int, str]] = set()  # armed for the next connection
        self.links: dict[tuple[int, int, str], Conn] = {}  # the source's current connection
        self.conns: dict[int, Conn] = {}  # every connection not yet closed at both ends
        self._next_connection_id = CONNECTION_ID_BASE

    def open(
        self, source: int, target: int, source_inc: int, target_inc: int, channel: str = ""
    ) -> Conn:
        conn = Conn(source, target, self._next_connection_id, source_inc, target_inc, channel)
        self._next_connection_id += 1
        key = (source, target, channel)
        self.links[key] = conn
        self.conns[conn.connection_id] = conn
        if key in self.stalls:
            self.stalls.discard(key)
            conn.stalled = [True, True]
        return conn

    def stall(self, source: int, target: int, channel: str) -> bool:
        """Black-hole the connection ``source`` has open to ``target`` on ``channel`` (True),
        or the next one it opens (False)."""
        conn = self.links.get((source, target, channel))
        if conn is None:
            self.stalls.add((source, target, channel))
            return False
        conn.stalled = [True, True]
        return True

    def forget(self, conn: Conn) -> None:
        """The source end is closed: a new request opens a new connection."""
        key = (conn.source, conn.target, conn.channel)
        if self.links.get(key) is conn:
            del self.links[key]
        if conn.source_closed and conn.target_closed:
            self.conns.pop(conn.connection_id, None)

    def latency_ms(self) -> int:
        f = self.faults
        span = f.max_latency_ms - f.min_latency_ms
        return f.min_latency_ms + (int(self.rng.fraction() * (span + 1)) if span else 0)

    def fifo(self, conn: Conn, direction: int, at_ms: int) -> int:
        """The arrival time of the next thing on ``direction``: never before the previous."""
        at_ms = max(at_ms, conn.last_at_ms[direction])
        conn.last_at_ms[direction] = at_ms
        return at_ms

    def route(self, conn: Conn, direction: int, now_ms: int) -> Fate:
        """The fate of a data frame sent now on ``direction`` of ``conn``."""
        if conn.stalled[direction]:
            return Fate((), "lost: the connection stalled after a drop")
        if conn.ends(direction) in self.cuts:
            return Fate((), "held: link cut", held=True)
        f, rng = self.faults, self.rng
        if f.drop and rng.fraction() < f.drop:
            conn.stalled[direction] = True
            return Fate((), "dropped (the connection stalls)")
        at_ms = now_ms + self.latency_ms()
        note = ""
        if f.delay and rng.fraction() < f.delay:
            extra_ms = 1 + int(rng.fraction() * f.max_delay_ms)
            at_ms += extra_ms
            note = f"delayed {extra_ms} ms"
        if f.reorder and rng.fraction() < f.reorder:
            note = "reordered"  # escapes FIFO: may overtake frames sent before it
        else:
            at_ms = self.fifo(conn, direction, at_ms)
        if f.duplicate and rng.fraction() < f.duplicate:
            again_ms = self.fifo(conn, direction, at_ms + self.latency_ms())
            return Fate((at_ms, again_ms), "duplicated")
        return Fate((at_ms,), note)
