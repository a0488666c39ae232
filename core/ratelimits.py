"""The rate-limit policy table (SPEC §6) and the fixed-window arithmetic. Pure.

Each limit admits ``max`` requests per ``window_seconds`` for one key (an IP, a
normalized email, a user id). ``RATE_LIMITS`` in the environment may tune a limit
(``login=10/900,api=300/60``); ``0`` turns one off, which production refuses.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta


@dataclass(frozen=True)
class Limit:
    name: str
    max: int
    window_seconds: int
    keyed_by: str  # "ip", "email" or "user": what the caller must pass as the key

    @property
    def enabled(self) -> bool:
        return self.max > 0


DEFAULT_LIMITS: dict[str, Limit] = {
    limit.name: limit
    for limit in (
        Limit("login", 5, 15 * 60, "ip"),
        Limit("registration", 10, 60 * 60, "ip"),
        Limit("password_reset", 3, 60 * 60, "email"),
        Limit("api", 100, 60, "user"),
    )
}

MAX_WINDOW_SECONDS = 86400

# (name, max, window_seconds) triples overriding DEFAULT_LIMITS; what Settings carries.
Override = tuple[str, int, int]

# Every limit off: for tests that exercise other behaviour from one address.
UNLIMITED: tuple[Override, ...] = tuple((name, 0, limit.window_seconds) for name, limit in DEFAULT_LIMITS.items())


class PolicyError(ValueError):
    """A RATE_LIMITS entry that cannot be used; the message names it."""


def parse_overrides(text: str) -> tuple[Override, ...]:
    """``name=max/seconds`` entries separated by commas, names from DEFAULT_LIMITS."""
    out: list[Override] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, _, rule = part.partition("=")
        count, _, seconds = rule.partition("/")
        name = name.strip()
        if name not in DEFAULT_LIMITS:
            raise PolicyError(f"RATE_LIMITS: unknown limit {name!r} (known: {', '.join(DEFAULT_LIMITS)})")
        if not (count.strip().isdigit() and seconds.strip().isdigit()) or not 1 <= int(seconds) <= MAX_WINDOW_SECONDS:
            raise PolicyError(f"RATE_LIMITS: {part!r} is not name=max/seconds (seconds 1-86400)")
        out.append((name, int(count), int(seconds)))
    return tuple(out)


def policy(overrides: tuple[Override, ...] = ()) -> dict[str, Limit]:
    table = dict(DEFAULT_LIMITS)
    for name, count, seconds in overrides:
        table[name] = Limit(name, count, seconds, DEFAULT_LIMITS[name].keyed_by)
    return table


@dataclass(frozen=True)
class Window:
    index: int  # whole windows since the epoch: part of the counter's id
    start: datetime
    end: datetime


def window_at(limit: Limit, now: datetime) -> Window:
    """The fixed window containing ``now``; windows are aligned to the epoch."""
    index = math.floor(now.timestamp()) // limit.window_seconds
    start = datetime.fromtimestamp(index * limit.window_seconds, UTC)
    return Window(index, start, start + timedelta(seconds=limit.window_seconds))


def retry_after(window: Window, now: datetime) -> int:
    """Whole seconds until the window ends, at least 1 (the Retry-After value)."""
    return max(1, math.ceil((window.end - now).total_seconds()))
