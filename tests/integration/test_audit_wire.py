"""Over the wire (SecantusDB): audit paging under concurrent appends, report counters
under re-application, and two admins demoting each other at once."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import pytest

from events.model import SYSTEM, Context, NewEvent, StreamAppend
from events.types import EventType as T
from services import admin, users
from services.deps import Deps
from tests.conftest import Api

APPENDERS = 3
BATCHES = 60  # per appender, 1-3 events each


def _append_batches(deps: Deps, name: str, errors: list[BaseException], started: threading.Event) -> None:
    try:
        for n in range(BATCHES):
            kind = "test.even" if n % 2 == 0 else "test.odd"
            events = tuple(NewEvent(kind, {"n": n, "i": i}) for i in range(1 + n % 3))
            deps.store.append([StreamAppend(f"load-{name}-{n}", 0, events)], Context(actor=name))
            started.set()
    except BaseException as ex:  # noqa: BLE001  (reported to the test thread)
        errors.append(ex)
        started.set()


def _walk(api: Api, token: str, **params: str) -> list[int]:
    seen: list[int] = []
    cursor = None
    for _ in range(10_000):
        query = {**params, **({"cursor": cursor} if cursor else {})}
        page = api.call("GET", "/api/audit/events", token=token, params=query)
        assert page.status_code == 200, page.text
        seen += [item["position"] for item in page.json["items"]]
        cursor = page.json["next_cursor"]
        if cursor is None:
            return seen
    raise AssertionError("paging does not end")


@pytest.mark.parametrize("params", [{"limit": "7"}, {"limit": "5", "type": "test.even,user.registered"}])
def test_paging_while_others_append_has_no_duplicates_and_no_skips(wire_deps: Deps, params: dict[str, str]) -> None:
    api = Api(wire_deps)
    auditor = api.user("auditor@example.com", ["auditor"])
    start = wire_deps.store.head_position()
    errors: list[BaseException] = []
    started = threading.Event()
    threads = [
        threading.Thread(target=_append_batches, args=(wire_deps, f"a{i}", errors, started)) for i in range(APPENDERS)
    ]
    for thread in threads:
        thread.start()
    # Walk only once appending is under way, so the walk is sure to meet concurrent events
    # (it used to finish first now and then, and the last assertion flaked).
    assert started.wait(30)
    walked = _walk(api, auditor, **params)
    for thread in threads:
        thread.join()
    assert errors == []
    assert walked == sorted(set(walked)), "a position came twice or out of order"
    last = walked[-1]
    types = set(params.get("type", "").split(",")) - {""}
    want = [e.position for e in wire_deps.store.read_all(1, last) if not types or e.type in types]
    assert walked == want, "the walk skipped events that were committed before the ones it returned"
    assert last > start, "the walk should have seen events appended while it ran"


def test_report_counters_do_not_double_count_over_the_wire(wire_deps: Deps) -> None:
    api = Api(wire_deps)
    auditor = api.user("auditor@example.com", ["auditor"])
    for i in range(6):
        kind = (T.LOGIN_FAILED, T.ACCOUNT_LOCKED, T.RATE_LIMIT_EXCEEDED)[i % 3]
        wire_deps.commit(
            [StreamAppend(f"probe-{i}", 0, (NewEvent(kind, {"n": i}),))],
            Context(actor="anonymous", ip=f"10.0.0.{i % 2}"),
        )
    want: Counter[tuple[str, str]] = Counter()
    names = {
        T.LOGIN_FAILED: "failed_logins",
        T.ACCOUNT_LOCKED: "lockouts",
        T.RATE_LIMIT_EXCEEDED: "rate_limit_violations",
    }
    for e in wire_deps.store.read_all():
        if e.type in names:
            want[(e.ip or "unknown", names[T(e.type)])] += 1

    def by_ip() -> Counter[tuple[str, str]]:
        body = api.call("GET", "/api/audit/reports/security", token=auditor).json
        return Counter({(row["ip"], k): v for row in body["by_ip"] for k, v in row.items() if k != "ip" and v})

    assert by_ip() == want
    # Replay everything: reset the checkpoints, and also hand every event to the views again.
    wire_deps.db["projection_checkpoints"].delete_many({})
    wire_deps.projector.catch_up()
    for event in wire_deps.store.read_all():
        for view in wire_deps.projector.views:
            if view.name.startswith("report_"):
                view.apply(event)
    assert by_ip() == want


def test_two_admins_demoting_each_other_at_once_leave_one_admin(wire_deps: Deps) -> None:
    api = Api(wire_deps)
    tokens = {name: api.user(f"{name}@example.com", ["admin"]) for name in ("ann", "ben")}
    ids = {name: users.find_by_email(wire_deps, f"{name}@example.com").id for name in tokens}  # type: ignore[union-attr]
    other = {"ann": "ben", "ben": "ann"}
    for _ in range(6):
        barrier = threading.Barrier(2)
        results: dict[str, Any] = {}

        def demote(name: str, barrier: threading.Barrier, results: dict[str, Any]) -> None:
            barrier.wait()
            path = f"/api/admin/users/{ids[other[name]]}/roles"
            results[name] = api.call("PUT", path, {"roles": ["applicant"]}, token=tokens[name])

        threads = [threading.Thread(target=demote, args=(name, barrier, results)) for name in tokens]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        statuses = sorted(r.status_code for r in results.values())
        assert statuses[0] == 200 and statuses[1] in (403, 409), [r.text for r in results.values()]
        admins = list(wire_deps.db["users"].find({"roles": "admin", "status": "active"}))
        assert len(admins) == 1
        # Put the demoted one back, as 'system' (the CLI path), for the next round.
        demoted = next(name for name in tokens if ids[name] != admins[0]["_id"])
        admin.set_user_roles(wire_deps, admin.AdminAction(SYSTEM, ids[demoted], None, Context()), ["admin"])
