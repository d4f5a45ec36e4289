from __future__ import annotations

from pathlib import Path

import pytest

from tests.security.certs import Certs, make_certs


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    """One certificate authority and its certificates for the session's TLS tests."""
    return make_certs(Path(tmp_path_factory.mktemp("certs")))
