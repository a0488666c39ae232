"""The embedded MongoDB-wire server (SecantusDB) for running Warden locally.

Outside production, with no ``MONGODB_URI``, ``warden serve`` starts one
SecantusDB process with its data in ``var/db`` and records its address in
``var/embedded.json``; other ``warden`` commands reuse it while it runs, or start
one for their own duration. SecantusDB allows one process per storage path.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from pymongo import MongoClient
from pymongo.errors import PyMongoError

from core.settings import ConfigError, Settings

START_TIMEOUT = 30.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ping(uri: str, timeout_ms: int = 1000) -> bool:
    client: MongoClient = MongoClient(uri, serverSelectionTimeoutMS=timeout_ms, connectTimeoutMS=timeout_ms)
    try:
        client.admin.command("ping")
        return True
    except PyMongoError:
        return False
    finally:
        client.close()


class EmbeddedServer:
    def __init__(self, var_dir: str | Path) -> None:
        self.var_dir = Path(var_dir)
        self.state_file = self.var_dir / "embedded.json"
        self.process: subprocess.Popen[bytes] | None = None
        self.uri: str | None = None

    def running_uri(self) -> str | None:
        try:
            state = json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return None
        uri = state.get("uri")
        return uri if uri and ping(uri) else None

    def start(self) -> str:
        try:
            import secantus  # noqa: F401
        except ImportError as ex:
            raise ConfigError(
                "No MONGODB_URI and the embedded server is not installed: pip install -e '.[embedded]'"
            ) from ex
        self.var_dir.mkdir(parents=True, exist_ok=True)
        port = _free_port()
        log = open(self.var_dir / "embedded.log", "ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "secantus",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--storage-path",
                str(self.var_dir / "db"),
                "--log-level",
                "WARNING",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        uri = f"mongodb://127.0.0.1:{port}/"
        deadline = time.monotonic() + START_TIMEOUT
        while not ping(uri, 300):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise ConfigError(f"the embedded database did not start; see {self.var_dir / 'embedded.log'}")
            time.sleep(0.1)
        self.uri = uri
        self.state_file.write_text(json.dumps({"uri": uri, "pid": self.process.pid}))
        return uri

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        with contextlib.suppress(OSError):
            if json.loads(self.state_file.read_text()).get("pid") == process.pid:
                os.unlink(self.state_file)


@contextlib.contextmanager
def database_uri(settings: Settings) -> Iterator[str]:
    """The URI to use: MONGODB_URI, else a running embedded server, else a temporary one."""
    if settings.mongodb_uri:
        yield settings.mongodb_uri
        return
    if settings.production:
        raise ConfigError("MONGODB_URI is required in production")
    server = EmbeddedServer(settings.var_dir)
    running = server.running_uri()
    if running:
        yield running
        return
    uri = server.start()
    try:
        yield uri
    finally:
        server.stop()
