"""Penetration checklist: the admin IP blocklist (incident response)."""

from __future__ import annotations

from typing import Any

import pytest

from core.clock import FixedClock
from core.netblocks import parse_block
from events.types import EventType as T
from tests.conftest import Api
from tests.security.edge import events_of
from tests.security.test_input import assert_problem

ADMIN_IP = "192.0.2.10"
ATTACKER = "203.0.113.66"


@pytest.fixture
def admin(api: Api) -> str:
    return api.user("admin@example.com", ["admin"])


def block(api: Api, token: str, cidr: str, **extra: Any) -> Any:
    body = {"cidr": cidr, "reason": "credential stuffing", **extra}
    return api.call("POST", "/api/admin/ip-blocks", body, token=token, remote_addr=ADMIN_IP)


def test_blocked_network_gets_403_ip_blocked_everywhere(api: Api, admin: str) -> None:
    created = block(api, admin, "203.0.113.0/24")
    assert created.status_code == 201, created.text
    assert created.json["cidr"] == "203.0.113.0/24" and created.json["active"] is True
    for method, path in [("GET", "/readyz"), ("POST", "/api/auth/login"), ("GET", "/api/users/me"), ("GET", "/x")]:
        result = api.call(method, path, remote_addr=ATTACKER)
        assert_problem(result, 403, "ip_blocked")
    assert api.call("GET", "/readyz", remote_addr="203.0.114.1").status_code == 200  # next door is fine
    assert api.call("GET", "/healthz", remote_addr=ATTACKER).status_code == 200  # liveness stays up


def test_blocked_before_anything_is_written(api: Api, admin: str) -> None:
    block(api, admin, ATTACKER)
    before = api.db_snapshot()
    body = {"email": "x@example.com", "password": "correct horse battery staple", "full_name": "X"}
    assert_problem(api.call("POST", "/api/auth/register", body, remote_addr=ATTACKER), 403, "ip_blocked")
    assert api.db_snapshot() == before


def test_host_bits_are_cleared_and_single_addresses_work(api: Api, admin: str) -> None:
    assert block(api, admin, "10.1.2.3/8").json["cidr"] == "10.0.0.0/8"
    assert block(api, admin, "2001:db8::1").json["cidr"] == "2001:db8::1/128"
    assert_problem(api.call("GET", "/readyz", remote_addr="10.200.0.1"), 403, "ip_blocked")
    assert_problem(api.call("GET", "/readyz", remote_addr="2001:db8::1"), 403, "ip_blocked")
    assert api.call("GET", "/readyz", remote_addr="2001:db8::2").status_code == 200


def test_ipv4_mapped_ipv6_client_is_the_ipv4_client() -> None:
    assert parse_block("203.0.113.0/24").contains("::ffff:203.0.113.9")
    assert parse_block("::ffff:203.0.113.0/120").cidr == "203.0.113.0/24"


def test_expiry_is_honoured(api: Api, admin: str, clock: FixedClock) -> None:
    expires = "2026-01-01T00:10:00Z"  # the FixedClock starts at midnight
    assert block(api, admin, ATTACKER, expires_at=expires).status_code == 201
    assert api.call("GET", "/readyz", remote_addr=ATTACKER).status_code == 403
    clock.advance(minutes=10)  # within the admin token's 15 minutes
    assert api.call("GET", "/readyz", remote_addr=ATTACKER).status_code == 200
    listed = api.call("GET", "/api/admin/ip-blocks", token=admin, remote_addr=ADMIN_IP).json["items"]
    assert [b["active"] for b in listed] == [False]


def test_delete_unblocks_and_both_are_events(api: Api, admin: str) -> None:
    block_id = block(api, admin, ATTACKER).json["id"]
    listed = api.call("GET", "/api/admin/ip-blocks", token=admin, remote_addr=ADMIN_IP)
    assert [b["id"] for b in listed.json["items"]] == [block_id] and listed.json["next_cursor"] is None
    deleted = api.call("DELETE", f"/api/admin/ip-blocks/{block_id}", token=admin, remote_addr=ADMIN_IP)
    assert deleted.status_code == 204
    assert api.call("GET", "/readyz", remote_addr=ATTACKER).status_code == 200
    again = api.call("DELETE", f"/api/admin/ip-blocks/{block_id}", token=admin, remote_addr=ADMIN_IP)
    assert_problem(again, 404, "not_found")
    assert api.call("GET", "/api/admin/ip-blocks", token=admin, remote_addr=ADMIN_IP).json["items"] == []
    added, removed = events_of(api, T.IP_BLOCK_ADDED), events_of(api, T.IP_BLOCK_REMOVED)
    assert len(added) == 1 and len(removed) == 1
    assert added[0].data["cidr"] == f"{ATTACKER}/32" and added[0].actor != "anonymous"
    assert added[0].ip == ADMIN_IP


def test_projection_rebuilds_to_the_same_blocks(api: Api, admin: str) -> None:
    block(api, admin, "198.51.100.0/24")
    before = list(api.deps.db["ip_blocks"].find({}))
    api.deps.projector.rebuild()
    assert list(api.deps.db["ip_blocks"].find({})) == before


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"cidr": "300.1.1.1/24", "reason": "x"}, "invalid_cidr"),
        ({"cidr": "10.0.0.0/33", "reason": "x"}, "invalid_cidr"),
        ({"cidr": "example.com", "reason": "x"}, "invalid_cidr"),
        ({"cidr": "10.0.0.0/8", "reason": "  "}, "length"),
        ({"cidr": "10.0.0.0/8", "reason": "x", "expires_at": "tomorrow"}, "invalid_datetime"),
        ({"cidr": "10.0.0.0/8", "reason": "x", "expires_at": "2027-01-01T00:00:00"}, "invalid_datetime"),
        ({"cidr": "10.0.0.0/8", "reason": "x", "expires_at": "2025-01-01T00:00:00Z"}, "in_the_past"),
        ({"cidr": "192.0.2.0/24", "reason": "x"}, "would_block_self"),
        ({"cidr": "0.0.0.0/0", "reason": "x"}, "would_block_self"),
        ({"cidr": {"$ne": ""}, "reason": "x"}, "invalid_key"),
        ({"cidr": ["10.0.0.0/8"], "reason": "x"}, "wrong_type"),
    ],
)
def test_bad_blocks_are_refused_and_write_nothing(api: Api, admin: str, body: dict[str, Any], code: str) -> None:
    before = api.db_snapshot()
    result = api.call("POST", "/api/admin/ip-blocks", body, token=admin, remote_addr=ADMIN_IP)
    assert_problem(result, 422, code)
    assert api.db_snapshot() == before


def test_only_admins_manage_blocks(api: Api) -> None:
    for roles in (None, ["reviewer"], ["auditor"]):
        token = api.user(f"user-{roles}@example.com".replace("'", ""), roles)
        assert_problem(block(api, token, ATTACKER), 403, "forbidden")
        assert_problem(api.call("GET", "/api/admin/ip-blocks", token=token), 403, "forbidden")
    assert_problem(api.call("GET", "/api/admin/ip-blocks"), 401, "unauthenticated")
    assert api.deps.db["ip_blocks"].count_documents({}) == 0
