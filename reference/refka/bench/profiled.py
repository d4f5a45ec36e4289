"""``python -m refka.bench.profiled OUT_PREFIX broker ARGS...``: the refka broker under
pyinstrument. On a clean exit (SIGTERM) it writes OUT_PREFIX.txt (the call tree),
OUT_PREFIX.html (pyinstrument's interactive view) and OUT_PREFIX.top.txt (functions ranked by
own time and by time including callees), so the next optimisation is chosen from data.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

TOP_FUNCTIONS = 30


def _name(frame: Any) -> str:
    return f"{frame.function} ({frame.file_path_short}:{frame.line_no})"


def top_functions(root: Any, limit: int = TOP_FUNCTIONS) -> str:
    """Functions ranked by own time and by inclusive time (each stack counted once)."""
    own: dict[str, float] = defaultdict(float)
    inclusive: dict[str, float] = defaultdict(float)
    stack: list[tuple[Any, frozenset[str]]] = [(root, frozenset())]
    while stack:
        frame, above = stack.pop()
        name = _name(frame)
        # pyinstrument puts a function's own time (C calls included) in synthetic "[self]"
        # children; count it as the function's own.
        real = [child for child in frame.children if not child.is_synthetic]
        own[name] += frame.time - sum(child.time for child in real)
        if name not in above:
            inclusive[name] += frame.time
        stack.extend((child, above | {name}) for child in real)
    total = root.time or 1.0
    lines = [f"total sampled wall time {root.time:.2f} s (idle time shows as select/poll)", ""]
    for title, table in (("own time", own), ("inclusive time", inclusive)):
        lines.append(f"top {limit} functions by {title}:")
        ranked = sorted(table.items(), key=lambda item: item[1], reverse=True)[:limit]
        lines += [f"  {t:8.3f} s {100 * t / total:5.1f}%  {name}" for name, t in ranked]
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    from pyinstrument import Profiler

    out_prefix, rest = Path(argv[0]), argv[1:]
    out_prefix.parent.mkdir(parents=True, exist_ok=True)
    profiler = Profiler(interval=0.001, async_mode="disabled")
    profiler.start()
    try:
        from refka.cli import main as refka_main

        code = refka_main(rest)
    finally:
        session = profiler.stop()
        text = profiler.output_text(unicode=True, color=False, show_all=False)
        Path(f"{out_prefix}.txt").write_text(text)
        Path(f"{out_prefix}.html").write_text(profiler.output_html())
        root = session.root_frame()
        if root is not None:
            Path(f"{out_prefix}.top.txt").write_text(top_functions(root))
    return code


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
