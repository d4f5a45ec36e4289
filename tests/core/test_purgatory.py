"""The purgatory when a completion appends again: an operation watched during a pass is kept,
and a check made during a pass runs once the pass ends (each operation tried by one pass at a
time, so none completes twice)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from refka.core.purgatory import Purgatory

TP = ("t", 0)
OTHER = ("t", 1)


@dataclass(eq=False)
class Op:
    """Completes once ``ready`` holds; ``then`` runs at completion (a callback that appends)."""

    watched: frozenset[tuple[str, int]]
    ready: Callable[[], bool] = lambda: True
    then: Callable[[], None] = lambda: None
    deadline_ms: int = 1_000
    ctx: None = None
    completions: list[int] = field(default_factory=list)

    def try_complete(self, now_ms: int, force: bool) -> object | None:
        if not (force or self.ready()):
            return None
        self.completions.append(now_ms)
        self.then()
        return True


def test_an_operation_watched_by_a_completion_is_kept() -> None:
    """The completion appends (which checks the purgatory), then waits for its own append to
    be replicated (a transaction's marker written when its prepare record is)."""
    purgatory = Purgatory()
    later = Op(frozenset({OTHER}), ready=lambda: False)

    def append_then_wait() -> None:
        purgatory.check([OTHER], 1)
        purgatory.watch(later)

    purgatory.watch(Op(frozenset({TP}), then=append_then_wait))
    purgatory.check([TP], 1)
    assert purgatory.operations == [later]


def test_a_check_during_a_pass_runs_after_it_and_completes_each_once() -> None:
    purgatory = Purgatory()
    appended = []
    waiting = Op(frozenset({OTHER}), ready=lambda: bool(appended))

    def append() -> None:  # the completion appends to OTHER, which checks the purgatory
        appended.append(OTHER)
        purgatory.check([OTHER], 2)

    first = Op(frozenset({TP}), then=append)
    purgatory.watch(first)
    purgatory.watch(waiting)
    purgatory.check([TP], 2)
    assert first.completions == [2] and waiting.completions == [2]
    assert purgatory.operations == []
