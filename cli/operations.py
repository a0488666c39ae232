"""``warden purge`` and ``warden backup export|restore|verify``."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Callable
from typing import Any

from core.settings import Settings

Adder = Callable[[str, Callable[[argparse.Namespace], int], str], argparse.ArgumentParser]


def _fail(message: str) -> int:
    print(f"warden: {message}", file=sys.stderr)
    return 1


def cmd_purge(args: argparse.Namespace) -> int:
    from cli.main import connected, progress_bar
    from jobs.main import JOBS, LEASE_TTL
    from jobs.runner import run_job
    from services.lease import LEASES, Lease, new_owner_id
    from services.purge import purge

    with connected(Settings.from_env()) as deps:
        if args.dry_run:
            result = purge(deps, dry_run=True)
            print(_describe(result, dry=True))
            return 0
        # Same lease as the worker's daily job: never two purges at once.
        spec = next(j for j in JOBS if j.name == "retention-purge")
        bar = progress_bar("purge")
        spec = dataclasses.replace(spec, func=lambda d: purge(d, progress=bar))
        lease = Lease(deps.db[LEASES], new_owner_id(), deps.clock, LEASE_TTL)
        try:
            result = run_job(deps, spec, lease)
        finally:
            lease.release(spec.name)
    if result is None:
        return _fail("another instance holds the retention-purge lease; try again later")
    if "error" in result:
        return _fail(f"purge failed: {result['error']} (see the log)")
    print(_describe(result, dry=False))
    return 0


def _describe(result: dict[str, Any], dry: bool) -> str:
    if "resuming" in result:
        return f"would resume purge {result['resuming']}: {result['events']} events still to delete"
    verb = "would delete" if dry else "deleted"
    return (
        f"{verb} {result['events']} events older than {result['cutoff']} from {result['streams']} streams "
        f"(log kept from position {result['horizon'] + 1})"
    )


def cmd_backup_export(args: argparse.Namespace) -> int:
    from cli.main import connected, progress_bar
    from services.backup import export

    with connected(Settings.from_env()) as deps:
        manifest = export(deps, args.file, progress_bar("export"))
    print(json.dumps({"file": args.file, **manifest.__dict__}))
    return 0


def cmd_backup_restore(args: argparse.Namespace) -> int:
    from pymongo import MongoClient

    from cli.main import progress_bar
    from events.mongo import MongoEventStore
    from services.backup import BackupInvalid, restore
    from services.deps import Deps

    settings = Settings.from_env()
    client: MongoClient = MongoClient(args.uri, tz_aware=True, serverSelectionTimeoutMS=5000)
    try:
        db = client.get_default_database(args.db or settings.mongodb_db)
        try:
            manifest = restore(args.file, db, progress_bar("restore"))
        except BackupInvalid as ex:
            return _fail(str(ex))
        target = Deps.build(settings, db, MongoEventStore(client, db.name), client=client)
        target.ensure_schema()
        target.projector.rebuild(progress_bar("rebuild"))
    finally:
        client.close()
    print(f"restored {manifest.counts['event']} events and {manifest.counts['checkpoint']} checkpoints into {db.name}")
    print("note: subject keys are not in backups; personal data stays sealed until the live key store is provided")
    return 0


def cmd_backup_verify(args: argparse.Namespace) -> int:
    from cli.main import connected
    from services.backup import verify

    with connected(Settings.from_env()) as deps:
        result = verify(deps, args.file)
    if not result["ok"]:
        return _fail(f"backup does not verify: {result['reason']}")
    print(
        f"ok: {result['events']} events, {result['checkpoints']} checkpoints, last root {result['last_root']}; "
        f"restored in {result['restore_ms']} ms"
    )
    return 0


def register(add: Adder, sub: Any) -> None:
    purge = add("purge", cmd_purge, "Delete events past DATA_RETENTION_DAYS (snapshots first; log stays verifiable).")
    purge.add_argument("--dry-run", action="store_true", help="print what would go; change nothing")
    backup = sub.add_parser("backup", help="Export, restore or verify a backup (NDJSON).")
    actions = backup.add_subparsers(dest="action", required=True, metavar="ACTION")
    export = actions.add_parser("export", help="Write the log, checkpoints and retention records to FILE.")
    export.add_argument("file")
    export.set_defaults(func=cmd_backup_export)
    restore = actions.add_parser("restore", help="Load FILE into an empty database and rebuild its views.")
    restore.add_argument("file")
    restore.add_argument("--uri", required=True, help="MongoDB URI of the target (its database must be empty)")
    restore.add_argument("--db", help="database name if the URI names none (default $MONGODB_DB)")
    restore.set_defaults(func=cmd_backup_restore)
    verify = actions.add_parser("verify", help="Restore FILE into a scratch database, verify it, record the result.")
    verify.add_argument("file")
    verify.set_defaults(func=cmd_backup_verify)
