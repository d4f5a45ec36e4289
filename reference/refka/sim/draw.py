"""``refka replay --draw``: a simulated run as a space-time diagram, one self-contained HTML page.

One column per node (controller 0, brokers 1.., clients 100..), time flowing down by step (the
simulated milliseconds in the left gutter), a message as an arrow from its send to its receipt
(dashed for a response, ending in a cross when dropped), faults as boxes and bands on their
node's column (a partition spans every column), trace events as labelled dots, client
operations as diamonds, and the violation as a red row naming the invariant. Hovering anything
shows its full step (SVG ``<title>``). Inline SVG and CSS only: no script, no network.

Which steps get rows, and which repeated ones are left out, is ``refka.sim.spacetime``'s job.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from html import escape

from refka.sim.spacetime import Band, Layout, Row, fault_name, layout
from refka.sim.timeline import WORLD, Step

GUTTER = 124  # px: the ms and step columns
COL = 150  # px: one node's column
RIGHT = 120  # px: room for the last column's labels
NOTE_H = 16
LABEL_CHARS = 25  # a trace label (action and state) fits in one column
VIOLATION = "#d0021b"  # used for the violation only
DROP = "#222222"

API_COLOURS = {
    "Fetch": "#1f77b4",
    "Produce": "#2ca02c",
    "BrokerHeartbeat": "#a0a0a0",
    "BrokerRegistration": "#8c564b",
    "AlterPartition": "#e377c2",
    "Metadata": "#7f7f7f",
    "ApiVersions": "#bcbd22",
    "ListOffsets": "#17becf",
    "FindCoordinator": "#ff7f0e",
    "JoinGroup": "#ff7f0e",
    "SyncGroup": "#ff7f0e",
    "Heartbeat": "#ffae5c",
    "OffsetCommit": "#e6550d",
    "OffsetFetch": "#e6550d",
    "InitProducerId": "#9467bd",
    "CreateTopics": "#6b4c9a",
}
PALETTE = ("#393b79", "#637939", "#8c6d31", "#7b4173", "#3182bd", "#31a354", "#756bb1")
BAND_FILL = {
    "down": "url(#down)",
    "paused": "#5dade240",
    "cut": "#9b59b626",
    "disk": "#e67e2230",
}
FAULT_FILL = {"down": "#555555", "paused": "#2e86c1", "cut": "#8e44ad", "disk": "#d35400"}
BAND_OF = {
    "crash": "down",
    "halt": "down",
    "restart": "down",
    "pause": "paused",
    "resume": "paused",
    "partition": "cut",
    "isolate": "cut",
    "heal": "cut",
    "disk_full": "disk",
    "disk_ok": "disk",
    "disk_not_full": "disk",
    "disk_free": "disk",
}

DEFS = (
    '<svg width="0" height="0" style="position:absolute" aria-hidden="true"><defs>'
    '<pattern id="down" width="6" height="6" patternUnits="userSpaceOnUse" '
    'patternTransform="rotate(45)"><rect width="6" height="6" fill="#eeeeee"/>'
    '<line x1="0" y1="0" x2="0" y2="6" stroke="#b0b0b0" stroke-width="2"/></pattern>'
    "</defs></svg>"
)
"""The hatching of a crashed node's column, shared by the diagram and the legend."""

CSS = """
body { font: 13px system-ui, -apple-system, "Segoe UI", sans-serif; color: #222;
       margin: 12px 16px; background: #fff; }
h1 { font-size: 17px; margin: 0 0 4px; }
.summary { color: #555; margin: 0 0 8px; }
.legend { display: flex; flex-wrap: wrap; gap: 4px 16px; margin: 0 0 6px; font-size: 12px;
          color: #333; }
.legend span { display: inline-flex; align-items: center; gap: 5px; }
.head { position: sticky; top: 0; background: #fff; border-bottom: 1px solid #ccc;
        z-index: 1; }
svg text { font-family: inherit; }
.lbl { paint-order: stroke; stroke: #fff; stroke-width: 3px; stroke-linejoin: round; }
.vlbl { paint-order: stroke; stroke: #fde4e4; stroke-width: 3px; stroke-linejoin: round; }
.msg:hover line, .msg:hover path { stroke-width: 3; }
.mark:hover circle, .mark:hover rect, .mark:hover path { stroke: #000; stroke-width: 1.5; }
"""


def draw_html(
    steps: Sequence[Step],
    title: str,
    nodes: Mapping[int, str] | None = None,
    *,
    collapse: bool = True,
) -> str:
    """The page: title, legend, sticky node headers and the diagram."""
    cols = _columns(steps, nodes or {})
    lay = layout(steps, collapse)
    height = _place(lay.rows)
    width = GUTTER + COL * len(cols) + RIGHT
    body = _Canvas(cols, lay, width, height)
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f"<title>{escape(title)}</title>",
            f"<style>{CSS}</style></head><body>",
            DEFS,
            f"<h1>{escape(title)}</h1>",
            f'<p class="summary">{escape(_summary(steps, lay))}</p>',
            _legend(steps),
            f'<div class="head">{_header(cols, width)}</div>',
            body.svg(),
            "</body></html>",
        ]
    )


def _columns(steps: Sequence[Step], nodes: Mapping[int, str]) -> dict[int, tuple[float, str]]:
    """Node id -> (x of its column's centre, label)."""
    ids = set(nodes)
    for s in steps:
        ids.update(n for n in (s.node, s.peer) if n is not None and n != WORLD)
    out = {}
    for i, node in enumerate(sorted(ids)):
        out[node] = (GUTTER + COL * i + COL / 2, nodes.get(node) or _role(node))
    return out


def _role(node: int) -> str:
    if node == 0:
        return "controller 0"
    return f"broker {node}" if node < 100 else f"client {node}"


def _summary(steps: Sequence[Step], lay: Layout) -> str:
    if not steps:
        return "No steps."
    first, last = steps[0].at_ms, steps[-1].at_ms
    drawn = len(lay.row_of)
    left_out = f"; {lay.elided} repeated messages and trace events not drawn" if lay.elided else ""
    return (
        f"{len(steps)} steps over {last - first} simulated ms (t=0 is {first} ms), "
        f"{drawn} drawn in {len(lay.rows)} rows{left_out}. Hover for details."
    )


def _row_height(row: Row) -> int:
    kinds = {s.kind for s in row.steps}
    mark = 46 if "violation" in kinds else 26 if "fault" in kinds else 20
    if kinds <= {"send", "receive"}:
        mark = 16
    return mark + (NOTE_H if row.note else 0)


def _place(rows: list[Row]) -> int:
    y = 6
    for row in rows:
        row.y, row.height = y, _row_height(row)
        y += row.height
    return y + 24


def _mid(row: Row) -> float:
    return row.y + (NOTE_H if row.note else 0) + (row.height - (NOTE_H if row.note else 0)) / 2


def _colour(action: str) -> str:
    api = action.split(" ", 1)[0]
    if api in API_COLOURS:
        return API_COLOURS[api]
    return PALETTE[zlib.crc32(api.encode()) % len(PALETTE)]


def _t(text: str, x: float, y: float, cls: str = "", **attrs: str) -> str:
    extra = "".join(f' {k.replace("_", "-")}="{escape(v)}"' for k, v in attrs.items())
    c = f' class="{cls}"' if cls else ""
    return f'<text x="{x:.1f}" y="{y:.1f}"{c}{extra}>{escape(text)}</text>'


def _title(step: Step, more: str = "") -> str:
    return f"<title>{escape(step.line() + more)}</title>"


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


class _Canvas:
    """The diagram's SVG, built layer by layer (bands under lifelines under arrows ...)."""

    def __init__(
        self, cols: dict[int, tuple[float, str]], lay: Layout, width: int, height: int
    ) -> None:
        self.cols, self.lay, self.width, self.height = cols, lay, width, height
        self.out: list[str] = []
        self.prev_ms: int | None = None  # the gutter shows the time only when it changes

    def x(self, node: int) -> float:
        return self.cols[node][0]

    def svg(self) -> str:
        self.out.append(
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{self.width}" '
            f'height="{self.height}" viewBox="0 0 {self.width} {self.height}">'
        )
        self.violation_rows()
        for band in self.lay.bands:
            self.band(band)
        self.lifelines()
        for row in self.lay.rows:
            self.gutter_and_note(row)
        self.messages()
        for row in self.lay.rows:
            for step in row.steps:
                self.mark(step, _mid(row))
        self.out.append("</svg>")
        return "\n".join(self.out)

    def violation_rows(self) -> None:
        for row in self.lay.rows:
            if any(s.kind == "violation" for s in row.steps):
                top = row.y + (NOTE_H if row.note else 0)
                h = row.height - (NOTE_H if row.note else 0)
                self.out.append(
                    f'<rect x="0" y="{top}" width="{self.width}" height="{h}" fill="#fde4e4"/>'
                )

    def lifelines(self) -> None:
        for x, _ in self.cols.values():
            self.out.append(
                f'<line x1="{x}" y1="0" x2="{x}" y2="{self.height}" stroke="#d5d5d5" '
                'stroke-width="1.5"/>'
            )

    def band(self, band: Band) -> None:
        top = _mid(self.lay.row_of[band.start.index])
        end = self.lay.row_of[band.end.index] if band.end is not None else None
        bottom = _mid(end) if end is not None else self.height
        if band.node == WORLD:
            left, right = GUTTER + 4.0, self.width - RIGHT - 4.0
        else:
            left, right = self.x(band.node) - COL * 0.4, self.x(band.node) + COL * 0.4
        what = {"down": "down", "paused": "paused", "cut": "partitioned", "disk": "disk full"}
        self.out.append(
            f'<rect x="{left:.1f}" y="{top:.1f}" width="{right - left:.1f}" '
            f'height="{max(bottom - top, 2):.1f}" fill="{BAND_FILL[band.kind]}" rx="3">'
            f"<title>{escape(what[band.kind])}: {escape(band.start.line())}</title></rect>"
        )

    def gutter_and_note(self, row: Row) -> None:
        cy = _mid(row)
        if row.at_ms != self.prev_ms:
            t0 = self.lay.rows[0].at_ms
            self.out.append(
                _t(
                    f"{row.at_ms - t0} ms",
                    74,
                    cy + 4,
                    text_anchor="end",
                    fill="#333",
                    font_size="12",
                )
            )
        self.prev_ms = row.at_ms
        first = min(s.index for s in row.steps)
        self.out.append(
            _t(f"#{first}", GUTTER - 6, cy + 4, text_anchor="end", fill="#999", font_size="10")
        )
        if row.badge:
            self.out.append(
                f'<g><rect x="{GUTTER + 2}" y="{cy - 6}" width="26" height="12" rx="6" '
                'fill="#eeeeee"/>'
                + _t(
                    f"+{row.badge}",
                    GUTTER + 15,
                    cy + 3,
                    text_anchor="middle",
                    fill="#777",
                    font_size="9",
                )
                + f"<title>not drawn (repeats):\n{escape(row.elided_list())}</title></g>"
            )
        if row.note:
            y = row.y + NOTE_H / 2
            self.out.append(
                f'<g><line x1="{GUTTER}" y1="{y}" x2="{self.width - RIGHT - 4}" y2="{y}" '
                'stroke="#bbb" stroke-dasharray="2 3"/>'
                + _t(
                    row.note,
                    GUTTER + 6,
                    y + 4,
                    "lbl",
                    fill="#777",
                    font_size="10",
                    font_style="italic",
                )
                + f"<title>{escape(row.elided_list() or row.note)}</title></g>"
            )

    def messages(self) -> None:
        answered: set[int] = set()
        for row in self.lay.rows:
            for step in row.steps:
                if step.kind in ("receive", "drop") and step.message is not None:
                    answered.add(step.message)
                    self.arrow(step, _mid(row))
        for row in self.lay.rows:
            for step in row.steps:
                if step.kind == "send" and step.message not in answered:
                    self.in_flight(step, _mid(row))

    def arrow(self, end: Step, y2: float) -> None:
        send = self.lay.sends.get(end.message) if end.message is not None else None
        send_row = self.lay.row_of.get(send.index) if send is not None else None
        if send is None or send_row is None or send.peer is None:
            src = end.peer if end.peer is not None else end.node
            x1, y1 = self.x(src), y2 - 8
            dst = end.node
        else:
            x1, y1, dst = self.x(send.node), _mid(send_row), send.peer
        x2 = self.x(dst)
        if end.kind == "drop":
            x2 = x1 + (x2 - x1) * 0.6
        colour = _colour(end.action)
        dash = ' stroke-dasharray="5 3"' if "response" in end.action else ""
        parts = [
            f'<g class="msg"><line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" '
            f'stroke="{colour}" stroke-width="1.5"{dash}/>'
            f'<circle cx="{x1:.1f}" cy="{y1:.1f}" r="2.2" fill="{colour}"/>'
        ]
        if end.kind == "drop":
            parts.append(_cross(x2, y2))
        else:
            parts.append(_head(x1, y1, x2, y2, colour))
        lx, ly = x1 + (x2 - x1) * 0.3, y1 + (y2 - y1) * 0.3
        label = end.action.split(" ", 1)[0]
        if send is not None and send.state:  # what the network did to it
            label += f" ({_short(send.state, 18)})"
        parts.append(_t(label, lx + 3, ly - 2, "lbl", fill=colour, font_size="9"))
        sent = f"\nsent: {send.line()}" if send is not None else ""
        parts.append(_title(end, sent) + "</g>")
        self.out.append("".join(parts))

    def in_flight(self, send: Step, y1: float) -> None:
        if send.peer is None or send.peer not in self.cols:
            return
        x1 = self.x(send.node)
        x2 = x1 + (self.x(send.peer) - x1) * 0.3
        self.out.append(
            f'<g class="msg"><line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y1 + 10:.1f}" '
            f'stroke="{_colour(send.action)}" stroke-dasharray="1 3" stroke-width="2"/>'
            f'<circle cx="{x2:.1f}" cy="{y1 + 10:.1f}" r="2.5" fill="#fff" '
            f'stroke="{_colour(send.action)}"/>'
            + _title(send, "\n(not delivered when the run ended)")
            + "</g>"
        )

    def mark(self, step: Step, cy: float) -> None:
        if step.kind == "receive" and step.message is None:
            self.notice(step, cy)
        elif step.kind == "trace":
            self.dot(step, cy)
        elif step.kind == "client":
            self.client(step, cy)
        elif step.kind == "fault":
            self.fault(step, cy)
        elif step.kind == "violation":
            self.violation(step, cy)

    def notice(self, step: Step, cy: float) -> None:
        """A connection event with no message (the peer unreachable, a disconnect)."""
        x = self.x(step.node)
        peer = f" \u2190 {step.peer}" if step.peer is not None else ""
        self.out.append(
            f'<g class="mark"><circle cx="{x}" cy="{cy}" r="3.5" fill="#fff" stroke="#888" '
            'stroke-width="1.5"/>'
            + _t(f"{step.action}{peer}", x + 7, cy + 3, "lbl", font_size="9", fill="#777")
            + _title(step)
            + "</g>"
        )

    def dot(self, step: Step, cy: float) -> None:
        x = self.x(step.node)
        room = LABEL_CHARS - len(step.action)  # keep clear of the next column's labels
        state = _short(step.state, room) if room >= 5 else ""
        self.out.append(
            f'<g class="mark"><circle cx="{x}" cy="{cy}" r="4" fill="#34495e"/>'
            f'<text x="{x + 7}" y="{cy + 3.5:.1f}" class="lbl" font-size="10" fill="#222">'
            f"{escape(_short(step.action, LABEL_CHARS))} "
            f'<tspan fill="#777" font-size="9">{escape(state)}</tspan>'
            "</text>" + _title(step) + "</g>"
        )

    def client(self, step: Step, cy: float) -> None:
        x = self.x(step.node)
        self.out.append(
            f'<g class="mark"><path d="M{x} {cy - 6} L{x + 6} {cy} L{x} {cy + 6} L{x - 6} {cy} Z" '
            'fill="#16a085"/>'
            + _t(
                _short(step.action, 24),
                x + 9,
                cy + 4,
                "lbl",
                font_size="10",
                fill="#0e6655",
                font_weight="600",
            )
            + _title(step)
            + "</g>"
        )

    def fault(self, step: Step, cy: float) -> None:
        name = fault_name(step)
        fill = FAULT_FILL.get(BAND_OF.get(name, ""), "#666666")
        label = _short(f"{step.action} {step.state}".strip(), 36)
        w = 14 + 7.0 * len(label)
        if step.node == WORLD or step.node not in self.cols:
            xs = [x for x, _ in self.cols.values()]
            x = (min(xs) + max(xs)) / 2 if xs else GUTTER + COL / 2
        else:
            x = self.x(step.node)
        x = max(x, GUTTER + 2 + w / 2)  # a long label on the first column stays off the gutter
        self.out.append(
            f'<g class="mark"><rect x="{x - w / 2:.1f}" y="{cy - 9}" width="{w:.1f}" '
            f'height="18" rx="4" fill="{fill}"/>'
            + _t(
                label,
                x,
                cy + 4,
                text_anchor="middle",
                fill="#fff",
                font_size="11",
                font_weight="600",
            )
            + _title(step)
            + "</g>"
        )

    def violation(self, step: Step, cy: float) -> None:
        """The invariant's name in a red box, its details below, a red ring on its node."""
        label = f"\u2716 {step.action}"
        w = 16 + 8.6 * len(label)
        x, top = GUTTER + 6, cy - 8
        ring = ""
        if step.node in self.cols:
            ring = (
                f'<circle cx="{self.x(step.node)}" cy="{top}" r="9" fill="none" '
                f'stroke="{VIOLATION}" stroke-width="3"/>'
            )
        self.out.append(
            f'<g class="mark"><rect x="{x}" y="{top - 11}" width="{w:.1f}" height="22" rx="4" '
            f'fill="{VIOLATION}"/>'
            + _t(label, x + 8, top + 5, fill="#fff", font_size="13", font_weight="700")
            + ring
            + _t(_short(step.state, 120), x + 2, cy + 16, "vlbl", fill="#8b0000", font_size="11")
            + _title(step)
            + "</g>"
        )


def _head(x1: float, y1: float, x2: float, y2: float, colour: str) -> str:
    """A filled arrowhead at (x2, y2) pointing along the line."""
    dx, dy = x2 - x1, y2 - y1
    n = max((dx * dx + dy * dy) ** 0.5, 1e-9)
    ux, uy = dx / n, dy / n
    bx, by = x2 - 8 * ux, y2 - 8 * uy
    px, py = -uy * 3.5, ux * 3.5
    return (
        f'<path d="M{x2:.1f} {y2:.1f} L{bx + px:.1f} {by + py:.1f} '
        f'L{bx - px:.1f} {by - py:.1f} Z" fill="{colour}"/>'
    )


def _cross(x: float, y: float) -> str:
    r = 5
    return (
        f'<path d="M{x - r:.1f} {y - r:.1f} L{x + r:.1f} {y + r:.1f} M{x - r:.1f} {y + r:.1f} '
        f'L{x + r:.1f} {y - r:.1f}" stroke="{DROP}" stroke-width="2.5"/>'
    )


def _header(cols: dict[int, tuple[float, str]], width: int) -> str:
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="30">']
    parts.append(_t("ms", 74, 19, text_anchor="end", fill="#777", font_size="11"))
    parts.append(_t("step", GUTTER - 6, 19, text_anchor="end", fill="#777", font_size="11"))
    for node, (x, label) in cols.items():
        colour = "#6b4c9a" if node == 0 else "#1f5f8b" if node < 100 else "#0e6655"
        parts.append(
            f'<rect x="{x - 62}" y="4" width="124" height="22" rx="11" fill="{colour}"/>'
            + _t(
                _short(label, 18),
                x,
                19.5,
                text_anchor="middle",
                fill="#fff",
                font_size="12",
                font_weight="600",
            )
        )
    parts.append("</svg>")
    return "".join(parts)


def _legend(steps: Sequence[Step]) -> str:
    def item(icon: str, text: str) -> str:
        svg = f'<svg width="34" height="14" viewBox="0 0 34 14">{icon}</svg>'
        return f"<span>{svg}{escape(text)}</span>"

    grey = "#555"
    items = [
        item(
            f'<line x1="2" y1="7" x2="26" y2="7" stroke="{grey}" stroke-width="1.5"/>'
            + _head(2, 7, 32, 7, grey),
            "request",
        ),
        item(
            f'<line x1="2" y1="7" x2="26" y2="7" stroke="{grey}" stroke-width="1.5" '
            f'stroke-dasharray="5 3"/>' + _head(2, 7, 32, 7, grey),
            "response",
        ),
        item(
            f'<line x1="2" y1="7" x2="22" y2="7" stroke="{grey}" stroke-width="1.5"/>'
            + _cross(24, 7),
            "dropped",
        ),
        item(
            f'<line x1="2" y1="7" x2="24" y2="7" stroke="{grey}" stroke-dasharray="1 3" '
            f'stroke-width="2"/><circle cx="26" cy="7" r="2.5" fill="#fff" stroke="{grey}"/>',
            "not delivered",
        ),
        item('<circle cx="17" cy="7" r="4" fill="#34495e"/>', "trace event"),
        item('<path d="M17 1 L23 7 L17 13 L11 7 Z" fill="#16a085"/>', "client op"),
        item('<rect x="2" y="1" width="30" height="12" rx="3" fill="#555"/>', "fault"),
        item(
            '<rect x="2" y="1" width="30" height="12" fill="url(#down)" stroke="#ccc"/>',
            "down",
        ),
        item(f'<rect x="2" y="1" width="30" height="12" fill="{BAND_FILL["paused"]}"/>', "paused"),
        item(
            f'<rect x="2" y="1" width="30" height="12" fill="{BAND_FILL["cut"]}"/>', "partitioned"
        ),
        item(f'<rect x="2" y="1" width="30" height="12" fill="{BAND_FILL["disk"]}"/>', "disk full"),
        item(
            f'<rect x="2" y="1" width="30" height="12" rx="3" fill="{VIOLATION}"/>',
            "invariant violated",
        ),
    ]
    apis = sorted({s.action.split(" ", 1)[0] for s in steps if s.kind == "send" and s.action})
    items += [
        item(f'<line x1="2" y1="7" x2="32" y2="7" stroke="{_colour(a)}" stroke-width="3"/>', a)
        for a in apis
    ]
    return f'<div class="legend">{"".join(items)}</div>'
