"""Projections over a real MongoDB-wire server: rebuild equals live, re-applying is a
no-op, and concurrent catch-up after a burst of appends agrees with a rebuild."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from core.clock import FixedClock
from core.errors import AuthenticationFailed, InvalidToken
from events.model import Context, NewEvent, StreamAppend, stream_id
from events.types import EventType as T
from events.upcasting import upcast
from projections.applications import ApplicationsView
from projections.runner import Projector
from projections.sessions import SessionsView
from projections.users import UsersView
from services import applications, auth, users
from services.deps import Deps
from services.principal import Principal

PASSWORD = "correct horse battery staple"
VIEWS = ("users", "sessions", "applications")
Snapshot = dict[str, list[dict[str, Any]]]


def ctx(actor: str = "anonymous") -> Context:
    return Context(actor=actor, ip="192.0.2.10", request_id=uuid.uuid4().hex)


def snapshot(deps: Deps) -> Snapshot:
    return {name: sorted(deps.db[name].find({}), key=lambda doc: str(doc["_id"])) for name in VIEWS}


def verification_token(deps: Deps, email: str) -> str:
    for message in deps.mailer.list(to=email):
        if message["kind"] == "verify_email":
            return str(message["text"]).split("token=")[1].split()[0]
    raise AssertionError(f"no verification mail for {email}")


def signed_up(deps: Deps, email: str, roles: list[str] | None = None) -> str:
    auth.register(deps, email, PASSWORD, "Wire User", "", ctx())
    auth.verify_email(deps, verification_token(deps, email), ctx())
    user = users.find_by_email(deps, email)
    assert user is not None
    if roles:
        users.set_roles(deps, user.id, roles, ctx("system"))
    return user.id


def principal(deps: Deps, email: str) -> Principal:
    return auth.authenticate(deps, auth.login(deps, email, PASSWORD, ctx()).access_token)


def failed_logins(deps: Deps, email: str, times: int) -> None:
    for _ in range(times):
        with pytest.raises(AuthenticationFailed):
            auth.login(deps, email, "not the right password", ctx())


def populate(deps: Deps, clock: FixedClock) -> None:
    """Drive the use cases so every view holds several documents in several states."""
    signed_up(deps, "owner@example.com")
    signed_up(deps, "second@example.com")
    signed_up(deps, "reviewer@example.com", roles=["reviewer"])
    auth.register(deps, "pending@example.com", PASSWORD, "Not Verified", "", ctx())
    auth.register(deps, "owner@example.com", PASSWORD, "Duplicate", "", ctx())
    owner = principal(deps, "owner@example.com")
    second = principal(deps, "second@example.com")
    reviewer = principal(deps, "reviewer@example.com")
    drive_applications(deps, owner, second, reviewer)
    drive_sessions(deps, owner, second)
    failed_logins(deps, "reviewer@example.com", 5)  # locks the reviewer
    failed_logins(deps, "nobody@example.com", 2)
    clock.advance(minutes=1)


def drive_applications(deps: Deps, owner: Principal, second: Principal, reviewer: Principal) -> None:
    moves: list[tuple[Principal, str, str | None]] = [
        (owner, "submitted", None),
        (reviewer, "under_review", None),
        (reviewer, "approved", "looks fine"),
    ]
    approved = applications.create(deps, owner, "Approved one", "body", ctx(owner.user_id))["id"]
    for who, target, reason in moves:
        applications.change_status(deps, who, approved, target, reason, None, ctx(who.user_id))
    draft = applications.create(deps, owner, "Still a draft", "", ctx(owner.user_id))["id"]
    applications.update(deps, owner, draft, "Renamed draft", "new body", None, ctx(owner.user_id))
    withdrawn = applications.create(deps, second, "Withdrawn", "x", ctx(second.user_id))["id"]
    applications.change_status(deps, second, withdrawn, "submitted", None, None, ctx(second.user_id))
    applications.change_status(deps, second, withdrawn, "withdrawn", None, None, ctx(second.user_id))


def drive_sessions(deps: Deps, owner: Principal, second: Principal) -> None:
    issued = auth.login(deps, "owner@example.com", PASSWORD, ctx())
    rotated = auth.refresh(deps, issued.refresh_token, ctx())
    with pytest.raises(InvalidToken):
        auth.refresh(deps, issued.refresh_token, ctx())  # reuse: revokes the family
    with pytest.raises(InvalidToken):
        auth.refresh(deps, rotated.refresh_token, ctx())
    auth.logout(deps, owner, ctx(owner.user_id))
    auth.login(deps, "second@example.com", PASSWORD, ctx())
    auth.logout_all(deps, second, ctx(second.user_id))
    auth.login(deps, "second@example.com", PASSWORD, ctx())  # a live session after logout-all
    users.update_profile(deps, second.user_id, "Second Renamed", ctx(second.user_id))


# --- (1) rebuild equals live -----------------------------------------------------------


def test_rebuild_yields_the_same_documents(wire_deps: Deps, clock: FixedClock) -> None:
    populate(wire_deps, clock)
    live = snapshot(wire_deps)
    assert all(live[name] for name in VIEWS)
    head = wire_deps.store.head_position()
    assert wire_deps.projector.rebuild() == head
    assert snapshot(wire_deps) == live
    assert set(wire_deps.projector.checkpoints().values()) == {head}


# --- (2) re-applying every event changes nothing ---------------------------------------


def test_reapplying_every_event_changes_nothing(wire_deps: Deps, clock: FixedClock) -> None:
    populate(wire_deps, clock)
    before = snapshot(wire_deps)
    for event in wire_deps.store.read_all():
        for view in wire_deps.projector.views:
            view.apply(upcast(event))
    assert snapshot(wire_deps) == before


def test_reapplying_the_log_in_reverse_changes_nothing(wire_deps: Deps, clock: FixedClock) -> None:
    populate(wire_deps, clock)
    before = snapshot(wire_deps)
    for event in reversed(list(wire_deps.store.read_all())):
        for view in wire_deps.projector.views:
            view.apply(upcast(event))
    assert snapshot(wire_deps) == before


# --- (3) concurrent catch-up after a burst ---------------------------------------------


def burst(deps: Deps, owner_id: str, second_id: str) -> int:
    """Append directly to the store (no catch-up): new applications, edits, sessions, revocations."""
    appended = 0
    for i in range(40):
        app = stream_id("application", uuid.uuid4().hex)
        sealed = {k: deps.vault.seal(owner_id, k, f"{k} {i}") for k in ("title", "body")}
        events = [NewEvent(T.APPLICATION_CREATED, {"subject": owner_id, **sealed})]
        if i % 2:
            submitted = {"subject": owner_id, "from": "draft", "to": "submitted"}
            events.append(NewEvent(T.APPLICATION_STATUS_CHANGED, submitted))
        deps.store.append([StreamAppend(app, 0, tuple(events))], ctx(owner_id))
        appended += len(events)
        appended += append_to_user(deps, second_id, i)
    return appended


def append_to_user(deps: Deps, user_id: str, i: int) -> int:
    user_stream = stream_id("user", user_id)
    version = deps.store.read_stream(user_stream)[-1].version
    session = stream_id("session", uuid.uuid4().hex)
    started = NewEvent(T.SESSION_STARTED, {"subject": user_id, "refresh_hash": f"h{i}", "amr": ["pwd"]})
    if i % 5 == 4:
        user_event = NewEvent(T.ALL_SESSIONS_REVOKED, {"subject": user_id, "reason": "logout_all"})
    else:
        sealed = deps.vault.seal(user_id, "full_name", f"Name {i}")
        user_event = NewEvent(T.USER_PROFILE_UPDATED, {"subject": user_id, "full_name": sealed})
    deps.store.append([StreamAppend(session, 0, (started,)), StreamAppend(user_stream, version, (user_event,))], ctx())
    return 2


def second_projector(deps: Deps) -> Projector:
    """Another worker's projector: same database, its own lock."""
    return Projector(deps.store, deps.db, [UsersView(deps.db), SessionsView(deps.db), ApplicationsView(deps.db)])


def race(runners: list[Callable[[], int]]) -> list[BaseException]:
    start = threading.Barrier(len(runners))
    errors: list[BaseException] = []

    def run(runner: Callable[[], int]) -> None:
        start.wait()
        try:
            runner()
        except BaseException as ex:  # collected and asserted by the test
            errors.append(ex)

    threads = [threading.Thread(target=run, args=(runner,)) for runner in runners]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "catch-up did not finish"
    return errors


@pytest.mark.parametrize("workers", ["same_projector", "two_projectors"])
def test_concurrent_catch_up_equals_rebuild(wire_deps: Deps, clock: FixedClock, workers: str) -> None:
    populate(wire_deps, clock)
    owner = users.find_by_email(wire_deps, "owner@example.com")
    second = users.find_by_email(wire_deps, "second@example.com")
    assert owner is not None and second is not None
    lagging_before = snapshot(wire_deps)
    assert burst(wire_deps, owner.id, second.id) == 140  # 40 + 20 status changes + 2 x 40
    assert snapshot(wire_deps) == lagging_before  # the views have not seen the burst yet
    other = wire_deps.projector if workers == "same_projector" else second_projector(wire_deps)
    assert race([wire_deps.projector.catch_up, other.catch_up]) == []
    head = wire_deps.store.head_position()
    assert set(wire_deps.projector.checkpoints().values()) == {head}
    caught_up = snapshot(wire_deps)
    assert len(caught_up["applications"]) == len(lagging_before["applications"]) + 40
    wire_deps.projector.rebuild()
    assert snapshot(wire_deps) == caught_up
