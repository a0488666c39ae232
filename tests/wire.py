"""One SecantusDB server for the whole test session (real MongoDB wire protocol).

Tests that need a database over the wire take the ``wire_uri`` fixture and use
a database name of their own, so they never see each other's data.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator

import pytest
from pymongo import MongoClient


@pytest.fixture(scope="session")
def wire_uri() -> Iterator[str]:
    secantus = pytest.importorskip("secantus", reason="SecantusDB not installed: pip install -e '.[test]'")
    with tempfile.TemporaryDirectory(prefix="warden-wire-") as path:
        with secantus.SecantusDBServer(storage_path=path, port=0) as server:
            yield server.uri


@pytest.fixture
def wire_db_name() -> str:
    return "t_" + uuid.uuid4().hex[:12]


@pytest.fixture
def wire_client(wire_uri: str) -> Iterator[MongoClient]:
    client: MongoClient = MongoClient(wire_uri, tz_aware=True)
    yield client
    client.close()
