"""The space-time diagram: the page's content, its compression of long runs, and a screenshot.

The screenshot tests render the page with headless Chromium (installed by scripts/ensure-peers)
and read the PNG back with Pillow (a dependency of the dev extra's matplotlib).
"""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from pathlib import Path

import pytest
from refka.sim.draw import VIOLATION, draw_html
from refka.sim.spacetime import bands, layout
from refka.sim.timeline import WORLD, Step
from timeline_story import Script, story

WINDOW = (1040, 1100)


def test_page_is_self_contained_and_escaped() -> None:
    page = draw_html(story(), 'seed 7 <&> "quoted"')
    assert "<script" not in page
    assert "href=" not in page and "src=" not in page and "@import" not in page
    assert "seed 7 &lt;&amp;&gt; &quot;quoted&quot;" in page
    assert "poll ok: nothing &lt;&amp;&gt;" in page
    assert "nothing <&>" not in page


def test_every_node_gets_a_labelled_column() -> None:
    page = draw_html(story(), "t", nodes={3: "broker 3 (lagging)"})
    for label in ("controller 0", "broker 1", "broker 2", "broker 3 (lagging)", "client 100"):
        assert f">{label}</text>" in page


def test_violation_is_drawn_in_red_with_its_invariant() -> None:
    page = draw_html(story(), "t")
    assert f'fill="{VIOLATION}"' in page and "\u2716 LeaderCompleteness" in page
    clean = draw_html(story(violation=False), "t")
    assert "LeaderCompleteness" not in clean
    assert f'fill="{VIOLATION}"/></svg>' in clean  # in the legend only
    assert clean.count(VIOLATION) == 1


def test_partial_timelines_still_draw() -> None:
    assert "No steps." in draw_html([], "empty")
    orphan = [
        Step(0, 5, 1, "receive", "Fetch v17 response", peer=2, message=7),  # its send is missing
        Step(1, 6, 2, "send", "Fetch v17 request", peer=1, message=8),  # never delivered
        Step(2, 7, 3, "drop", "Fetch v17 request", peer=1, message=9),  # its send is missing
    ]
    page = draw_html(orphan, "partial")
    assert "(not delivered when the run ended)" in page
    assert page.count('<g class="msg">') == 3


def test_same_steps_same_bytes() -> None:
    assert draw_html(story(), "t") == draw_html(story(), "t")


def test_repeated_round_trips_are_collapsed_between_interesting_steps() -> None:
    s = Script()
    for i in range(1000):
        s.call(1, 0, "BrokerHeartbeat v1", ms=1)
        s.call(2, 1, "Fetch v17", ms=1)
        if i % 250 == 249:
            s.trace(1, "AdvanceHW", f"HW={i}")
        s.tick(100)
    lay = layout(s.steps)
    assert len(lay.row_of) < 50, len(lay.row_of)
    assert lay.elided == 4000 - 4 * 4  # one of each of the four messages per stretch is drawn
    assert "repeats not drawn: BrokerHeartbeat 1\u21920 \u00d7" in lay.rows[-1].note
    full = layout(s.steps, collapse=False)
    assert len(full.row_of) == len(s.steps)


def test_a_dropped_message_is_drawn_even_when_repeated() -> None:
    s = Script()
    for _ in range(3):
        s.call(2, 1, "Fetch v17", ms=1)
    lost = s.send(2, 1, "Fetch v17 request")
    s.tick(1)
    s.drop(lost)
    lay = layout(s.steps)
    drawn = {s.steps[i].kind for i in lay.row_of}
    assert "drop" in drawn
    assert any(s.steps[i].message == lost and s.steps[i].kind == "send" for i in lay.row_of)


def test_a_message_the_network_delayed_is_drawn_even_when_repeated() -> None:
    s = Script()
    for _ in range(3):
        s.call(2, 1, "Fetch v17", ms=1)
    late = s.send(2, 1, "Fetch v17 request")
    s.steps[-1] = dataclasses.replace(s.steps[-1], state="delayed 700 ms")
    s.tick(700)
    s.receive(late)
    lay = layout(s.steps)
    assert lay.row_of.keys() >= {len(s.steps) - 2, len(s.steps) - 1}
    assert "Fetch (delayed 700 ms)" in draw_html(s.steps, "t")


def test_a_row_never_holds_a_message_and_its_receipt() -> None:
    lay = layout(story(), collapse=False)
    for row in lay.rows:
        sent = {s.message for s in row.steps if s.kind == "send"}
        assert not any(s.kind == "receive" and s.message in sent for s in row.steps)
        assert len({s.node for s in row.steps}) == len(row.steps)


def test_faults_pair_into_bands() -> None:
    faults = [s for s in story() if s.kind == "fault"]
    got = {(b.kind, b.node, b.start.action, b.end.action if b.end else None) for b in bands(faults)}
    assert got == {
        ("cut", WORLD, "partition", "heal"),
        ("down", 1, "crash", "restart"),
        ("paused", 2, "pause", "resume"),
    }


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("chromium is not installed (scripts/ensure-peers installs it as root on Debian)")


def _screenshot(html: str, tmp_path: Path, name: str) -> Path:
    page, png = tmp_path / f"{name}.html", tmp_path / f"{name}.png"
    page.write_text(html, encoding="utf-8")
    command = [
        _chromium(),
        "--headless",
        "--no-sandbox",  # as root in a container; the page is our own file
        "--disable-gpu",
        "--hide-scrollbars",
        f"--user-data-dir={tmp_path / 'profile'}",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
        f"--screenshot={png}",
        page.as_uri(),
    ]
    subprocess.run(command, capture_output=True, timeout=120, check=False)
    assert png.exists(), f"chromium wrote no screenshot: {' '.join(command)}"
    return png


def _pixels(png: Path) -> tuple[tuple[int, int], list[tuple[int, int, int]]]:
    image = pytest.importorskip("PIL.Image").open(png).convert("RGB")
    data = image.tobytes()
    return image.size, list(zip(data[0::3], data[1::3], data[2::3], strict=True))


def _near(colour: tuple[int, int, int], hex_colour: str, tolerance: int = 10) -> bool:
    want = (int(hex_colour[1:3], 16), int(hex_colour[3:5], 16), int(hex_colour[5:7], 16))
    return all(abs(a - b) <= tolerance for a, b in zip(colour, want, strict=True))


def test_screenshot_shows_the_diagram_and_the_violation_in_red(tmp_path: Path) -> None:
    png = _screenshot(draw_html(story(), "seed 42: lost acknowledged record"), tmp_path, "run")
    size, pixels = _pixels(png)
    assert size == WINDOW
    assert len(set(pixels)) > 100  # text, arrows, bands: far from blank
    white = sum(1 for p in pixels if p == (255, 255, 255))
    assert white < 0.95 * len(pixels)
    red = sum(1 for p in pixels if _near(p, VIOLATION))
    assert red > 1000, red  # the violation's label box (the legend's swatch is ~300 px)


def test_screenshot_without_violation_has_only_the_legends_red(tmp_path: Path) -> None:
    png = _screenshot(draw_html(story(violation=False), "clean run"), tmp_path, "clean")
    _, pixels = _pixels(png)
    red = sum(1 for p in pixels if _near(p, VIOLATION))
    assert 0 < red < 600, red


def test_screenshot_of_a_real_simulated_run(tmp_path: Path) -> None:
    world = pytest.importorskip("refka.sim.world", reason="refka.sim.world is not on main yet")
    cluster = world.SimCluster(seed=1, brokers=3, trace=True)
    cluster.start()
    cluster.run_for(1_000)
    cluster.crash(2)
    cluster.partition([(1, 3), (3, 1)])
    cluster.run_for(2_000)
    cluster.heal()
    cluster.restart(2)
    cluster.run_for(2_000)
    steps: list[Step] = list(cluster.steps)
    page = draw_html(steps, "seed 1: a broker crashes during a partition")
    assert "broker 3" in page and ">crash" in page and ">restart<" in page
    # heartbeats and idle fetches collapse (the note: see test_repeated_round_trips_...)
    assert layout(steps).elided > 20
    png = _screenshot(page, tmp_path, "real")
    size, pixels = _pixels(png)
    assert size == WINDOW and len(set(pixels)) > 50
    assert not any(_near(p, VIOLATION) for p in pixels[WINDOW[0] * 200 :])  # below the legend
