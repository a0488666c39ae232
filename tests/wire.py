"""One SecantusDB server for the whole test session (real MongoDB wire protocol).

It runs as its own process, as in production (an in-process server would share
the test's GIL and distort every concurrency test). Tests that need a database
over the wire take ``wire_uri`` and use a database name of their own.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator

import pytest
from pymongo import MongoClient


@pytest.fixture(scope="session")
def wire_uri() -> Iterator[str]:
    pytest.importorskip("secantus", reason="SecantusDB not installed: pip install -e '.[test]'")
    from cli.embedded import EmbeddedServer

    with tempfile.TemporaryDirectory(prefix="warden-wire-") as path:
        server = EmbeddedServer(path)
        try:
            yield server.start()
        finally:
            server.stop()


@pytest.fixture
def wire_db_name() -> str:
    return "t_" + uuid.uuid4().hex[:12]


@pytest.fixture
def wire_client(wire_uri: str) -> Iterator[MongoClient]:
    client: MongoClient = MongoClient(wire_uri, tz_aware=True)
    yield client
    client.close()
