"""A bytecode cache for the methods ``dataclasses`` generates, kept beside refka's own.

CPython caches a module's bytecode in ``__pycache__`` but compiles the ``__init__``,
``__repr__``, ``__eq__``, ``__hash__``, ``__setattr__`` and ``__delattr__`` that ``@dataclass``
generates from source every time the class is created. A broker's start creates ~100 dataclasses
(refka's events, effects and records, kio's request and response entities), ~550 compiles: a
third of its CPU, the largest single cost of a ``refka broker`` start (issue 15).

``install()`` gives ``dataclasses`` an ``exec`` that looks the compiled code up by its source
text, so the methods are the ones ``dataclasses`` would build, compiled once per interpreter
version. A broker calls ``save()`` once it is ready: the methods its start used go to
``refka/__pycache__/dataclass-methods.<cache tag>.marshal``, atomically, unless the process
writes no bytecode (``PYTHONDONTWRITEBYTECODE``). The file holds start paths only (every start
reads it whole; the classes of later requests are built once per process and stay out), and
starts over beyond ``MAX_ENTRIES``. A missing, stale or damaged file costs only the compiles
it would have saved. Only ``refka broker`` processes install it (and the fork server they are
forked from); a test process that runs a broker in-process keeps its ``dataclasses``
untouched. The fork server keeps the methods of its warm-up (the modules a broker imports only
on first use) apart, in ``WARM_PATH``, which no broker's start reads.
"""

from __future__ import annotations

import contextlib
import dataclasses
import marshal
import os
import sys
from importlib.util import MAGIC_NUMBER
from types import CodeType
from typing import Any

MAX_ENTRIES = 1024  # a broker's start uses ~530: beyond this, the file starts over
PATH = os.path.join(
    os.path.dirname(__file__),
    "__pycache__",
    f"dataclass-methods.{sys.implementation.cache_tag}.marshal",
)  # os.path, not pathlib: pathlib is not among a broker's start imports
WARM_PATH = os.path.join(
    os.path.dirname(__file__),
    "__pycache__",
    f"dataclass-methods-warm.{sys.implementation.cache_tag}.marshal",
)

_compiled: dict[str, CodeType] = {}
_used: set[str] = set()  # run by this process
_new: set[str] = set()  # compiled by this process, not yet saved


def _exec(source: Any, globals: Any = None, locals: Any = None) -> None:
    """``exec`` as ``dataclasses`` calls it, with a method's source text."""
    if not isinstance(source, str):
        exec(source, globals, locals)
        return
    code = _compiled.get(source)
    if code is None:
        code = _compiled[source] = compile(source, "<string>", "exec")
        _new.add(source)
    _used.add(source)
    exec(code, globals, locals)


def _load(path: str) -> dict[str, CodeType]:
    try:
        with open(path, "rb") as file:
            data = file.read()
        if data[: len(MAGIC_NUMBER)] != MAGIC_NUMBER:
            return {}
        loaded = marshal.loads(data[len(MAGIC_NUMBER) :])
    except (OSError, EOFError, ValueError, TypeError):
        return {}
    if not isinstance(loaded, dict):
        return {}
    return {k: v for k, v in loaded.items() if isinstance(k, str) and isinstance(v, CodeType)}


def install() -> None:
    """From now on, this process's dataclasses take their methods from the cache."""
    if vars(dataclasses).get("exec") is _exec:
        return
    _compiled.update(_load(PATH))
    dataclasses.exec = _exec  # type: ignore[attr-defined]


def load(path: str) -> None:
    """Add the methods kept at ``path`` (another file than the start's) to this process's."""
    _compiled.update(_load(path))


def save(path: str | None = None) -> None:
    """Add the methods this process has used so far to the file (the start's, unless
    ``path`` names another), if it compiled any of them and writes bytecode."""
    if not _new or sys.dont_write_bytecode:
        return
    path = path or PATH
    entries = _load(path)
    if len(entries.keys() | _used) > MAX_ENTRIES:
        entries = {}
    entries.update((source, _compiled[source]) for source in _used)
    temporary = f"{path}.{os.getpid()}"
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(temporary, "wb") as file:
            file.write(MAGIC_NUMBER + marshal.dumps(entries))
        os.replace(temporary, path)
    except OSError:  # a read-only install: the cache stays in this process
        with contextlib.suppress(OSError):
            os.remove(temporary)
        return
    _new.clear()


def unsaved() -> int:
    """How many methods this process compiled since its last ``save`` or ``forget``."""
    return len(_new)


def forget() -> None:
    """What this process has run so far stays out of the next ``save``: a fork server's, which
    its forked brokers would otherwise save at every start."""
    _used.clear()
    _new.clear()
