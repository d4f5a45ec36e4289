"""CRC-32C (Castagnoli), the checksum of a record batch (KIP-98), from the ``crc32c`` package's
extension module.

The package's ``__init__`` looks its own version up through ``importlib.metadata``, which
imports the ``email`` package: about 9 ms of the broker's start (issue 15). The extension is
loaded here from the package's directory without running that ``__init__``; where it cannot
be, the package is imported as usual.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.machinery import PathFinder
from importlib.util import find_spec, module_from_spec
from typing import Any


def _extension_crc32c() -> Callable[[Any], int]:
    package = find_spec("crc32c")  # a top-level spec: found, not imported
    locations = package.submodule_search_locations if package is not None else None
    spec = PathFinder.find_spec("crc32c._crc32c", list(locations or []))
    if spec is None or spec.loader is None:
        raise ImportError("crc32c._crc32c not found")
    module = module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.crc32c  # type: ignore[no-any-return]


try:
    crc32c = _extension_crc32c()
except ImportError:
    import crc32c as _package

    crc32c = _package.crc32c
