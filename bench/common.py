"""Shared bench plumbing: a server to run against, machine facts, timing, tables."""

from __future__ import annotations

import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def server_uri() -> Iterator[tuple[str, str]]:
    """MONGODB_URI if set, else a fresh embedded SecantusDB in a temp dir (its own process)."""
    if os.environ.get("MONGODB_URI"):
        yield os.environ["MONGODB_URI"], "MONGODB_URI"
        return
    from cli.embedded import EmbeddedServer

    with tempfile.TemporaryDirectory(prefix="warden-bench-") as path:
        server = EmbeddedServer(path)
        try:
            yield server.start(), "embedded SecantusDB (separate process)"
        finally:
            server.stop()


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"


def timed(func: Callable[[], object]) -> float:
    started = time.perf_counter()
    func()
    return time.perf_counter() - started


def median_of(runs: int, func: Callable[[], float]) -> float:
    return statistics.median(func() for _ in range(runs))


def table(rows: list[tuple[str, ...]], header: tuple[str, ...]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = "  ".join("{:<" + str(w) + "}" for w in widths)
    out = [line.format(*header), line.format(*("-" * w for w in widths))]
    out += [line.format(*map(str, r)) for r in rows]
    return "\n".join(out)
