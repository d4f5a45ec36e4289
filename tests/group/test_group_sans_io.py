"""refka.group is sans-I/O: it imports no clock, socket, thread, event loop or global random."""

from __future__ import annotations

import ast
from pathlib import Path

import refka.group

FORBIDDEN = {"asyncio", "socket", "selectors", "threading", "time", "random"}


def test_group_package_imports_no_io() -> None:
    package = Path(refka.group.__file__).parent
    for path in sorted(package.glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                node.body = []
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in FORBIDDEN, f"{path.name} imports {name}"
