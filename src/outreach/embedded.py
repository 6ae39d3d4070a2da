"""Embedded servers for local use: PostgreSQL under the data folder when DATABASE_URL is unset,
and an SMTP mail catcher, readable through the API, when OUTREACH_SMTP_URL is unset."""

import asyncio
import email
import email.policy
import hashlib
import json
import logging
import os
import socket
import uuid
import warnings
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from psycopg import sql
from psycopg_pool import ConnectionPool
from sqlalchemy import make_url

from outreach.config import Settings, get_settings
from outreach.kit.dburls import libpq_url
from outreach.kit.outage import is_unreachable, outage
from outreach.kit.processes import is_running
from outreach.kit.tenancy import set_org
from outreach.sending.transports.catcher import INSTANCE_HEADER, ORG_HEADER

log = logging.getLogger(__name__)


def start_embedded_postgres(data_dir: Path, database: str) -> str:
    """Start (or join) the embedded server and return a superuser URL to `database`."""
    with warnings.catch_warnings():
        # pgserver falls back to /tmp for its lock file when XDG_RUNTIME_DIR is unset: harmless
        warnings.simplefilter("ignore")
        from pgserver.postgres_server import get_server

    data_dir.mkdir(parents=True, exist_ok=True)
    pgdata = data_dir.resolve() / "postgres"
    _forget_dead_users(pgdata)
    log.info("starting embedded PostgreSQL in %s", pgdata)
    server = get_server(pgdata, cleanup_mode="stop")
    create_database_if_missing(server.get_uri("postgres"), database)
    return str(server.get_uri(database))


def create_database_if_missing(admin_url: str, database: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        query = "SELECT 1 FROM pg_database WHERE datname = %s"
        if not conn.execute(query, (database,)).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))


def _forget_dead_users(pgdata: Path) -> None:
    """pgserver stops the server when its last user process exits, counting users in a pid
    file; a process killed by a signal never removes itself, and the server then outlives
    everyone. Drop such pids before joining."""
    pid_file = pgdata / ".handle_pids.json"
    try:
        pids = json.loads(pid_file.read_text())
    except (OSError, ValueError):
        return
    alive = [pid for pid in pids if is_running(pid)]
    if alive != pids:
        pid_file.write_text(json.dumps(alive))


CATCHER_HOST = "127.0.0.1"
# The catcher's SMTP greeting says this and its instance: how another outreach process of the
# same database knows the port is its own catcher.
CATCHER_IDENT = "outreach mail catcher"
CAUGHT_MAIL_PATH = "/api/v1/mail-catcher/messages"
ACCEPTED = "250 Message accepted for delivery"
# Under the data folder: the port this folder's catcher listens on, kept across restarts.
PORT_FILE = "mail-catcher-port"


class MailCatcherUnavailable(Exception):
    """The catcher's port is taken by something that is not this database's mail catcher."""


def catcher_instance(app_url: str) -> str:
    """Names the database a catcher files mail into (its URL without the password): the
    embedded server's URL holds its data folder, so each checkout has its own."""
    url = make_url(app_url).set(password=None).render_as_string(hide_password=False)
    return hashlib.sha256(url.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class _Caught:
    org_id: uuid.UUID
    message_id: str | None
    mail_from: str
    recipients: list[str]
    subject: str | None
    raw: str


class CatcherHandler:
    """aiosmtpd handler: keeps each message in its organization's `caught_messages`.

    It writes as the application role with the organization set in the transaction, so row-level
    security holds here as in the API; a message naming no existing organization is refused.
    Mail meant for another database's catcher is refused with a 4xx: never filed here, and to
    its sender a delay to retry, not a hard bounce.
    """

    def __init__(self, pool: ConnectionPool[psycopg.Connection[Any]], instance: str) -> None:
        self._pool = pool
        self._instance = instance

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        message = email.message_from_bytes(content, policy=email.policy.default)
        meant_for = _header(message, INSTANCE_HEADER)
        if meant_for != self._instance:
            return (
                f"451 Not filed: this mail catcher keeps the mail of outreach database "
                f"{self._instance}, not of {meant_for or 'an unnamed one'}; retry later"
            )
        named = _header(message, ORG_HEADER)
        if named is None:
            return f"550 Refused: no {ORG_HEADER} header; the catcher keeps only outreach's mail"
        try:
            org_id = uuid.UUID(named)
        except ValueError:
            return f"550 Refused: {ORG_HEADER} is not an organization id"
        caught = _Caught(
            org_id=org_id,
            message_id=_header(message, "Message-ID"),
            mail_from=_text(envelope.mail_from or ""),
            recipients=[_text(rcpt) for rcpt in envelope.rcpt_tos],
            subject=_header(message, "Subject"),
            raw=_text(content.decode("utf-8", errors="replace")),
        )
        # A synchronous call blocks only the catcher's own thread and event loop: fine locally.
        try:
            stored = self._store(caught)
        except psycopg.Error as exc:
            if is_unreachable(exc):  # logged once per outage
                outage.failed(exc)
            else:
                log.exception("the mail catcher could not store a message")
            return "451 Requested action aborted: the message could not be stored"
        if not stored:
            return f"550 Refused: no organization {org_id}"
        return ACCEPTED

    def _store(self, caught: _Caught) -> bool:
        with self._pool.connection() as conn, conn.transaction():
            set_org(conn, caught.org_id)
            if not conn.execute(
                "SELECT 1 FROM organizations WHERE id = %s", (caught.org_id,)
            ).fetchone():
                return False
            conn.execute(
                "INSERT INTO caught_messages "
                "(org_id, message_id, mail_from, recipients, subject, raw) "
                "VALUES (%s, %s, %s, %s, %s, %s)",
                (
                    caught.org_id,
                    caught.message_id,
                    caught.mail_from,
                    caught.recipients,
                    caught.subject,
                    caught.raw,
                ),
            )
        return True


def _header(message: email.message.EmailMessage, name: str) -> str | None:
    try:
        value = message.get(name)
    except (ValueError, IndexError):  # the parser gives up on some malformed headers
        return None
    text = _text(str(value)).strip() if value is not None else ""
    return text or None


def _text(value: str) -> str:
    # PostgreSQL text cannot hold NUL.
    return value.replace("\x00", "\ufffd")


class _Controller(Controller):
    """Learns the bound port before the controller's readiness check (port 0: any free port)."""

    def _create_server(self) -> Awaitable[asyncio.AbstractServer]:
        created = super()._create_server()

        async def bound() -> asyncio.AbstractServer:
            server = await created
            assert isinstance(server, asyncio.Server)  # what loop.create_server gives
            self.port = server.sockets[0].getsockname()[1]
            return server

        return bound()


class MailCatcher:
    """The embedded SMTP server on loopback; what it receives is read at CAUGHT_MAIL_PATH."""

    def __init__(
        self, app_url: str, port: int, host: str = CATCHER_HOST, instance: str | None = None
    ) -> None:
        self.instance = instance or catcher_instance(app_url)
        self._pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            libpq_url(app_url),
            min_size=1,
            max_size=2,
            open=False,
            # Less than a sending client waits for its answer (30 s), so it hears a 451.
            timeout=10,
            # A connection the server closed (a restart) is replaced before it fails a message.
            check=ConnectionPool.check_connection,
            name="mail-catcher",
        )
        self._controller = _Controller(
            CatcherHandler(self._pool, self.instance),
            hostname=host,
            port=port,
            ident=f"{CATCHER_IDENT} {self.instance}",
        )

    @property
    def host(self) -> str:
        return str(self._controller.hostname)

    @property
    def port(self) -> int:
        return int(self._controller.port)

    @property
    def smtp_url(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    def start(self) -> None:
        """Listen; raises OSError when the port is taken."""
        try:
            self._controller.start()
        except BaseException:
            loop = self._controller.loop
            if loop.is_running():  # started but never answered: stopping closes the loop
                self._controller.stop(no_assert=True)
            else:  # could not bind: its thread gave up without closing the loop
                loop.close()
            raise
        self._pool.open()

    def stop(self) -> None:
        self._controller.stop()
        self._pool.close()


def is_mail_catcher(host: str, port: int, instance: str, timeout: float = 1.0) -> bool:
    """Whether the mail catcher of `instance` answers at host:port (judged by its greeting)."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as conn:
            greeting = conn.recv(1024)
    except OSError:
        return False
    return greeting.startswith(b"220 ") and f"{CATCHER_IDENT} {instance}".encode() in greeting


def start_mail_catcher_if_needed(settings: Settings, app_url: str) -> MailCatcher | None:
    """With no OUTREACH_SMTP_URL, point it (for this process and its children) at this
    database's mail catcher, started here unless another process of the same database (say
    `outreach worker` beside `outreach serve`) already runs it. Its port is
    OUTREACH_MAIL_CATCHER_PORT, else the one recorded under the data folder, else a free one
    (then recorded). Returns the catcher this call started, to stop on exit; None when it
    started none."""
    if settings.smtp_url:
        return None
    instance = catcher_instance(app_url)
    port_file = settings.data_dir / PORT_FILE
    port = settings.mail_catcher_port or _recorded_port(port_file)
    catcher: MailCatcher | None = None
    if port is not None and is_mail_catcher(CATCHER_HOST, port, instance):
        log.info("another outreach process runs the mail catcher on %s:%d", CATCHER_HOST, port)
    elif port is not None and _port_free(CATCHER_HOST, port):
        catcher = _start_catcher(app_url, port, instance)
    elif settings.mail_catcher_port:
        taken = "the port is taken by another program or outreach database"
        raise _unavailable(settings.mail_catcher_port, taken)
    else:  # none recorded yet, or the recorded port is another's now: any free one
        catcher = MailCatcher(app_url, 0, instance=instance)
        catcher.start()
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        port_file.write_text(str(catcher.port))
    port = catcher.port if catcher is not None else port
    os.environ["OUTREACH_SMTP_URL"] = f"smtp://{CATCHER_HOST}:{port}"
    os.environ["OUTREACH_MAIL_CATCHER"] = instance
    get_settings.cache_clear()
    print(
        f"OUTREACH_SMTP_URL is unset: mail goes to the mail catcher on {CATCHER_HOST}:{port}; "
        f"read caught mail at {CAUGHT_MAIL_PATH}"
    )
    return catcher


def _recorded_port(port_file: Path) -> int | None:
    try:
        port = int(port_file.read_text())
    except (OSError, ValueError):
        return None
    return port if 0 < port < 65536 else None


def _start_catcher(app_url: str, port: int, instance: str) -> MailCatcher | None:
    """The catcher started on `port`; None when another process of this database started it
    there first (both saw the port free)."""
    catcher = MailCatcher(app_url, port, instance=instance)
    try:
        catcher.start()
    except OSError as exc:
        if is_mail_catcher(CATCHER_HOST, port, instance):
            return None
        raise _unavailable(port, str(exc)) from exc
    return catcher


def _port_free(host: str, port: int) -> bool:
    # Checked before starting: a controller that cannot bind waits out its whole ready timeout.
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def _unavailable(port: int, reason: str) -> MailCatcherUnavailable:
    return MailCatcherUnavailable(
        f"the mail catcher cannot listen on {CATCHER_HOST}:{port}: {reason}. Set "
        "OUTREACH_MAIL_CATCHER_PORT to a free port (or unset it: a free port is chosen per "
        "data folder), or OUTREACH_SMTP_URL to an SMTP server."
    )
