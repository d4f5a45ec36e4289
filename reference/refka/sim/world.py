"""The simulated world: a whole refka cluster in one process, on a virtual clock, with faults.

Node 0 runs ``process.roles=controller``; nodes 1..N run ``process.roles=broker``; clients
(any object with the ``Core`` protocol) get node ids from 100. Each node is the SAME sans-I/O
core the asyncio server drives (``refka.node.make_controller`` / ``make_broker``), on its own
``MemoryStorage``. The world is their driver: it feeds every core its events with the node's
view of the time and carries out the effects it returns, through the simulated network
(``refka.sim.network``).

Determinism: one random source owned by the world, ``SeededRandom(seed)`` (SplitMix64, as the
cores' own; the seam test keeps the ``random`` module out of ``refka.sim``), draws every
latency, fault and core seed; everything that happens goes through one heap ordered by
``(at_ms, sequence)``, so ties are broken by the order things were scheduled; nodes are
always visited in id order. The same seed and the same calls give the same
:attr:`SimCluster.steps`, byte for byte, whatever ``PYTHONHASHSEED`` is.

Processes (fault model):

- ``crash(node, torn_bytes)``: the process dies and its machine loses power. The core is thrown
  away (no ``shutdown``: no clean-shutdown file, so its next start counts as unclean, KIP-966);
  its storage loses what was not fsynced (``MemoryStorage.crash``). Frames it had already sent
  are on the wire and still arrive; then each peer hears the connections break (a broker that
  had a connection to it gets ``on_unreachable``, one it was connected to gets
  ``on_disconnect``). Frames to it are dropped.
- ``restart(node)``: a new process on the same storage (log recovery), with a fresh seed.
- ``Halt`` (an effect): the core stopped itself (all its log directories failed, as Kafka's
  ``ReplicaManager.handleLogDirFailure`` halts the JVM); the world crashes it (``torn_bytes``
  0) after carrying out the effects before it.
- ``pause(node)`` / ``resume(node)``: a stopped process (SIGSTOP): it gets no events and no
  ticks; what arrives for it waits and is delivered in order on resume; time goes on, so its
  peers time out.
- ``skew(node, offset_ms)``: the node's clock is ``offset_ms`` off the world's: every event it
  gets carries ``now + offset_ms`` and its ``Wakeup`` times are read in its own time.
- ``disk_full(node)``: every write to its storage fails with ``ENOSPC``.
"""

from __future__ import annotations

import heapq
import struct
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kio.schema.index import api_key_map

from refka.broker.meta_properties import format_directory
from refka.config import BrokerConfig
from refka.controller.quorum_controller import QuorumController
from refka.core.broker import Broker
from refka.core.effects import Close, Core, Disconnect, Effect, Halt, Send, SendRequest, Wakeup
from refka.core.seeded import SeededRandom
from refka.core.trace import TraceEvent
from refka.log.file_slice import FileSlice
from refka.log.storage import MemoryStorage
from refka.node import make_broker, make_controller
from refka.sim.network import TO_SOURCE, TO_TARGET, Conn, Network, NetworkFaults
from refka.sim.timeline import WORLD, Step

CONTROLLER_ID = 0
FIRST_CLIENT_ID = 100
CONTROLLER_PORT, BROKER_PORT = 9093, 9092
START_MAX_MS = 120_000

_API_NAMES = {
    key: "".join(p.capitalize() for p in name.split("_")) for key, name in api_key_map.items()
}
_REQUEST_HEADER = struct.Struct(">hhi")
_CORRELATION = struct.Struct(">i")


@dataclass(slots=True)
class _Node:
    node_id: int
    role: str  # controller, broker, client
    core: Any  # None while crashed
    storage: MemoryStorage | None
    config: BrokerConfig | None
    incarnation: int = 0
    paused: bool = False
    parked: list[tuple[Callable[..., None], tuple[Any, ...]]] = field(default_factory=list)
    wakeup_ms: int | None = None  # world time
    skew_ms: int = 0
    inbound: dict[int, Conn] = field(default_factory=dict)  # accepted connections by id


class SimCluster:
    """A controller and ``brokers`` brokers, driven deterministically from ``seed``."""

    def __init__(
        self,
        seed: int,
        brokers: int = 3,
        configs: Mapping[str, str] = {},
        network: NetworkFaults = NetworkFaults(),  # noqa: B008 - frozen
        trace: bool = False,
        start_ms: int = 1_700_000_000_000,
    ) -> None:
        self.seed = seed
        self.now_ms = start_ms
        self.rng = SeededRandom(seed)
        self.network = Network(self.rng, network)
        self.controller_id = CONTROLLER_ID
        self.broker_ids = tuple(range(1, brokers + 1))
        self.steps: list[Step] = []
        self.trace_events: list[TraceEvent] = []
        self.tracer = self._trace if trace else None
        self.trace_listeners: list[Callable[[TraceEvent], None]] = []  # called per event
        self.events = 0
        self._heap: list[tuple[int, int, Callable[..., None], tuple[Any, ...]]] = []
        self._sequence = 0
        self._message = 0
        self._next_client_id = FIRST_CLIENT_ID
        self.nodes: dict[int, _Node] = {}
        self._format(dict(configs))

    # ------------------------------------------------------------------ set-up

    def _format(self, configs: dict[str, str]) -> None:
        voters = f"{CONTROLLER_ID}@node-{CONTROLLER_ID}:{CONTROLLER_PORT}"
        random_source = SeededRandom(self.rng.getrandbits(64))
        cluster_id: str | None = None
        for node_id in (CONTROLLER_ID, *self.broker_ids):
            role = "controller" if node_id == CONTROLLER_ID else "broker"
            listener = (
                f"CONTROLLER://node-{node_id}:{CONTROLLER_PORT}"
                if role == "controller"
                else f"PLAINTEXT://node-{node_id}:{BROKER_PORT}"
            )
            config = BrokerConfig.model_validate(
                {
                    **configs,
                    "node.id": str(node_id),
                    "process.roles": role,
                    "listeners": listener,
                    "controller.listener.names": "CONTROLLER",
                    "controller.quorum.voters": voters,
                    "log.dirs": "data",
                }
            )
            storage = MemoryStorage()
            meta = format_directory(storage, node_id, random_source, cluster_id)
            cluster_id = meta.cluster_id
            node = _Node(node_id, role, None, storage, config)
            self.nodes[node_id] = node
            node.core = self._new_core(node)

    def _new_core(self, node: _Node) -> Core:
        assert node.storage is not None and node.config is not None
        seed = self.rng.getrandbits(63)
        now_ms = self.now_ms + node.skew_ms
        if node.role == "controller":
            return make_controller(
                node.config,
                node.storage,
                now_ms,
                seed,
                tracer=self.tracer,
                bootstrap_features=False,  # keeps the seeded schedules' metadata offsets
            )
        return make_broker(
            node.config, node.storage, now_ms, seed, f"node-{node.node_id}", tracer=self.tracer
        )

    def start(self) -> None:
        """Start every node and run until every broker is registered, caught up and unfenced."""
        for node_id in sorted(self.nodes):
            self._schedule_tick(self.nodes[node_id], self.now_ms)
        if not self.run_until(self._all_brokers_ready, START_MAX_MS):
            raise RuntimeError(f"the brokers were not RUNNING after {START_MAX_MS} ms")

    def _all_brokers_ready(self) -> bool:
        return all(b is not None and b.ready for b in map(self.broker, self.broker_ids))

    def add_client(self, client: Core) -> int:
        """Add a client node (any Core); returns its node id (100, 101, ...)."""
        node_id = self._next_client_id
        self._next_client_id += 1
        self.nodes[node_id] = _Node(node_id, "client", client, None, None)
        return node_id

    # -------------------------------------------------------------------- time

    def run_for(self, ms: int) -> None:
        """Advance the clock ``ms``, delivering everything due on the way."""
        self._run_to(self.now_ms + ms, None)

    def run_until(self, done: Callable[[], bool], max_ms: int) -> bool:
        """Run until ``done()`` (checked after every event) or ``max_ms`` passed."""
        return self._run_to(self.now_ms + max_ms, done)

    def _run_to(self, until_ms: int, done: Callable[[], bool] | None) -> bool:
        heap = self._heap
        if done is not None and done():
            return True
        while heap and heap[0][0] <= until_ms:
            at_ms, _, handler, args = heapq.heappop(heap)
            if at_ms > self.now_ms:
                self.now_ms = at_ms
            handler(*args)
            if done is not None and done():
                return True
        self.now_ms = until_ms
        return done is not None and done()

    def call_at(self, at_ms: int, call: Callable[[], None]) -> None:
        """Run ``call()`` when the clock reaches ``at_ms`` (a workload's timer), in order with
        everything else due then."""
        self._at(at_ms, call)

    def _at(self, at_ms: int, handler: Callable[..., None], *args: Any) -> None:
        self._sequence += 1
        heapq.heappush(self._heap, (at_ms, self._sequence, handler, args))

    def _schedule_tick(self, node: _Node, at_ms: int) -> None:
        node.wakeup_ms = at_ms
        self._at(at_ms, self._tick, node, node.incarnation, at_ms)

    def _tick(self, node: _Node, incarnation: int, at_ms: int) -> None:
        if node.incarnation != incarnation or node.wakeup_ms != at_ms or node.core is None:
            return  # superseded by an earlier wakeup, or the node died
        if node.paused:
            return  # resume() schedules it again
        node.wakeup_ms = None
        self.events += 1
        self._perform(node, node.core.on_tick(self.now_ms + node.skew_ms))

    # ----------------------------------------------------------------- clients

    def client_step(self, node: int, call: Callable[[int], list[Effect]], label: str) -> None:
        """``call(now_ms)`` on a client, carry out its effects, record a "client" step (a
        crashed or paused client does not run it)."""
        client = self.nodes[node]
        if client.core is None or client.paused:  # a dead or stopped process does nothing
            self._record(node, "client", label, state="not run: the client is down")
            return
        self._record(node, "client", label)
        self._perform(client, call(self.now_ms + client.skew_ms))

    # ----------------------------------------------------------------- effects

    def _perform(self, node: _Node, effects: Iterable[Effect]) -> None:
        for effect in effects:
            if isinstance(effect, SendRequest):
                self._send_request(node, effect)
            elif isinstance(effect, Send):
                self._send_response(node, effect)
            elif isinstance(effect, Wakeup):
                at_ms = effect.at_ms - node.skew_ms
                if node.wakeup_ms is None or at_ms < node.wakeup_ms:
                    self._schedule_tick(node, max(at_ms, self.now_ms))
            elif isinstance(effect, Close):
                self._close_inbound(node, effect.connection_id)
            elif isinstance(effect, Disconnect):
                conn = self.network.links.get((node.node_id, effect.node_id, effect.channel))
                if conn is not None:
                    self._close_source(conn, f"disconnect: {effect.reason}")
            elif isinstance(effect, Halt):
                self._record(node.node_id, "fault", "halt", state=effect.reason)
                self._kill(node, 0)
                return
            else:
                raise TypeError(f"unknown effect {effect!r}")

    def _send_request(self, node: _Node, request: SendRequest) -> None:
        conn = self.network.links.get((node.node_id, request.node_id, request.channel))
        if conn is None:
            target = self.nodes.get(request.node_id)
            alive = target is not None and target.core is not None
            target_inc = target.incarnation if target is not None else -1
            conn = self.network.open(
                node.node_id, request.node_id, node.incarnation, target_inc, request.channel
            )
            if not alive:  # connection refused
                conn.target_closed = True
                self._hangup(conn, TO_SOURCE, "connection refused")
        frame = request.frame
        api_key, version, correlation_id = _REQUEST_HEADER.unpack_from(frame)
        action = f"{_API_NAMES.get(api_key, str(api_key))} v{version}"
        conn.pending[correlation_id] = action
        self._transmit(conn, TO_TARGET, frame, action + " request")

    def _send_response(self, node: _Node, send: Send) -> None:
        conn = node.inbound.get(send.connection_id)
        if conn is None:
            return  # the connection is closed: the bytes go nowhere
        data = b"".join(
            _read(node.storage, c) if isinstance(c, FileSlice) else bytes(c) for c in send.chunks
        )
        frame = data[4:]
        (correlation_id,) = _CORRELATION.unpack_from(frame)
        action = conn.pending.pop(correlation_id, "?")
        self._transmit(conn, TO_SOURCE, frame, action + " response")

    def _transmit(self, conn: Conn, direction: int, frame: bytes, action: str) -> None:
        sender, receiver = conn.ends(direction)
        self._message += 1
        message = self._message
        fate = self.network.route(conn, direction, self.now_ms)
        self._record(sender, "send", action, receiver, message, _on(conn, fate.note))
        if fate.held:
            conn.held[direction].append((frame, message, action))
        elif not fate.arrivals:
            self._record(receiver, "drop", action, sender, message, _on(conn, fate.note))
        for at_ms in fate.arrivals:
            self._at(at_ms, self._arrive, conn, direction, frame, message, action)

    def _release(self, conn: Conn, direction: int) -> None:
        """A cut healed: what it held goes on its way, in order."""
        held, conn.held[direction] = conn.held[direction], []
        for frame, message, action in held:
            at_ms = self.network.fifo(conn, direction, self.now_ms + self.network.latency_ms())
            self._at(at_ms, self._arrive, conn, direction, frame, message, action)

    # --------------------------------------------------------------- arrivals

    def _arrive(self, conn: Conn, direction: int, frame: bytes, message: int, action: str) -> None:
        sender, receiver = conn.ends(direction)
        node = self.nodes[receiver]
        if direction == TO_TARGET:
            dead = conn.target_heard_close or node.incarnation != conn.target_incarnation
        else:
            dead = conn.source_closed or node.incarnation != conn.source_incarnation
        if dead or node.core is None:
            self._record(receiver, "drop", action, sender, message, _on(conn, "connection closed"))
            return
        if node.paused:
            node.parked.append((self._arrive, (conn, direction, frame, message, action)))
            return
        self._record(receiver, "receive", action, sender, message, _on(conn, ""))
        now_ms = self.now_ms + node.skew_ms
        core = node.core
        if direction == TO_SOURCE:
            self.events += 1
            self._perform(node, core.on_response(sender, frame, now_ms, conn.channel))
            return
        if not conn.accepted:
            conn.accepted = True
            node.inbound[conn.connection_id] = conn
            self.events += 1
            self._perform(node, core.on_connect(conn.connection_id, now_ms))
            if node.core is not core:
                return
        self.events += 1
        self._perform(node, core.on_request(conn.connection_id, frame, now_ms))

    # ------------------------------------------------------------- hang-ups

    def _close_source(self, conn: Conn, reason: str) -> None:
        """The source drops the connection (Disconnect, or it died): the target hears it."""
        if conn.source_closed:
            return
        conn.source_closed = True
        self.network.forget(conn)
        self._hangup(conn, TO_TARGET, reason)

    def _close_inbound(self, node: _Node, connection_id: int) -> None:
        """The target closes an accepted connection (Close): it hears ``on_disconnect`` now,
        as the asyncio driver's does; the source finds the node unreachable."""
        conn = node.inbound.pop(connection_id, None)
        if conn is None or conn.target_closed:
            return
        conn.target_closed = conn.target_heard_close = True
        self.network.forget(conn)
        self._hangup(conn, TO_SOURCE, "closed")
        if node.core is not None:
            self.events += 1
            self._perform(node, node.core.on_disconnect(connection_id, self.now_ms + node.skew_ms))

    def _hangup(self, conn: Conn, direction: int, reason: str) -> None:
        """Tell the other end, behind what is already on its way (a FIN after the data)."""
        at_ms = self.network.fifo(conn, direction, self.now_ms + self.network.latency_ms())
        self._at(at_ms, self._hear_hangup, conn, direction, reason)

    def _hear_hangup(self, conn: Conn, direction: int, reason: str) -> None:
        sender, receiver = conn.ends(direction)
        node = self.nodes[receiver]
        if node.paused and node.core is not None:
            node.parked.append((self._hear_hangup, (conn, direction, reason)))
            return
        now_ms = self.now_ms + node.skew_ms
        if direction == TO_TARGET:
            conn.target_closed = conn.target_heard_close = True
            self.network.forget(conn)
            accepted = node.inbound.pop(conn.connection_id, None) is conn
            if accepted and node.core is not None:
                self._record(receiver, "receive", "disconnected", sender, state=reason)
                self.events += 1
                self._perform(node, node.core.on_disconnect(conn.connection_id, now_ms))
            return
        if conn.source_closed or node.incarnation != conn.source_incarnation:
            return
        conn.source_closed = True
        self.network.forget(conn)
        if node.core is not None:
            self._record(receiver, "receive", "unreachable", sender, state=_on(conn, reason))
            self.events += 1
            self._perform(node, node.core.on_unreachable(sender, now_ms, conn.channel))

    # ------------------------------------------------------------------ faults

    def crash(self, node: int, torn_bytes: int = 0) -> None:
        """The process dies and its unflushed bytes are lost (the last write may be torn)."""
        victim = self.nodes[node]
        lost = victim.storage.unflushed_bytes() if victim.storage is not None else 0
        self._record(node, "fault", "crash", state=f"torn_bytes={torn_bytes} unflushed={lost}")
        self._kill(victim, torn_bytes)

    def stop(self, node: int, max_ms: int = 10_000) -> bool:
        """A clean shutdown (SIGTERM): a broker first asks the controller to move its
        leaderships away and waits for it (KIP-631, at most ``max_ms``), then the core shuts
        down (flushing its logs; after a completed controlled shutdown it leaves the
        clean-shutdown file, KIP-966) and the process exits. True if the controlled shutdown
        completed. ``restart`` starts it again."""
        target = self.nodes[node]
        if target.core is None:
            raise ValueError(f"node {node} is not running")
        self._record(node, "fault", "stop")
        broker = self.broker(node)
        complete = True
        if broker is not None:
            self._perform(target, broker.begin_controlled_shutdown(self._now_of(target)))
            complete = self.run_until(lambda: broker.shutdown_complete, max_ms)
        if target.core is not None:
            target.core.shutdown(self._now_of(target))
            self._kill(target, None)
        return complete

    def _now_of(self, node: _Node) -> int:
        return self.now_ms + node.skew_ms

    def _kill(self, node: _Node, torn_bytes: int | None) -> None:
        """The process is gone; ``torn_bytes`` None: its page cache survives (a clean exit)."""
        if node.core is None:
            return
        node.core = None
        node.incarnation += 1
        node.paused = False
        node.parked = []
        node.wakeup_ms = None
        node.inbound = {}
        for conn in list(self.network.conns.values()):
            if conn.source == node.node_id and not conn.source_closed:
                self._close_source(conn, "peer died")
            if conn.target == node.node_id and not conn.target_closed:
                conn.target_closed = True
                self.network.forget(conn)
                self._hangup(conn, TO_SOURCE, "peer died")
        if node.storage is not None and torn_bytes is not None:
            node.storage.crash(torn_bytes)

    def restart(self, node: int) -> None:
        """A new process on the node's storage: log recovery, registration, catching up."""
        target = self.nodes[node]
        if target.core is not None:
            raise ValueError(f"node {node} is running: crash it first")
        if target.role == "client":
            raise ValueError("a client that restarts is a new client: add_client")
        self._record(node, "fault", "restart")
        try:
            target.core = self._new_core(target)
        except OSError as error:
            # Kafka fails to start on a log directory it cannot write (recovery, checkpoints):
            # the process exits and the node stays down.
            self._record(node, "fault", "halt", state=f"start failed: {error}")
            return
        self._schedule_tick(target, self.now_ms)

    def pause(self, node: int) -> None:
        self._record(node, "fault", "pause")
        self.nodes[node].paused = True

    def resume(self, node: int) -> None:
        target = self.nodes[node]
        self._record(node, "fault", "resume", state=f"parked={len(target.parked)}")
        target.paused = False
        parked, target.parked = target.parked, []
        for handler, args in parked:
            self._at(self.now_ms, handler, *args)
        if target.wakeup_ms is not None and target.core is not None:
            self._schedule_tick(target, max(target.wakeup_ms, self.now_ms))

    def partition(self, cut: Iterable[tuple[int, int]]) -> None:
        """Cut these directed links (sender, receiver): their frames are held until heal."""
        links = sorted(set(cut))
        self.network.cuts.update(links)
        self._record(WORLD, "fault", "partition", state=" ".join(f"{a}->{b}" for a, b in links))

    def isolate(self, node: int) -> None:
        """Cut every link to and from ``node``."""
        others = sorted(n for n in self.nodes if n != node)
        cut = [(node, o) for o in others] + [(o, node) for o in others]
        self.network.cuts.update(cut)
        self._record(node, "fault", "isolate")

    def heal(self) -> None:
        """Remove every cut; the frames held go on their way."""
        self._record(WORLD, "fault", "heal")
        self.network.cuts.clear()
        self.network.stalls.clear()
        for conn in list(self.network.conns.values()):
            for direction in (TO_TARGET, TO_SOURCE):
                if conn.held[direction]:
                    self._release(conn, direction)

    def stall(self, source: int, target: int, channel: str) -> None:
        """Black-hole ``source``'s connection to ``target`` on ``channel`` (the open one, or
        else the next one it opens): a stuck TCP connection (``refka.sim.network``)."""
        now = self.network.stall(source, target, channel)
        state = f"{source}->{target} channel={channel or '-'} " + ("now" if now else "next")
        self._record(WORLD, "fault", "stall", state=state)

    def skew(self, node: int, offset_ms: int) -> None:
        """The node's clock reads ``offset_ms`` more than the world's."""
        target = self.nodes[node]
        self._record(node, "fault", "skew", state=f"offset_ms={offset_ms}")
        wakeup = target.wakeup_ms
        own_wakeup = None if wakeup is None else wakeup + target.skew_ms
        target.skew_ms = offset_ms
        if own_wakeup is not None and target.core is not None:
            self._schedule_tick(target, max(own_wakeup - offset_ms, self.now_ms))

    def disk_full(self, node: int, full: bool = True) -> None:
        """Every write to the node's storage fails with ENOSPC (or works again)."""
        self._record(node, "fault", "disk full" if full else "disk not full")
        self.storage(node).full = full

    def set_network(self, faults: NetworkFaults) -> None:
        self._record(WORLD, "fault", "network", state=repr(faults))
        self.network.faults = faults

    # -------------------------------------------------------------- inspection

    def broker(self, node: int) -> Broker | None:
        core = self.nodes[node].core
        return core if isinstance(core, Broker) else None

    def controller(self) -> QuorumController | None:
        core = self.nodes[CONTROLLER_ID].core
        return core if isinstance(core, QuorumController) else None

    def storage(self, node: int) -> MemoryStorage:
        storage = self.nodes[node].storage
        if storage is None:
            raise ValueError(f"node {node} has no storage (a client)")
        return storage

    def alive(self, node: int) -> bool:
        return self.nodes[node].core is not None

    # --------------------------------------------------------------- timeline

    def _trace(self, event: TraceEvent) -> None:
        """A core's trace event: kept, and a ``trace`` step of the timeline with its fields."""
        self.trace_events.append(event)
        self._record(event.node, "trace", type(event).__name__, state=trace_state(event))
        for listener in self.trace_listeners:
            listener(event)

    def _record(
        self,
        node: int,
        kind: str,
        action: str,
        peer: int | None = None,
        message: int | None = None,
        state: str = "",
    ) -> None:
        steps = self.steps
        steps.append(Step(len(steps), self.now_ms, node, kind, action, peer, message, state))


def _on(conn: Conn, note: str) -> str:
    """A message step's state: ``note``, then its channel when not the default one."""
    if not conn.channel:
        return note
    return f"{note} channel={conn.channel}".lstrip()


def _read(storage: MemoryStorage | None, piece: FileSlice) -> bytes:
    assert storage is not None, "a client sent a FileSlice"
    return storage.read(piece.path, piece.position, piece.size)


def trace_state(event: TraceEvent) -> str:
    """A trace event's fields but ``node`` as ``key=value`` pairs, for the timeline."""
    fields = (f for f in event.__dataclass_fields__ if f != "node")
    return " ".join(f"{f}={_short(getattr(event, f))}" for f in fields)


def _short(value: object) -> str:
    if isinstance(value, tuple | list | frozenset):
        return "[" + ",".join(_short(v) for v in value) + "]"
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return str(value).replace(" ", "")
