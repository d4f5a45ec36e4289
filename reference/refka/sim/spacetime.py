"""The layout of a space-time diagram: which steps get drawn, in which rows, and the fault bands.

Time flows down by step, not by clock: only steps get rows, so idle simulated time takes no
space (a note marks a gap of ``GAP_MS`` or more). Steps share a row when they happened at the
same millisecond on different nodes and none is the receipt of a message sent in that row, so a
row never reorders a node's own steps nor puts an effect beside its cause; labelled steps (trace
events, client operations) share rows only with each other, so no arrow starts across a label.

Collapsing (``collapse=True``): within a quiet stretch (between two drawn steps that are not
messages), a message whose sender, receiver and action already appeared in the stretch is not
drawn (both its send and its receive), and a trace event identical to one already drawn since
the last fault, client operation, drop or violation is not drawn either. So a run of heartbeat
and empty-fetch round trips shows one round trip per stretch, and a note above the next row (a
"+N" badge when fewer than ``NOTE_MIN``) counts the repeats left out (a message counts once).
Messages that were dropped, delivered twice or marked by the network are always drawn.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from refka.sim.timeline import WORLD, Step

GAP_MS = 1000
"""A simulated-time gap between two rows at least this long gets a note."""

NOTE_MIN = 10
"""So many left-out repeats before a row get a note; fewer get a small badge."""

STRONG = frozenset({"fault", "client", "drop", "violation"})

# fault action -> (band kind, actions that end it); "heal" ends every partition band
BANDS: dict[str, tuple[str, frozenset[str]]] = {
    "crash": ("down", frozenset({"restart"})),
    "halt": ("down", frozenset({"restart"})),
    "pause": ("paused", frozenset({"resume", "crash"})),
    "partition": ("cut", frozenset({"heal"})),
    "isolate": ("cut", frozenset({"heal"})),
    "disk_full": ("disk", frozenset({"disk_not_full", "disk_ok", "disk_free"})),
}


def fault_name(step: Step) -> str:
    """The fault's action normalised: "Disk full" -> "disk_full"."""
    name = step.action.strip().lower().replace(" ", "_").replace("-", "_")
    if name == "disk_full" and step.state.strip().lower() in ("false", "full=false", "off"):
        return "disk_ok"
    return name


@dataclass(slots=True)
class Row:
    """One row of the diagram: steps drawn side by side, with what was left out before them."""

    at_ms: int
    steps: list[Step]
    gap_ms: int = 0  # since the previous row
    elided: Counter[str] = field(default_factory=Counter)  # left out just before this row
    y: int = 0  # top of the row (its note included)
    height: int = 0

    @property
    def exclusive(self) -> bool:
        return any(s.kind in ("fault", "violation") or s.node == WORLD for s in self.steps)

    @property
    def note(self) -> str:
        """A line above the row for a long gap or many left-out repeats ("" for none)."""
        total = sum(self.elided.values())
        if self.gap_ms < GAP_MS and total < NOTE_MIN:
            return ""
        parts = [f"+{self.gap_ms} ms"] if self.gap_ms >= GAP_MS else []
        if total:
            top = ", ".join(f"{k} \u00d7{n}" for k, n in self.elided.most_common(3))
            more = " \u2026" if len(self.elided) > 3 else ""
            parts.append(f"{total} repeats not drawn: {top}{more}")
        return " \u00b7 ".join(parts)

    @property
    def badge(self) -> int:
        """The number of left-out repeats when too few for a note (drawn as a small "+N")."""
        return 0 if self.note else sum(self.elided.values())

    def elided_list(self) -> str:
        return "\n".join(f"{k} \u00d7{n}" for k, n in sorted(self.elided.items()))


@dataclass(frozen=True, slots=True)
class Band:
    """A fault lasting from one row to another on one node's column (or all, for WORLD)."""

    kind: str  # down | paused | cut | disk
    node: int
    start: Step
    end: Step | None  # None: still on when the run ended


@dataclass(slots=True)
class Layout:
    rows: list[Row]
    row_of: dict[int, Row]  # step index -> its row, for every drawn step
    sends: dict[int, Step]  # message id -> its send step (drawn or not)
    elided: int = 0
    bands: list[Band] = field(default_factory=list)


def network_note(state: str) -> str:
    """A message step's note from the network, without the channel it names (``world``
    appends ``channel=NAME`` for a connection on a named channel)."""
    return state.split("channel=", 1)[0].strip()


def _always_drawn(steps: Sequence[Step]) -> set[int]:
    """Messages drawn even when collapsing: dropped, delivered more than once, or sent with a
    note from the network ("delayed 40 ms", "reordered", "held: link cut")."""
    receipts: Counter[int] = Counter()
    keep: set[int] = set()
    for s in steps:
        if s.message is None:
            continue
        if s.kind == "drop" or (s.kind == "send" and network_note(s.state)):
            keep.add(s.message)
        elif s.kind == "receive":
            receipts[s.message] += 1
            if receipts[s.message] > 1:
                keep.add(s.message)
    return keep


def _api(action: str) -> str:
    return action.split(" ", 1)[0] if action else "?"


def visible(steps: Sequence[Step], collapse: bool) -> Iterable[tuple[Step, Counter[str]]]:
    """The steps to draw, each with a count of the steps left out just before it."""
    keep = _always_drawn(steps)
    messages: set[tuple[int, int | None, str]] = set()
    traces: set[tuple[int, str, str]] = set()
    hidden: set[int] = set()
    pending: Counter[str] = Counter()
    for s in steps:
        if collapse and s.kind == "send" and s.message not in keep:
            signature = (s.node, s.peer, s.action)
            if signature in messages and s.message is not None:
                hidden.add(s.message)
                pending[f"{_api(s.action)} {s.node}\u2192{s.peer}"] += 1
                continue
            messages.add(signature)
        elif s.kind == "receive" and s.message in hidden:
            continue
        elif collapse and s.kind == "trace":
            trace = (s.node, s.action, s.state)
            if trace in traces:
                pending[f"{s.action} at {s.node}"] += 1
                continue
            traces.add(trace)
        if s.kind not in ("send", "receive"):
            messages.clear()
        if s.kind in STRONG:
            traces.clear()
        yield s, pending
        pending = Counter()


def _fits(row: Row, step: Step, sends: dict[int, Step]) -> bool:
    if row.exclusive or step.kind in ("fault", "violation") or step.node == WORLD:
        return False
    if step.at_ms != row.at_ms or any(s.node == step.node for s in row.steps):
        return False
    labelled = {"trace", "client"}  # their labels would sit under the row's arrows
    if (step.kind in labelled) != (row.steps[0].kind in labelled):
        return False
    if step.kind in ("receive", "drop") and step.message is not None:
        send = sends.get(step.message)
        if send is not None and send in row.steps:
            return False
    return True


def layout(steps: Sequence[Step], collapse: bool = True) -> Layout:
    """Rows for the steps to draw (see the module docstring for the rules)."""
    sends = {s.message: s for s in steps if s.kind == "send" and s.message is not None}
    out = Layout(rows=[], row_of={}, sends=sends)
    for step, elided in visible(steps, collapse):
        out.elided += sum(elided.values())
        last = out.rows[-1] if out.rows else None
        if last is not None and _fits(last, step, sends):
            last.steps.append(step)
            last.elided += elided
        else:
            gap = step.at_ms - last.at_ms if last is not None else 0
            last = Row(at_ms=step.at_ms, steps=[step], gap_ms=gap, elided=elided)
            out.rows.append(last)
        out.row_of[step.index] = last
    out.bands = bands([s for r in out.rows for s in r.steps if s.kind == "fault"])
    return out


def bands(faults: Sequence[Step]) -> list[Band]:
    """Pair each band-starting fault with the fault that ends it (crash with restart ...)."""
    open_: dict[tuple[int, str], Step] = {}
    out: list[Band] = []
    for f in faults:
        name = fault_name(f)
        for (node, kind), start in list(open_.items()):
            ends = BANDS[fault_name(start)][1]
            if name in ends and (node == f.node or f.node == WORLD or name == "heal"):
                out.append(Band(kind, node, start, f))
                del open_[(node, kind)]
        if name in BANDS:
            open_.setdefault((f.node, BANDS[name][0]), f)
    out.extend(Band(kind, node, start, None) for (node, kind), start in open_.items())
    return out
