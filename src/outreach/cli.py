"""The `outreach` command: serve, worker, migrate, token, import."""

import argparse
import contextlib
import errno
import json
import logging
import os
import signal
import socket
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

from pydantic import ValidationError

from outreach.auth.tokens import Role, mint_token
from outreach.config import get_settings, settings_problems
from outreach.db import DatabaseUrls, resolve_database_urls
from outreach.embedded import (
    MailCatcher,
    MailCatcherUnavailable,
    start_mail_catcher_if_needed,
)
from outreach.kit.logs import guard_log_handlers
from outreach.kit.processes import is_running
from outreach.observability.logs import configure_logging, logging_config
from outreach.observability.workers import shared_metrics_folder
from outreach.schema import UnsafeDatabaseRole, check_app_role, upgrade

log = logging.getLogger("outreach")


def _prepare_database() -> DatabaseUrls:
    """Resolve the URLs (starting the embedded server if needed) and migrate to head."""
    settings = get_settings()
    if not settings.database_url:
        print(f"DATABASE_URL is unset: using the embedded PostgreSQL in {settings.data_dir}/")
    urls = resolve_database_urls(settings)
    print("applying migrations ...")
    upgrade(urls)
    return urls


class _Refused(Exception):
    """The process must not start; the message says why."""


def _prepare_process() -> tuple[DatabaseUrls, MailCatcher | None]:
    """The database migrated and checked, its URLs and the mail relay (the embedded catcher
    when no SMTP server is configured) in the environment for every process started next."""
    urls = _prepare_database()
    try:
        check_app_role(urls.app)
    except UnsafeDatabaseRole as exc:
        raise _Refused(str(exc)) from exc
    # Worker processes inherit the resolved URLs instead of starting the server again.
    os.environ["DATABASE_URL"] = urls.app
    os.environ["DATABASE_OWNER_URL"] = urls.owner
    get_settings.cache_clear()
    try:
        catcher = start_mail_catcher_if_needed(get_settings(), urls.app)
    except MailCatcherUnavailable as exc:
        raise _Refused(str(exc)) from exc
    return urls, catcher


def _serve(args: argparse.Namespace) -> int:
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    # Before anything else: a taken port is said at once, not after the migrations.
    sock = _listen(args.host, args.port)
    _, catcher = _prepare_process()
    if args.access_log is not None:  # for the workers, which read their settings anew
        os.environ["OUTREACH_ACCESS_LOG"] = str(args.access_log).lower()
        get_settings.cache_clear()
    settings = get_settings()
    config = uvicorn.Config(
        "outreach.main:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_config=logging_config(settings.log_level, settings.log_format),
        log_level=settings.log_level.lower(),
        access_log=False,  # ours (observability/middleware.py) names the route and the org
    )
    # Bound before the app starts, so that its links name the port really listened on
    # (--port 0: the one the system picked).
    url = _publish_url(args.host, sock.getsockname()[1])
    print(f"outreach answers on {url} (API docs: /docs)")
    # uvicorn re-raises SIGTERM after its graceful shutdown; exiting normally then lets the
    # embedded PostgreSQL stop itself (its atexit hook) instead of being left running.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        if config.workers > 1:
            with shared_metrics_folder():
                Multiprocess(config, sockets=[sock]).run()
        else:
            uvicorn.Server(config).run(sockets=[sock])
    finally:
        _unpublish_url()
        if catcher is not None:
            catcher.stop()
    return 0


def _listen(host: str, port: int) -> socket.socket:
    """The listening socket, as uvicorn would bind it; refused with what to do when the port
    is taken. Listening at once makes the port ours: a bind alone can be shared."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)  # uvicorn's default backlog
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise _Refused(
                f"port {port} on {host} is taken: another program (perhaps another "
                "`outreach serve`) listens there. Stop it, or choose another port: "
                f"`outreach serve --port {port % 65535 + 1}`, or `--port 0` for any free one."
            ) from exc
        raise _Refused(f"cannot listen on {host} port {port}: {exc.strerror}") from exc
    sock.set_inheritable(True)  # --workers: the worker processes take it over
    return sock


def _local_url(host: str, port: int) -> str:
    # Listening on every interface: this machine's own name for itself is the one sure to work.
    name = "localhost" if host in ("0.0.0.0", "::", "") else host  # noqa: S104 - compared, not bound
    return f"http://[{name}]:{port}" if ":" in name else f"http://{name}:{port}"


def _serve_file() -> Path:
    return get_settings().data_dir / "serve.json"


def _publish_url(host: str, port: int) -> str:
    """The address links in mail point to: OUTREACH_PUBLIC_URL, else the one listened on, set
    for this process's app and written under the data folder for `outreach worker`."""
    settings = get_settings()
    if settings.public_url:
        return settings.public_url
    url = _local_url(host, port)
    os.environ["OUTREACH_PUBLIC_URL"] = url
    get_settings.cache_clear()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    _serve_file().write_text(json.dumps({"url": url, "pid": os.getpid()}))
    return url


def _unpublish_url() -> None:
    with contextlib.suppress(OSError, ValueError):
        if json.loads(_serve_file().read_text())["pid"] == os.getpid():
            _serve_file().unlink()


def _served_url() -> str:
    """For `outreach worker`: OUTREACH_PUBLIC_URL, else the address a running `outreach serve`
    of the same data folder listens on; with neither, links would point nowhere."""
    settings = get_settings()
    if settings.public_url:
        return settings.public_url
    try:
        served = json.loads(_serve_file().read_text())
    except (OSError, ValueError):
        served = {}
    if not isinstance(served.get("pid"), int) or not is_running(served["pid"]):
        raise _Refused(
            "OUTREACH_PUBLIC_URL is unset and no `outreach serve` of this data folder "
            f"({settings.data_dir}) runs, so the links in the mail sent would point nowhere. "
            "Start `outreach serve` first, or set OUTREACH_PUBLIC_URL to the address "
            "the service answers on."
        )
    os.environ["OUTREACH_PUBLIC_URL"] = served["url"]
    get_settings.cache_clear()
    return str(served["url"])


def _worker(args: argparse.Namespace) -> int:
    """The background jobs without the API: sending, planning, lifecycle, reconciliation."""
    import asyncio

    import uvloop  # the event loop uvicorn runs the API on: a faster loop for the send loop

    from outreach.db import create_engine, create_sessionmaker
    from outreach.kit import timezones
    from outreach.scheduler import start_background_jobs

    url = _served_url()
    urls, catcher = _prepare_process()
    settings = get_settings()

    async def run() -> None:
        engine = create_engine(urls.app, pool_size=4)
        # The jobs check time zones too (a sequence's field update sets a contact's).
        async with engine.connect() as connection:
            await timezones.load(connection)
        jobs = start_background_jobs(settings, create_sessionmaker(engine))
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        print(
            "outreach worker running (sending, planning, scheduled jobs), "
            f"links to {url}; Ctrl-C stops it"
        )
        await stop.wait()
        await jobs.stop()
        await engine.dispose()

    try:
        uvloop.run(run())
    finally:
        if catcher is not None:
            catcher.stop()
    return 0


def _migrate(args: argparse.Namespace) -> int:
    _prepare_database()
    print("database is at the latest migration")
    return 0


def _token(args: argparse.Namespace) -> int:
    settings = get_settings()
    hours = args.hours if args.hours is not None else min(12, settings.jwt_max_lifetime_hours)
    try:
        token = mint_token(
            settings,
            org_id=args.org,
            user_id=args.user,
            role=Role(args.role),
            ttl=timedelta(hours=hours),
            **({"email": args.email} if args.email else {}),
        )
    except ValueError as exc:
        print(f"outreach token: {exc}", file=sys.stderr)
        return 2
    print(token)
    return 0


# Who `outreach import` acts as, unless --user says: one user of the organization, the same
# for every import from the command line, made an admin (as `outreach token` makes one).
CLI_USER_NAMESPACE = uuid.UUID("5b0c1c77-6f0e-4d1e-9a43-0c1a9c3b6f10")
PROGRESS_WIDTH = 30


class _ProgressLine:
    """The import's progress on one line, redrawn in a terminal; elsewhere (a log) a line at
    most every few seconds."""

    def __init__(self) -> None:
        self.terminal = sys.stdout.isatty()
        self.started = time.monotonic()
        self.printed_at = 0.0

    def __call__(self, done: int, total: int | None) -> None:
        now = time.monotonic()
        if not self.terminal and now - self.printed_at < 5:
            return
        self.printed_at = now
        shown = f"{done:,} rows"
        if total:
            filled = PROGRESS_WIDTH * done // total
            rate = done / max(now - self.started, 0.001)
            eta = (total - done) / rate if rate else 0
            shown = (
                f"[{'#' * filled}{'.' * (PROGRESS_WIDTH - filled)}] {100 * done // total:3d}% "
                f"{done:,}/{total:,} rows, {rate:,.0f} rows/s, {eta:,.0f} s left"
            )
        print(f"\r{shown}" if self.terminal else shown, end="" if self.terminal else "\n")
        sys.stdout.flush()


def _import(args: argparse.Namespace) -> int:
    """A CSV file into a campaign (or the organization's people), with a progress bar."""
    import asyncio

    from outreach.auth.tokens import Principal
    from outreach.contacts.imports.form import FileSource, parse_mapping
    from outreach.contacts.imports.reading import ReadingError
    from outreach.contacts.imports.service import import_now
    from outreach.db import create_engine, create_sessionmaker
    from outreach.errors import AppError
    from outreach.kit import timezones
    from outreach.kit.bodylimit import BodyTooLarge

    if not args.file.is_file():
        print(f"outreach import: {args.file}: no such file", file=sys.stderr)
        return 2
    urls = _prepare_database()
    try:
        check_app_role(urls.app)
    except UnsafeDatabaseRole as exc:
        raise _Refused(str(exc)) from exc
    settings = get_settings()
    user = args.user or uuid.uuid5(CLI_USER_NAMESPACE, str(args.org))
    principal = Principal(user, args.org, Role.ADMIN, name="outreach import (command line)")
    progress = _ProgressLine()

    async def run() -> int:
        engine = create_engine(urls.app, pool_size=2)
        try:
            async with engine.connect() as connection:
                await timezones.load(connection)
            source = FileSource(args.file, parse_mapping(args.mapping) if args.mapping else {})
            done = await import_now(
                create_sessionmaker(engine),
                principal,
                args.campaign,
                source,
                settings.import_max_bytes,
                progress,
            )
        finally:
            await engine.dispose()
        if progress.terminal:
            print()
        print(
            f"import {done.id} {done.status}: {done.rows_done:,} rows, {done.created:,} created, "
            f"{done.updated:,} updated, {done.skipped:,} skipped, {done.invalid:,} invalid"
        )
        if done.error:
            print(f"error: {done.error}", file=sys.stderr)
        if done.skipped or done.invalid:
            print(f"the rows not taken, with their codes: GET {done.errors_url}")
        return 0 if done.status == "completed" else 1

    try:
        return asyncio.run(run())
    except ReadingError as exc:
        print(f"outreach import: {exc.code}: {exc.message}", file=sys.stderr)
    except AppError as exc:
        reasons = "; ".join(f"{e.code}: {e.message}" for e in exc.errors)
        print(f"outreach import: {reasons or f'{exc.code}: {exc.title}'}", file=sys.stderr)
    except BodyTooLarge as exc:
        print(f"outreach import: PAYLOAD_TOO_LARGE: {exc.detail}", file=sys.stderr)
    return 2


ROLES_HELP = """roles (what the token's bearer may do in its organization):
  admin       everything in the organization, the audit log included
  ta_manager  everything but the audit log: any campaign, whoever owns it (and campaigns
              for another owner), taking people off the do-not-contact list, erasing a
              person's data, emptying the mail catcher
  recruiter   creates campaigns and changes only the campaigns it owns; reads every
              campaign of the organization
  viewer      reads only (any change is 403 FORBIDDEN)

The organization and the user are created on the token's first request, with the token's
--email: the owner of a campaign gets its completion summary at that address (a user created
without one gets no summary)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="outreach", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser(
        "serve",
        help="run the API (and its scheduler)",
        description="Migrate the database, then serve the API (docs at /docs) and run the "
        "background jobs. Without DATABASE_URL, an embedded PostgreSQL under .data/.",
    )
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default: %(default)s; 0.0.0.0 for every interface)",
    )
    serve.add_argument(
        "--port",
        type=int,
        default=8000,
        help="port to listen on (default: %(default)s; 0 lets the system pick a free one)",
    )
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="API processes sharing the port (default: %(default)s)",
    )
    serve.add_argument(
        "--access-log",
        action=argparse.BooleanOptionalAction,
        help="log every request (default: OUTREACH_ACCESS_LOG, else on with "
        "OUTREACH_LOG_FORMAT=json and off with text)",
    )
    serve.set_defaults(handler=_serve)

    worker = commands.add_parser(
        "worker",
        help="run the background jobs without the API",
        description="Sending, planning and the scheduled jobs, without the API: run it next to "
        "`outreach serve` processes started with OUTREACH_RUN_JOBS=false, or as extra capacity.",
    )
    worker.set_defaults(handler=_worker)

    migrate = commands.add_parser("migrate", help="apply database migrations")
    migrate.set_defaults(handler=_migrate)

    token = commands.add_parser(
        "token",
        help="mint a JWT for local use",
        description="Mint a token signed with OUTREACH_JWT_SECRET, for local use.",
        epilog=ROLES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    token.add_argument(
        "--org",
        type=uuid.UUID,
        default=uuid.uuid4(),
        help="the organization's id (default: a new one, so a new organization)",
    )
    token.add_argument(
        "--user",
        type=uuid.UUID,
        default=uuid.uuid4(),
        help="the user's id (default: a new one, so a new user)",
    )
    token.add_argument(
        "--role",
        choices=[r.value for r in Role],
        default=Role.ADMIN.value,
        help="what the user may do (default: %(default)s; see the roles below)",
    )
    token.add_argument(
        "--email",
        help="the user's address, where the completion summaries of the campaigns it owns "
        "go; kept when the user is created (its first request), so give it from the start",
    )
    token.add_argument(
        "--hours",
        type=float,
        help="lifetime: 12 by default, at most OUTREACH_JWT_MAX_LIFETIME_HOURS (24 by default)",
    )
    token.set_defaults(handler=_token)

    imports = commands.add_parser(
        "import", help="import a CSV file of contacts, with a progress bar"
    )
    imports.add_argument("file", type=Path, help="the CSV file (UTF-8 or Windows-1252)")
    imports.add_argument(
        "--org", type=uuid.UUID, required=True, help="the organization to import into"
    )
    imports.add_argument(
        "--campaign", type=uuid.UUID, help="into this campaign; without it, the org's contacts"
    )
    imports.add_argument(
        "--user", type=uuid.UUID, help="acting as this user (an admin); by default, one per org"
    )
    imports.add_argument(
        "--mapping",
        help='CSV header -> field, as JSON: {"E-mail": "email", "Team": "custom_fields.team"}',
    )
    imports.set_defaults(handler=_import)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        settings = get_settings()
    except ValidationError as exc:
        print(f"refusing to start:\n{settings_problems(exc)}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.log_format)
    guard_log_handlers()
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except _Refused as exc:
        print(f"refusing to start: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
