"""Audit query benchmark: every API.md filter of /api/audit/events and every report,
on a realistic log, with p50/p95 per query and the plan MongoDB chose.

    python -m bench.audit_query [--events 100000] [--requests 200]

The log is loaded through the event store (batched appends, hash chain and all):
10,000 users, 50,000 applications, two years of timestamps, a mix of logins,
failures, lockouts, sessions, application workflow, admin actions and rate-limit
violations, PII sealed as in production. Report views are projected by the
projector, as in production. Each query then runs ``--requests`` times through the
use case the API calls (``services.audit.query_events`` as an auditor, who sees PII
decrypted, and ``services.reports``) with fresh random parameters each time.

The baseline, measured in the same run, is the same query through raw pymongo on
the same server (same filter, sort and limit, no decoding, no views, no decryption):
each row's ratio is (Warden p50 / raw p50), i.e. what Warden adds on top of the
database. The plan is the server's explain() of that query. A row stops early when
its requests would take longer than ROW_BUDGET_S; ``n`` says how many ran.
Targets (issue 6): p95 < 50 ms per filtered page, < 100 ms per report, no COLLSCAN.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import MongoClient

from bench.common import machine, server_uri, table
from core.settings import Argon2Params, Secret, Settings, new_encryption_key, new_secret
from events.model import ANONYMOUS, Context, NewEvent, StreamAppend
from events.mongo import MongoEventStore, mongo_filter
from events.store import EventFilter
from events.types import EventType as T
from projections.reports import report_views
from projections.runner import Projector
from services import audit, reports
from services.deps import Deps
from services.principal import Principal

USERS = 10_000
APPLICATIONS = 50_000
ADMINS = 20
IPS = 5_000
DAYS = 730
BATCH = 200  # events per append call (one transaction)
ROW_BUDGET_S = 20.0  # stop a row early when 200 requests would take longer (printed as n)
PAGE = 50
START = datetime(2024, 12, 1, tzinfo=UTC)
STATUSES = ("submitted", "under_review", "approved", "rejected", "withdrawn")


class BenchClock:
    """The store stamps each append with now(); the loader moves it through two years."""

    def __init__(self) -> None:
        self.at = START

    def now(self) -> datetime:
        return self.at


class Loader:
    def __init__(self, deps: Deps, clock: BenchClock, total: int, rng: random.Random) -> None:
        self.deps, self.clock, self.total, self.rng = deps, clock, total, rng
        self.users = [uuid.uuid4().hex for _ in range(USERS)]
        self.admins = self.users[:ADMINS]
        self.apps = [uuid.uuid4().hex for _ in range(APPLICATIONS)]
        self.ips = [f"10.{n // 65536}.{n // 256 % 256}.{n % 256}" for n in range(IPS)]
        self.versions: dict[str, int] = {}
        self.owner: dict[str, str] = {}
        self.written = 0

    def _user(self, pending: dict[str, list[NewEvent]]) -> str:
        user = self.rng.choice(self.users)
        stream = f"user-{user}"
        if self.versions.get(stream, 0) == 0 and stream not in pending:
            vault = self.deps.vault
            pending[stream] = [
                NewEvent(
                    T.USER_REGISTERED,
                    {
                        "subject": user,
                        "email_index": uuid.uuid4().hex,
                        "email": vault.seal(user, "email", f"{user[:8]}@example.com"),
                        "full_name": vault.seal(user, "full_name", "Bench User"),
                        "roles": ["admin"] if user in self.admins else ["applicant"],
                        "email_verified": True,
                    },
                )
            ]
        return user

    def _event(self, pending: dict[str, list[NewEvent]]) -> tuple[str, NewEvent, str]:
        """One event (stream, event, actor) drawn from a realistic mix."""
        roll = self.rng.random()
        if roll < 0.35:
            app = self.rng.choice(self.apps)
            stream = f"application-{app}"
            if self.versions.get(stream, 0) == 0 and stream not in pending:
                owner = self._user(pending)
                self.owner[app] = owner
                sealed = self.deps.vault.seal(owner, "title", "A grant application")
                data = {"subject": owner, "title": sealed, "body": self.deps.vault.seal(owner, "body", "x" * 200)}
                return stream, NewEvent(T.APPLICATION_CREATED, data), owner
            to = self.rng.choice(STATUSES)
            owner = self.owner.get(app, self.rng.choice(self.users))
            actor = owner if to in ("submitted", "withdrawn") else self.rng.choice(self.users[:500])
            return stream, NewEvent(T.APPLICATION_STATUS_CHANGED, {"subject": owner, "from": "x", "to": to}), actor
        user = self._user(pending)
        stream = f"user-{user}"
        if roll < 0.60:
            return stream, NewEvent(T.LOGIN_SUCCEEDED, {"subject": user, "session_id": uuid.uuid4().hex}), user
        if roll < 0.80:
            return stream, NewEvent(T.LOGIN_FAILED, {"subject": user, "reason": "wrong_password"}), ANONYMOUS
        if roll < 0.83:
            until = self.clock.at + timedelta(minutes=15)
            return stream, NewEvent(T.ACCOUNT_LOCKED, {"subject": user, "locked_until": until}), ANONYMOUS
        if roll < 0.86:
            kind = self.rng.choice((T.USER_ROLES_CHANGED, T.USER_DISABLED, T.USER_ENABLED, T.USER_UNLOCKED))
            data = {"subject": user, "admin_action": True, "admin_reason": None}
            return stream, NewEvent(kind, data), self.rng.choice(self.admins)
        if roll < 0.90:
            data = {"limit": "login", "key_index": uuid.uuid4().hex[:16]}
            return f"ratelimit-{uuid.uuid4().hex}", NewEvent(T.RATE_LIMIT_EXCEEDED, data), ANONYMOUS
        return f"login-{uuid.uuid4().hex}", NewEvent(T.LOGIN_FAILED, {"reason": "unknown_email"}), ANONYMOUS

    def load(self) -> None:
        step = timedelta(days=DAYS) / max(self.total // BATCH, 1)
        while self.written < self.total:
            pending: dict[str, list[NewEvent]] = {}
            actor = ANONYMOUS
            while sum(len(v) for v in pending.values()) < BATCH:
                stream, event, actor = self._event(pending)
                pending.setdefault(stream, []).append(event)
            # One context per append call, as one request would have: the last event's actor.
            ctx = Context(actor=actor, ip=self.rng.choice(self.ips), request_id=uuid.uuid4().hex)
            appends = [StreamAppend(s, self.versions.get(s, 0), tuple(evs)) for s, evs in pending.items()]
            self.deps.store.append(appends, ctx)
            for s, evs in pending.items():
                self.versions[s] = self.versions.get(s, 0) + len(evs)
            self.written += sum(len(v) for v in pending.values())
            self.clock.at += step * self.rng.uniform(0.5, 1.5)
            if self.written % 10_000 < BATCH:
                print(f"  loaded {self.written} events", file=sys.stderr)


def settings() -> Settings:
    return Settings(
        app_env="test",
        jwt_secret_key=Secret(new_secret()),
        secret_key=Secret(new_secret()),
        encryption_key=Secret(new_encryption_key()),
        argon2=Argon2Params(time_cost=1, memory_cost=8192, parallelism=1),
    )


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


def measure(requests: int, run: Callable[[], object]) -> tuple[float, float, int]:
    samples: list[float] = []
    budget_end = time.perf_counter() + ROW_BUDGET_S
    while len(samples) < requests and (len(samples) < 3 or time.perf_counter() < budget_end):
        started = time.perf_counter()
        run()
        samples.append((time.perf_counter() - started) * 1000)
    return (*percentiles(samples), len(samples))


def plan(node: dict[str, Any]) -> str:
    """The winning plan as a chain of stages, e.g. 'LIMIT < FETCH < IXSCAN type_position'."""
    stages = []
    while node:
        stage = node.get("stage", "?")
        stages.append(f"{stage} {node['indexName']}" if "indexName" in node else stage)
        node = node.get("inputStage") or (node.get("inputStages") or [None])[0] or {}
    return " < ".join(stages)


def raw_page(db: Any, flt: EventFilter, after: int) -> list[Any]:
    """The baseline: the same query through raw pymongo, no decoding, no views."""
    return list(db["events"].find(mongo_filter(flt, after)).sort("_id", 1).limit(PAGE + 1))


def explain(db: Any, flt: EventFilter) -> str:
    cursor = db["events"].find(mongo_filter(flt, 0)).sort("_id", 1).limit(PAGE + 1)
    found = cursor.explain()
    winning = found.get("queryPlanner", {}).get("winningPlan", {})
    return plan(winning.get("queryPlan", winning)) or "n/a"


def filters(loader: Loader, rng: random.Random) -> dict[str, Callable[[], EventFilter]]:
    def moment() -> datetime:
        return START + timedelta(days=rng.uniform(0, DAYS))

    types = [t.value for t in (T.LOGIN_FAILED, T.ACCOUNT_LOCKED, T.USER_DISABLED, T.APPLICATION_STATUS_CHANGED)]
    return {
        "type": lambda: EventFilter(types=(rng.choice(types),)),
        "type (2 types)": lambda: EventFilter(types=tuple(rng.sample(types, 2))),
        "actor (user)": lambda: EventFilter(actor=rng.choice(loader.users)),
        "actor (admin)": lambda: EventFilter(actor=rng.choice(loader.admins)),
        "stream": lambda: EventFilter(stream=f"user-{rng.choice(loader.users)}"),
        "subject": lambda: EventFilter(subject=rng.choice(loader.users)),
        "since": lambda: EventFilter(since=moment()),
        "until": lambda: EventFilter(until=moment()),
        "since+until (1 day)": lambda: (lambda t: EventFilter(since=t, until=t + timedelta(days=1)))(moment()),
        "type+since": lambda: EventFilter(types=(rng.choice(types),), since=moment()),
        "actor+type": lambda: EventFilter(actor=rng.choice(loader.admins), types=(T.USER_DISABLED.value,)),
        "(none, deep cursor)": lambda: EventFilter(),
        "subject+since+until": lambda: (
            lambda t: EventFilter(subject=rng.choice(loader.users), since=t, until=t + timedelta(days=90))
        )(moment()),
    }


def progress(row: tuple[object, ...]) -> None:
    print("  " + " | ".join(map(str, row)), file=sys.stderr, flush=True)


def run(total: int, requests: int, uri: str, where: str) -> None:
    rng = random.Random(6)
    client: MongoClient = MongoClient(uri, tz_aware=True)
    name = "bench_audit_" + uuid.uuid4().hex[:8]
    clock = BenchClock()
    deps = Deps.build(settings(), client[name], MongoEventStore(client, name, clock), clock, client)
    deps.ensure_schema()
    # The loader's clock jumps hours per batch; keep data keys cached as a live worker would.
    deps.keys.cache_ttl = timedelta(days=3 * DAYS)
    loader = Loader(deps, clock, total, rng)
    started = time.perf_counter()
    loader.load()
    load_s = time.perf_counter() - started
    started = time.perf_counter()
    # Only the report views: the entity views are not what this bench measures.
    Projector(deps.store, client[name], report_views(client[name])).catch_up()
    project_s = time.perf_counter() - started
    print(f"  loaded in {load_s:.0f} s, report views projected in {project_s:.0f} s", file=sys.stderr)
    db = client[name]
    auditor = Principal("bench-auditor", "bench-session", ("auditor",), ("pwd", "otp"))
    head = deps.store.head_position()

    rows: list[tuple[object, ...]] = []
    now = START + timedelta(days=DAYS)
    for label, build in (
        ("security", reports.security),
        ("admin-actions", reports.admin_actions),
        ("status-changes", reports.status_changes),
    ):
        for span in (30, DAYS):
            days = reports.DayRange.of(now, now - timedelta(days=span), now)
            p50, p95, n = measure(requests, lambda build=build, days=days: build(deps, days))
            rows.append(
                (
                    f"report {label} ({span} d)",
                    n,
                    f"{p50:.1f}",
                    f"{p95:.1f}",
                    "",
                    "",
                    "aggregate, day index",
                    "ok" if p95 < 100 else "p95>100",
                )
            )
            progress(rows[-1])
    for label, make in filters(loader, rng).items():
        cursors = [rng.randrange(head) if label == "(none, deep cursor)" else 0 for _ in range(4)]
        p50, p95, n = measure(
            requests,
            lambda make=make, c=cursors: audit.query_events(deps, auditor, make(), rng.choice(c) or None, PAGE),
        )
        raw50, _, _ = measure(requests, lambda make=make, c=cursors: raw_page(db, make(), rng.choice(c)))
        chosen = explain(db, make())
        flag = "COLLSCAN" if "COLLSCAN" in chosen else ""
        flag += " p95>50" if p95 >= 50 else ""
        rows.append(
            (
                f"events ?{label}",
                n,
                f"{p50:.1f}",
                f"{p95:.1f}",
                f"{raw50:.1f}",
                f"{p50 / raw50:.2f}",
                chosen,
                flag.strip() or "ok",
            )
        )
        progress(rows[-1])
    client.drop_database(name)
    client.close()
    print(
        f"\n{head} events ({where}); load {load_s:.0f} s ({head / load_s:.0f} events/s through the store), "
        f"report projection catch-up {project_s:.0f} s; {requests} requests per row; {machine()}"
    )
    print(table(rows, ("query", "n", "p50 ms", "p95 ms", "raw p50", "ratio", "winning plan (raw query)", "")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", default="100000", help="comma-separated log sizes, e.g. 100000,1000000")
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    with server_uri() as (uri, where):
        for size in (int(s) for s in args.events.split(",")):
            run(size, args.requests, uri, where)


if __name__ == "__main__":
    main()
