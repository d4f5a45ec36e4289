"""``refka.trace_merge``: per-node traces of one run merged in an order consistent with the
messages, then validated (``refka spec validate --merge``). A simulated run split into its
nodes' files and merged back (in an order different from the simulator's) is accepted; the
same files merged by file position alone are not a behaviour."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from refka.core import trace as ev
from refka.sim.schedule import Schedule
from refka.spec_check import default_spec_dir
from refka.spec_trace import TraceError, read_trace, replication_steps
from refka.spec_validate import validate
from refka.trace_merge import MergeError, merge, read_node_traces
from test_trace_validation import JAR, JAVA, SCHEDULES, needs_tlc, replayed, simulated_trace

T = "sim"


def node_files(trace: Path, out: Path) -> list[Path]:
    """The simulator's one trace as the server writes it: one file a node, ``<node> repr``."""
    by_node: dict[int, list[str]] = {}
    for line in trace.read_text().splitlines():
        by_node.setdefault(ev.parse(line).node, []).append(f"{ev.parse(line).node} {line}")
    paths = []
    for node, lines in sorted(by_node.items()):
        path = out / f"node-{node}.trace"
        path.write_text("\n".join(lines) + "\n")
        paths.append(path)
    return paths


def write(path: Path, events: list[ev.TraceEvent]) -> Path:
    path.write_text("".join(f"{e.node} {e!r}\n" for e in events))
    return path


ELECT = ev.ElectLeader(0, T, 0, leader=1, leader_epoch=0, partition_epoch=0, isr=(1, 2),
                       elr=(), unclean=False)  # fmt: skip
LEAD = ev.BecomeLeader(1, T, 0, leader_epoch=0, partition_epoch=0, isr=(1, 2), log_end_offset=0,
                       high_watermark=0)  # fmt: skip
FOLLOW = ev.BecomeFollower(2, T, 0, leader=1, leader_epoch=0, truncation_offset=0,
                           high_watermark=0)  # fmt: skip
APPEND = ev.LeaderAppend(1, T, 0, leader_epoch=0, offset=0, log_end_offset=2)


def fetch(offset: int, end: int, hw: int) -> ev.FollowerFetch:
    return ev.FollowerFetch(2, T, 0, leader=1, leader_epoch=0, offset=offset,
                            epochs=(0,) * (end - offset), log_end_offset=end,
                            high_watermark=hw)  # fmt: skip


def advance(before: int, hw: int) -> ev.AdvanceHighWatermark:
    return ev.AdvanceHighWatermark(1, T, 0, leader_epoch=0, previous_high_watermark=before,
                                   high_watermark=hw, isr=(1, 2))  # fmt: skip


FETCH = fetch(0, 2, 0)
ADVANCE = advance(0, 2)


def test_a_fetch_follows_the_append_it_fetched_and_the_hw_the_fetch_reported(
    tmp_path: Path,
) -> None:
    """The follower's file is much shorter, so by position alone its fetch would come before
    the leader's append; the merge puts each event after what it learned by a message."""
    leader = write(tmp_path / "1", [LEAD, APPEND, ADVANCE])
    follower = write(tmp_path / "2", [FOLLOW, FETCH])
    controller = write(tmp_path / "0", [ELECT])
    merged = merge(read_node_traces([follower, leader, controller]))
    order = [merged.index(e) for e in (ELECT, LEAD, FOLLOW, APPEND, FETCH, ADVANCE)]
    assert order == sorted(order), merged


def test_an_hw_that_no_follower_reached_cannot_be_ordered(tmp_path: Path) -> None:
    """A leader's HW above what its follower fetched, and a follower fetch showing that HW:
    each needs the other first (a cycle), which no run can produce."""
    write(tmp_path / "1", [LEAD, APPEND, advance(0, 1)])
    write(tmp_path / "2", [FOLLOW, fetch(0, 1, 1)])
    write(tmp_path / "0", [ELECT])
    with pytest.raises(MergeError, match="no order"):
        merge(read_node_traces([tmp_path / "0", tmp_path / "1", tmp_path / "2"]))


def test_a_killed_nodes_cut_last_line_is_dropped_and_a_shared_file_is_split(
    tmp_path: Path,
) -> None:
    shared = tmp_path / "shared"
    shared.write_text(f"0 {ELECT!r}\n1 {LEAD!r}\n2 {FOLLOW!r}\n1 {APPEND!r}\n2 Follower")
    traces = read_node_traces([shared])
    assert traces.events == {0: [ELECT], 1: [LEAD, APPEND], 2: [FOLLOW]}
    with pytest.raises(MergeError, match="node 0's events are in"):
        read_node_traces([shared, write(tmp_path / "0", [ELECT])])


def test_a_restarted_broker_acts_after_its_registration(tmp_path: Path) -> None:
    """Broker 2's second start (after ``# start``) comes after the controller registered it
    again, however early it sits in broker 2's file."""
    again = ev.RegisterBroker(0, broker=2, broker_epoch=9, clean_shutdown=False, partitions=())
    first = ev.RegisterBroker(0, broker=2, broker_epoch=3, clean_shutdown=True, partitions=())
    (tmp_path / "2").write_text(f"2 # start\n2 {FOLLOW!r}\n2 Follower2 # start\n2 {FOLLOW!r}\n")
    write(tmp_path / "0", [first, ELECT, *[ELECT] * 20, again])
    write(tmp_path / "1", [LEAD])
    traces = read_node_traces([tmp_path / n for n in "012"])
    assert traces.starts[2] == [0, 1] and traces.events[2] == [FOLLOW, FOLLOW]
    merged = merge(traces)
    assert merged.index(first) < merged.index(FOLLOW) and merged[-1] == FOLLOW
    assert merged[-2] == again


def test_the_hw_moves_before_a_follower_passes_the_offset_the_leader_knew(
    tmp_path: Path,
) -> None:
    """The leader knew follower 3 at offset 1 (``log_end_offsets``) when its HW moved to 1:
    follower 3's fetch of record 1, early in its file, comes after the HW step (the spec's
    HW is the smallest log end offset at that step), and its fetch of record 0 before."""
    lead = replace(LEAD, isr=(1, 2, 3))
    first, second = (ev.LeaderAppend(1, T, 0, 0, o, o + 1) for o in (0, 1))
    to_one = ev.AdvanceHighWatermark(1, T, 0, 0, 0, 1, (1, 2, 3), (2, 2, 1))
    three = [replace(fetch(o, o + 1, 0), node=3) for o in (0, 1)]
    write(tmp_path / "1", [lead, first, second, to_one])
    write(tmp_path / "2", [FOLLOW, fetch(0, 2, 0)])
    write(tmp_path / "3", [replace(FOLLOW, node=3), *three])
    write(tmp_path / "0", [replace(ELECT, isr=(1, 2, 3))])
    merged = merge(read_node_traces([tmp_path / n for n in "0123"]))
    assert merged.index(three[0]) < merged.index(to_one) < merged.index(three[1]), merged


@pytest.fixture(scope="module")
def split_run(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    tmp = tmp_path_factory.mktemp("split")
    return node_files(simulated_trace(tmp / "sim.trace"), tmp)


def test_the_merge_of_a_split_run_reorders_it(split_run: list[Path]) -> None:
    original = read_trace((split_run[0].parent / "sim.trace").read_text().splitlines())
    merged = merge(read_node_traces(split_run))
    assert sorted(map(repr, merged)) == sorted(map(repr, original))
    assert merged != original  # the nodes' files hold no global order to copy
    traces = read_node_traces(split_run)
    by_position = [traces.events[n][i] for _, n, i in
                   sorted((r, n, i) for (n, i), r in traces.rank.items())]  # fmt: skip
    with pytest.raises(TraceError, match="acts before its first election"):
        replication_steps(by_position)  # without the messages' order, not even a trace


@needs_tlc
def test_a_simulated_run_split_into_node_files_is_accepted_once_merged(
    split_run: list[Path], tmp_path: Path
) -> None:
    out = tmp_path / "merged.trace"
    args = ["spec", "validate", "--merge", "--merged", str(out), *map(str, split_run)]
    run = subprocess.run([sys.executable, "-m", "refka", *args], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1/1 traces accepted" in run.stdout and "steps/s" in run.stdout
    assert f"merged {len(split_run)} files" in run.stdout and out.exists()


def bug_trace(bug: str, path: Path) -> Path:
    if bug in ("TruncateToHighWatermark", "AckBeforeIsr"):
        return simulated_trace(path, (bug,))
    return replayed(Schedule.read(SCHEDULES / f"{bug}.json"), path)[0]


@needs_tlc
@pytest.mark.parametrize(
    ("bug", "action"),
    [
        ("TruncateToHighWatermark", "BecomeFollower"),
        ("AckBeforeIsr", "AcknowledgeProduce"),
        ("FastLeaderChange", "BecomeFollower"),
        ("StaleEpochFetch", "FollowerFetch"),
    ],
)
def test_a_bugs_run_split_into_node_files_is_still_rejected_once_merged(
    bug: str, action: str, tmp_path: Path
) -> None:
    """The merge does not launder a bug: its reordering of concurrent events leaves the
    step that breaks the spec unmatched, as in the simulator's own order."""
    files = node_files(bug_trace(bug, tmp_path / "bug.trace"), tmp_path)
    merged = tmp_path / "merged.trace"
    merged.write_text("".join(repr(e) + "\n" for e in merge(read_node_traces(files))))
    assert JAVA is not None and JAR is not None
    verdict = validate(str(merged), default_spec_dir(), JAVA, JAR)
    assert not verdict.accepted and verdict.step is not None, "\n".join(verdict.lines())
    assert verdict.step.action == action
