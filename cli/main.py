"""``warden``: serve, worker and the operator commands of API.md."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from core.settings import ConfigError, Settings, generate_secrets

Command = Callable[[argparse.Namespace], int]


def _fail(message: str) -> int:
    print(f"warden: {message}", file=sys.stderr)
    return 1


@contextmanager
def connected(settings: Settings) -> Iterator["Deps"]:  # type: ignore[name-defined]  # noqa: F821
    from cli.embedded import database_uri
    from services.deps import Deps

    with database_uri(settings) as uri:
        deps = Deps.connect(dataclasses.replace(settings, mongodb_uri=uri))
        try:
            deps.ensure_schema()
            deps.projector.catch_up()
            yield deps
        finally:
            if deps.client is not None:
                deps.client.close()


def progress_bar(label: str) -> Callable[[int, int], None]:
    def show(done: int, total: int) -> None:
        total = max(total, done, 1)
        filled = int(30 * done / total)
        sys.stderr.write(f"\r{label} [{'#' * filled}{'.' * (30 - filled)}] {done}/{total}")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return show


# --- commands ------------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace) -> int:
    from cli.embedded import EmbeddedServer

    settings = Settings.from_env()
    env = dict(os.environ)
    env["WARDEN_VAR_DIR"] = str(Path(settings.var_dir).resolve())
    env["WARDEN_BIND"] = args.bind or f"0.0.0.0:{settings.port}"
    if args.workers:
        env["WEB_CONCURRENCY"] = str(args.workers)
    server = None
    if not settings.mongodb_uri:
        if settings.production:
            return _fail("MONGODB_URI is required in production")
        server = EmbeddedServer(settings.var_dir)
        if server.running_uri():
            return _fail(f"an embedded database already runs for {settings.var_dir}/; stop it first")
        print(f"warden: starting the embedded database in {settings.var_dir}/db", file=sys.stderr)
        env["MONGODB_URI"] = server.start()
    gunicorn = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "python:api.gunicorn_conf", "api.wsgi:app"], env=env
    )

    def forward(signum: int, frame: object) -> None:
        gunicorn.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    try:
        code = gunicorn.wait()
    finally:
        if server is not None:
            server.stop()
    return code


def cmd_worker(args: argparse.Namespace) -> int:
    from core import logs
    from jobs.main import run
    from services.telemetry import init_sentry

    logs.configure()
    settings = Settings.from_env()
    init_sentry(settings, "worker")
    with connected(settings) as deps:
        run(deps)
    return 0


def cmd_gen_secrets(args: argparse.Namespace) -> int:
    for name, value in generate_secrets().items():
        print(f"{name}={value}")
    return 0


def _read_password() -> str:
    password = sys.stdin.readline().rstrip("\n")
    if not password:
        raise ConfigError("no password on stdin")
    return password


def cmd_create_admin(args: argparse.Namespace) -> int:
    from services.admin import create_admin

    password = _read_password()
    with connected(Settings.from_env()) as deps:
        user_id = create_admin(deps, args.email, password)
    print(f"created admin {user_id}")
    return 0


def cmd_set_roles(args: argparse.Namespace) -> int:
    from core.errors import WardenError
    from events.model import SYSTEM, Context
    from services.admin import AdminAction, set_user_roles
    from services.users import find_by_email

    with connected(Settings.from_env()) as deps:
        user = find_by_email(deps, args.email)
        if user is None:
            return _fail("no user with that email")
        try:
            # The same rules as the admin API (never leave no active admin), acted by 'system'.
            set_user_roles(deps, AdminAction(SYSTEM, user.id, "warden set-roles", Context(actor=SYSTEM)), args.roles)
        except WardenError as ex:
            return _fail(f"{ex.code}: {ex.detail}")
    print(f"roles of {user.id}: {' '.join(sorted(set(args.roles)))}")
    return 0


def cmd_outbox(args: argparse.Namespace) -> int:
    from core.clock import isoformat

    with connected(Settings.from_env()) as deps:
        messages = deps.mailer.list(to=args.to)
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "to": m["to"],
                        "subject": m["subject"],
                        "text": m["text"],
                        "created_at": isoformat(m["created_at"]),
                    }
                    for m in messages
                ],
                indent=2,
            )
        )
        return 0
    if not messages:
        print("outbox is empty")
    for m in messages:
        print(f"--- {isoformat(m['created_at'])}  to {m['to']}  [{m['status']}]\n{m['subject']}\n\n{m['text']}")
    return 0


def cmd_rebuild(args: argparse.Namespace) -> int:
    with connected(Settings.from_env()) as deps:
        count = deps.projector.rebuild(progress_bar("rebuild"))
    print(f"rebuilt {len(deps.projector.views)} projections from {count} events")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from services.integrity import verify_all

    with connected(Settings.from_env()) as deps:
        report = verify_all(deps, progress_bar("verify"))
    if report.ok:
        print(f"ok: {report.events_checked} events and {report.checkpoints_checked} checkpoints intact")
        if report.purged:
            print(f"positions 1..{report.purged} were purged by retention (signed purge records), not missing")
        return 0
    failure = report.first_failure
    assert failure is not None
    return _fail(f"integrity failure at position {failure.position}: {failure.reason}")


def cmd_db_roles(args: argparse.Namespace) -> int:
    from services.dbroles import apply_roles

    with connected(Settings.from_env()) as deps:
        for line in apply_roles(deps.db, deps):
            print(line)
    print("grant wardenApi to the web service's user and wardenPurge to the worker's (createUser ... roles: [...])")
    return 0


def cmd_rotate_keys(args: argparse.Namespace) -> int:
    from core.crypto import DecryptionFailed

    with connected(Settings.from_env()) as deps:
        try:
            done = deps.keys.rotate(progress_bar("rotate-keys"))
        except DecryptionFailed:
            return _fail("a data key is wrapped by a key neither in ENCRYPTION_KEY nor ENCRYPTION_PREVIOUS_KEYS")
    print(
        f"re-wrapped {done.rewrapped} data key(s) under key {done.kek_id}; {done.already_current} already were. "
        "Once every instance runs with this ENCRYPTION_KEY, drop the old one from ENCRYPTION_PREVIOUS_KEYS."
    )
    return 0


def cmd_seal(args: argparse.Namespace) -> int:
    from services.integrity import seal_now

    with connected(Settings.from_env()) as deps:
        made = seal_now(deps)
    print(f"sealed {len(made)} checkpoint(s)" + (f", up to position {made[-1].last_position}" if made else ""))
    return 0


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="warden", description="Warden: event-sourced security backend.")
    sub = root.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, func: Command, help_text: str) -> argparse.ArgumentParser:
        command = sub.add_parser(name, help=help_text, description=help_text)
        command.set_defaults(func=func)
        return command

    serve = add("serve", cmd_serve, "Run the API under gunicorn (embedded database if no MONGODB_URI).")
    serve.add_argument("--bind", help="HOST:PORT (default 0.0.0.0:$PORT, PORT defaults to 8000)")
    serve.add_argument("--workers", type=int, help="gunicorn workers (default $WEB_CONCURRENCY or 2)")
    add("worker", cmd_worker, "Run the scheduled jobs (one process; not inside gunicorn).")
    add("gen-secrets", cmd_gen_secrets, "Print fresh JWT_SECRET_KEY, SECRET_KEY and ENCRYPTION_KEY lines.")
    admin = add("create-admin", cmd_create_admin, "Create a verified admin; the password is read from stdin.")
    admin.add_argument("--email", required=True)
    admin.add_argument("--password-stdin", action="store_true", required=True)
    roles = add("set-roles", cmd_set_roles, "Set a user's roles (recorded as done by 'system').")
    roles.add_argument("--email", required=True)
    roles.add_argument("roles", nargs="+", choices=["applicant", "reviewer", "admin", "auditor"])
    outbox = add("outbox", cmd_outbox, "List email held locally (no SendGrid key).")
    outbox.add_argument("--to", help="only mail to this address")
    outbox.add_argument("--json", action="store_true", help="print [{to, subject, text, created_at}]")
    add("rebuild", cmd_rebuild, "Drop and rebuild every projection from the event log.")
    add("verify", cmd_verify, "Check every hash chain and checkpoint; exit 1 naming the first bad position.")
    add("db-roles", cmd_db_roles, "Create or update least-privilege MongoDB roles and print what was done.")
    add("rotate-keys", cmd_rotate_keys, "Re-wrap every data key under the current ENCRYPTION_KEY (resumable).")
    add("seal", cmd_seal, "Seal unsealed events into signed checkpoints now (the worker does this every few seconds).")
    from cli import operations  # purge and backup (issue 8)

    operations.register(add, sub)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ConfigError as ex:
        return _fail(str(ex))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
