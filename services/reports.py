"""Audit reports, answered from the counter projections (projections/reports.py).

Reports work in whole UTC days: a day is included when its start lies in
``[since, until)`` with ``since`` rounded down to its day. Without bounds the
last 30 days up to now are reported; a range is at most 3660 days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pymongo.database import Database

from core.errors import ValidationFailed
from projections.reports import ADMIN_ACTIONS, SECURITY, SECURITY_BY_IP, SECURITY_KINDS, STATUS_CHANGES
from services.deps import Deps

DEFAULT_DAYS = 30
MAX_DAYS = 3660
TOP_IPS = 100


@dataclass(frozen=True)
class DayRange:
    first: str  # first day included, YYYY-MM-DD
    end: str  # first day excluded

    @classmethod
    def of(cls, now: datetime, since: datetime | None, until: datetime | None) -> DayRange:
        if until is None:
            end = now.date() + timedelta(days=1)  # up to now: today included
        else:
            # A day counts when its start is before `until`.
            end = until.date() if _midnight(until) else until.date() + timedelta(days=1)
        first = since.date() if since else end - timedelta(days=DEFAULT_DAYS)
        if end <= first or (end - first).days > MAX_DAYS:
            raise ValidationFailed(
                f"since must be before until, at most {MAX_DAYS} days apart.",
                errors=[{"field": "since", "code": "out_of_range"}],
            )
        return cls(first.isoformat(), end.isoformat())

    def match(self) -> dict[str, Any]:
        return {"day": {"$gte": self.first, "$lt": self.end}}

    def as_dict(self) -> dict[str, str]:
        return {"since": self.first, "until": self.end}


def _midnight(moment: datetime) -> bool:
    return (moment.hour, moment.minute, moment.second, moment.microsecond) == (0, 0, 0, 0)


def _sum(db: Database, collection: str, days: DayRange, by: list[str]) -> list[dict[str, Any]]:
    pipeline = [
        {"$match": days.match()},
        {"$group": {"_id": {name: f"${name}" for name in by}, "count": {"$sum": "$count"}}},
    ]
    return [{**row["_id"], "count": row["count"]} for row in db[collection].aggregate(pipeline)]


def _pivot(rows: list[dict[str, Any]], key: str, column: str, columns: list[str]) -> dict[str, dict[str, int]]:
    table: dict[str, dict[str, int]] = {}
    for row in rows:
        table.setdefault(row[key], dict.fromkeys(columns, 0))[row[column]] = row["count"]
    return table


def security(deps: Deps, days: DayRange) -> dict[str, Any]:
    kinds = list(SECURITY_KINDS.values())
    by_day = _pivot(_sum(deps.db, SECURITY, days, ["day", "kind"]), "day", "kind", kinds)
    by_ip = _pivot(_sum(deps.db, SECURITY_BY_IP, days, ["ip", "kind"]), "ip", "kind", kinds)
    totals = {kind: sum(row[kind] for row in by_day.values()) for kind in kinds}
    ranked = sorted(by_ip.items(), key=lambda item: (-sum(item[1].values()), item[0]))
    return {
        **days.as_dict(),
        "totals": totals,
        "by_day": [{"day": day, **counts} for day, counts in sorted(by_day.items())],
        "by_ip": [{"ip": ip, **counts} for ip, counts in ranked[:TOP_IPS]],
        "ips_total": len(ranked),
    }


def admin_actions(deps: Deps, days: DayRange) -> dict[str, Any]:
    rows = _sum(deps.db, ADMIN_ACTIONS, days, ["admin", "type"])
    admins: dict[str, dict[str, int]] = {}
    by_type: dict[str, int] = {}
    for row in rows:
        admins.setdefault(row["admin"], {})[row["type"]] = row["count"]
        by_type[row["type"]] = by_type.get(row["type"], 0) + row["count"]
    return {
        **days.as_dict(),
        "by_admin": [
            {"admin": admin, "total": sum(types.values()), "by_type": dict(sorted(types.items()))}
            for admin, types in sorted(admins.items(), key=lambda item: (-sum(item[1].values()), item[0]))
        ],
        "by_type": dict(sorted(by_type.items())),
    }


def status_changes(deps: Deps, days: DayRange) -> dict[str, Any]:
    rows = _sum(deps.db, STATUS_CHANGES, days, ["day", "status"])
    by_day: dict[str, dict[str, int]] = {}
    totals: dict[str, int] = {}
    for row in rows:
        by_day.setdefault(row["day"], {})[row["status"]] = row["count"]
        totals[row["status"]] = totals.get(row["status"], 0) + row["count"]
    return {
        **days.as_dict(),
        "totals": dict(sorted(totals.items())),
        "by_day": [{"day": day, "counts": dict(sorted(c.items()))} for day, c in sorted(by_day.items())],
    }
