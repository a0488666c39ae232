"""The lockout policy (SPEC §4): pure, so it is tested without a database.

5 failed attempts within 15 minutes lock the account for 15 minutes, doubling
on each repeat lock, capped at 24 hours. A successful login, a password reset
or an admin unlock clears the counters.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

MAX_FAILURES = 5
WINDOW = timedelta(minutes=15)
BASE_LOCK = timedelta(minutes=15)
MAX_LOCK = timedelta(hours=24)


@dataclass(frozen=True)
class LockoutState:
    recent_failures: tuple[datetime, ...] = ()
    locked_until: datetime | None = None
    lock_count: int = 0

    def locked(self, now: datetime) -> bool:
        return self.locked_until is not None and now < self.locked_until


def lock_duration(lock_count: int) -> timedelta:
    return min(BASE_LOCK * (2 ** min(lock_count, 16)), MAX_LOCK)


def after_failure(state: LockoutState, now: datetime) -> tuple[int, datetime | None]:
    """Failures counted in the window after this one, and the lock end if it locks now."""
    recent = [t for t in state.recent_failures if now - t < WINDOW]
    count = len(recent) + 1
    if count >= MAX_FAILURES:
        return count, now + lock_duration(state.lock_count)
    return count, None
