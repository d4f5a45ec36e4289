"""An in-process network for several cores: requests between nodes with no sockets.

The router plays the driver for every core at once, with a fake clock. A ``SendRequest`` from
node S to node T is delivered to ``T.on_request`` on the link's connection id (one per (S, T,
channel), fixed for the router's life: a reconnect reuses it, after a fresh ``on_connect``);
T's ``Send`` on that connection goes back to ``S.on_response(T, frame, channel)`` with its size
prefix removed. A broker's channels to the controller (``refka.core.channels``) are links of
their own; the timeline names a channel other than the default in brackets.
Everything happens through one FIFO queue of events, so a run is deterministic: the
same script gives the same :attr:`Router.timeline`.

Fault model: a node marked down (:meth:`Router.set_down`) receives nothing and is not ticked
(its timer waits for it to come back); a node that halts (``Halt``) is marked down.
Marking it down breaks its links: the peers that had a connection to it get
``on_unreachable``; the peers it was connected to get ``on_disconnect``. A ``SendRequest`` to a
down or unknown node gives its sender ``on_unreachable``. ``Disconnect`` (the sender's own
decision, e.g. after a timeout) closes the link: the target gets ``on_disconnect``, and answers
still queued on the old link are dropped. There is no latency: messages are delivered at the
time they were sent, in order.

Time: :meth:`Router.advance` moves the clock forward, ticking each core at its earliest
``Wakeup`` on the way (earliest first, ties in node id order).

A test may also act as a client of a node: :meth:`Router.client_request` sends a frame on a
client connection; the node's answers collect in :attr:`Router.client_frames`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from refka.core.effects import Close, Core, Disconnect, Effect, Halt, Send, SendRequest, Wakeup
from refka.log.file_slice import FileSlice

LINK_CONNECTION_ID_BASE = 1_000_000
"""Link connection ids start here; client connection ids are below (given by the test)."""

MAX_EVENTS_PER_STEP = 100_000

ReadSlice = Callable[[FileSlice], bytes]


@dataclass(slots=True)
class _Link:
    """The connection from ``source`` to ``target`` on the source's ``channel``;
    ``generation`` counts reconnects."""

    source: int
    target: int
    connection_id: int
    channel: str = ""
    generation: int = 0
    open: bool = False


@dataclass(slots=True)
class _Node:
    node_id: int
    core: Core
    read_slice: ReadSlice | None
    down: bool = False
    wakeup_ms: int | None = None
    clients: set[int] = field(default_factory=set)
    broken: list[tuple[int, str]] = field(default_factory=list)  # its links broken while down


@dataclass(frozen=True, slots=True)
class _Deliver:
    """A request frame on a link (to the target) or an answer (to the source)."""

    link: _Link
    generation: int
    frame: bytes
    to_target: bool


@dataclass(frozen=True, slots=True)
class _Unreachable:
    source: int
    target: int
    channel: str = ""


class Router:
    """Several cores wired by node id; a fake clock starting at ``now_ms``."""

    def __init__(self, now_ms: int = 0) -> None:
        self.now_ms = now_ms
        self.nodes: dict[int, _Node] = {}
        self.links: dict[tuple[int, int, str], _Link] = {}
        self.timeline: list[str] = []
        self.client_frames: dict[tuple[int, int], list[bytes]] = {}
        self._queue: deque[_Deliver | _Unreachable] = deque()

    def add_node(self, node_id: int, core: Core, read_slice: ReadSlice | None = None) -> None:
        """Wire ``core`` as ``node_id``; ``read_slice`` reads the ``FileSlice``s it sends."""
        self.nodes[node_id] = _Node(node_id, core, read_slice)

    # ------------------------------------------------------------------ faults

    def set_down(self, node_id: int, down: bool = True) -> None:
        """Take a node off the network (or put it back); its links break. Back up, it hears
        ``on_unreachable`` for each of its own connections that broke meanwhile (one per
        channel), as a process finds its sockets reset."""
        node = self.nodes[node_id]
        node.down = down
        self._record(f"{'down' if down else 'up'} {node_id}")
        if not down:
            broken, node.broken = node.broken, []
            self._queue.extend(_Unreachable(node_id, target, ch) for target, ch in broken)
            self.run()
            return
        for link in self.links.values():
            if link.open and node_id in (link.source, link.target):
                if link.source == node_id:
                    node.broken.append((link.target, link.channel))
                self._close_link(link, unreachable=link.target == node_id)
        self.run()

    # ------------------------------------------------------------------ clients

    def client_request(
        self, node_id: int, connection_id: int, frame: bytes, listener: str = ""
    ) -> None:
        """A frame from a test client on ``connection_id`` (< LINK_CONNECTION_ID_BASE),
        connected to the node's ``listener`` ("": its first) on first use."""
        assert connection_id < LINK_CONNECTION_ID_BASE
        node = self.nodes[node_id]
        if connection_id not in node.clients:
            node.clients.add(connection_id)
            self._perform(node, node.core.on_connect(connection_id, self.now_ms, listener))
        self._record(f"client {connection_id} -> {node_id} request")
        self._perform(node, node.core.on_request(connection_id, frame, self.now_ms))
        self.run()

    def client_step(self, node_id: int, call: Callable[[int], Iterable[Effect]]) -> None:
        """Call a client node's own operation with the current time (a simulated producer's
        ``send``, a consumer's ``poll``) and perform the effects it returns."""
        node = self.nodes[node_id]
        self._record(f"client step {node_id}")
        self._perform(node, call(self.now_ms))
        self.run()

    # -------------------------------------------------------------------- time

    def advance(self, ms: int) -> None:
        """Move the clock ``ms`` forward, ticking every core at its wakeups on the way."""
        until_ms = self.now_ms + ms
        for _ in range(MAX_EVENTS_PER_STEP):
            due = [
                (n.wakeup_ms, n.node_id)
                for n in self.nodes.values()
                if not n.down and n.wakeup_ms is not None and n.wakeup_ms <= until_ms
            ]
            if not due:
                self.now_ms = until_ms
                return
            at_ms, node_id = min(due)
            self.now_ms = max(self.now_ms, at_ms)
            self.tick(node_id)
        raise RuntimeError(f"more than {MAX_EVENTS_PER_STEP} ticks before {until_ms} ms")

    def tick(self, node_id: int) -> None:
        """Call ``on_tick`` of one node now."""
        node = self.nodes[node_id]
        node.wakeup_ms = None
        self._record(f"tick {node_id}")
        self._perform(node, node.core.on_tick(self.now_ms))
        self.run()

    def next_wakeup_ms(self) -> int | None:
        return min(
            (n.wakeup_ms for n in self.nodes.values() if not n.down and n.wakeup_ms is not None),
            default=None,
        )

    # ----------------------------------------------------------------- the run

    def run(self) -> None:
        """Deliver queued events until none are left."""
        for _ in range(MAX_EVENTS_PER_STEP):
            if not self._queue:
                return
            event = self._queue.popleft()
            if isinstance(event, _Unreachable):
                self._deliver_unreachable(event)
            else:
                self._deliver(event)
        raise RuntimeError(f"more than {MAX_EVENTS_PER_STEP} events at {self.now_ms} ms")

    def _deliver(self, event: _Deliver) -> None:
        link = event.link
        if not link.open or link.generation != event.generation:
            return  # the link broke after this was sent
        if event.to_target:
            target = self.nodes[link.target]
            self._record(f"{link.source} -> {link.target} request{_tag(link.channel)}")
            effects = target.core.on_request(link.connection_id, event.frame, self.now_ms)
            self._perform(target, effects)
        else:
            source = self.nodes[link.source]
            self._record(f"{link.target} -> {link.source} response{_tag(link.channel)}")
            effects = source.core.on_response(link.target, event.frame, self.now_ms, link.channel)
            self._perform(source, effects)

    def _deliver_unreachable(self, event: _Unreachable) -> None:
        source = self.nodes[event.source]
        if source.down:
            return
        self._record(f"{event.source} unreachable {event.target}{_tag(event.channel)}")
        effects = source.core.on_unreachable(event.target, self.now_ms, event.channel)
        self._perform(source, effects)

    # ----------------------------------------------------------------- effects

    def _perform(self, node: _Node, effects: Iterable[Effect]) -> None:
        for effect in effects:
            if isinstance(effect, Send):
                self._send(node, effect)
            elif isinstance(effect, SendRequest):
                self._send_request(node, effect)
            elif isinstance(effect, Wakeup):
                if node.wakeup_ms is None or effect.at_ms < node.wakeup_ms:
                    node.wakeup_ms = effect.at_ms
            elif isinstance(effect, Close):
                self._close_inbound(node, effect.connection_id)
            elif isinstance(effect, Disconnect):
                link = self.links.get((node.node_id, effect.node_id, effect.channel))
                if link is not None and link.open:
                    tag = _tag(effect.channel)
                    self._record(f"{node.node_id} disconnects {effect.node_id}{tag}")
                    self._close_link(link, unreachable=False)
            elif isinstance(effect, Halt):
                self._record(f"{node.node_id} halts: {effect.reason}")
                self.set_down(node.node_id)
                return
            else:
                raise TypeError(f"unknown effect {effect!r}")

    def _send(self, node: _Node, send: Send) -> None:
        data = b"".join(self._bytes(node, chunk) for chunk in send.chunks)
        frame = data[4:]  # the size prefix
        if send.connection_id < LINK_CONNECTION_ID_BASE:
            self.client_frames.setdefault((node.node_id, send.connection_id), []).append(frame)
            return
        link = self._inbound_link(node.node_id, send.connection_id)
        if link is not None and link.open:
            self._queue.append(_Deliver(link, link.generation, frame, to_target=False))

    def _send_request(self, node: _Node, request: SendRequest) -> None:
        target = self.nodes.get(request.node_id)
        if target is None or target.down:
            self._queue.append(_Unreachable(node.node_id, request.node_id, request.channel))
            return
        link = self._link(node.node_id, request.node_id, request.channel)
        if not link.open:
            link.open = True
            link.generation += 1
            self._record(f"{link.source} connects {link.target}{_tag(link.channel)}")
            self._perform(target, target.core.on_connect(link.connection_id, self.now_ms))
        self._queue.append(_Deliver(link, link.generation, request.frame, to_target=True))

    def _close_inbound(self, node: _Node, connection_id: int) -> None:
        """The node closes a connection it accepted (as the driver does, it then hears
        ``on_disconnect``); a peer on the other end finds its node unreachable."""
        if connection_id in node.clients:
            node.clients.discard(connection_id)
            self._perform(node, node.core.on_disconnect(connection_id, self.now_ms))
            return
        link = self._inbound_link(node.node_id, connection_id)
        if link is not None and link.open:
            self._close_link(link, unreachable=True)

    def _close_link(self, link: _Link, unreachable: bool) -> None:
        link.open = False
        target = self.nodes[link.target]
        if not target.down:
            self._perform(target, target.core.on_disconnect(link.connection_id, self.now_ms))
        if unreachable:
            self._queue.append(_Unreachable(link.source, link.target, link.channel))

    def _link(self, source: int, target: int, channel: str) -> _Link:
        link = self.links.get((source, target, channel))
        if link is None:
            connection_id = LINK_CONNECTION_ID_BASE + len(self.links)
            link = _Link(source, target, connection_id, channel)
            self.links[(source, target, channel)] = link
        return link

    def _inbound_link(self, target: int, connection_id: int) -> _Link | None:
        for link in self.links.values():
            if link.target == target and link.connection_id == connection_id:
                return link
        return None

    def _bytes(self, node: _Node, chunk: bytes | FileSlice) -> bytes:
        if isinstance(chunk, FileSlice):
            if node.read_slice is None:
                raise ValueError(f"node {node.node_id} sent a FileSlice and has no read_slice")
            return node.read_slice(chunk)
        return bytes(chunk)

    def _record(self, event: str) -> None:
        self.timeline.append(f"{self.now_ms} {event}")


def _tag(channel: str) -> str:
    """`` [channel]`` for a named channel, nothing for the default one."""
    return f" [{channel}]" if channel else ""
