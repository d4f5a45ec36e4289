"""The conformance suite against refka: it fails exactly the listed known differences.

Every failure must be listed in conformance/known_differences.toml, and every listed
difference must still fail (a fixed one is removed from the list), so the list cannot rot.
"""

from __future__ import annotations

from pathlib import Path

from refka.peers.refka_broker import running_refka

from conformance.differences import REFKA_PEER_CONFIG, load
from conformance.outcomes import ERROR, FAILED, PASSED
from conformance.runner import run_suite_subprocess


def test_refka_fails_only_known_differences(tmp_path: Path) -> None:
    with running_refka(tmp_path / "refka", **REFKA_PEER_CONFIG) as peer:
        run = run_suite_subprocess(peer.bootstrap, tmp_path / "refka.json", "refka")
    failing = {o.test_id: o.detail for o in run.with_outcome(FAILED, ERROR)}
    known = load()
    unlisted = {test: detail for test, detail in failing.items() if test not in known}
    fixed = sorted(set(known) - set(failing))
    assert not unlisted, "refka fails tests not in known_differences.toml:\n" + "\n".join(
        f"{test}: {detail}" for test, detail in unlisted.items()
    )
    assert not fixed, f"listed differences that now pass (remove them from the list): {fixed}"
    assert run.totals()[PASSED] >= 150
