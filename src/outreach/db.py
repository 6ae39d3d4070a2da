"""Database wiring: which URLs to use, the engine, and its sessions (whose organization
`kit/tenancy` sets)."""

import select
from dataclasses import dataclass
from typing import Any

import psycopg
from sqlalchemy import event, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from outreach.config import Settings
from outreach.embedded import start_embedded_postgres
from outreach.kit.dburls import sqlalchemy_url
from outreach.kit.outage import outage
from outreach.kit.tenancy import TenantSession

EMBEDDED_DATABASE = "outreach"


@dataclass(frozen=True)
class DatabaseUrls:
    app: str  # the application's role: subject to row-level security
    owner: str  # owns the schema; runs migrations

    @property
    def app_role(self) -> str:
        return make_url(self.app).username or ""

    @property
    def app_password(self) -> str | None:
        return make_url(self.app).password


def resolve_database_urls(settings: Settings) -> DatabaseUrls:
    """DATABASE_URL (and DATABASE_OWNER_URL) when set; otherwise the embedded server."""
    if settings.database_url:
        return DatabaseUrls(
            app=settings.database_url, owner=settings.database_owner_url or settings.database_url
        )
    owner = start_embedded_postgres(settings.data_dir, EMBEDDED_DATABASE)
    app = make_url(owner).set(username=settings.app_role, password=None)
    return DatabaseUrls(app=app.render_as_string(hide_password=False), owner=owner)


def create_engine(url: str, pool_size: int = 20, **kwargs: Any) -> AsyncEngine:
    # Connections beyond pool_size are closed on return: under steady load that means a new
    # connection per request, so the pool itself must be as large as the expected concurrency.
    engine = create_async_engine(
        sqlalchemy_url(url),
        pool_size=pool_size,
        max_overflow=pool_size // 2,
        pool_pre_ping=False,
        **kwargs,
    )
    event.listen(engine.sync_engine, "checkout", _discard_if_closed_by_server)
    event.listen(engine.sync_engine, "connect", lambda *_: outage.reached())
    return engine


def _discard_if_closed_by_server(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    """An idle connection has nothing to read unless the server has ended it (a restart, an
    admin's pg_terminate_backend): its goodbye, or the end of the stream. Such a connection is
    replaced before use, so a restart costs no request, for one poll instead of a ping's round
    trip."""
    pending = select.poll()
    try:
        pending.register(record.driver_connection.pgconn.socket, select.POLLIN)
    except psycopg.OperationalError as exc:  # the connection is already closed
        raise DisconnectionError("the connection is closed") from exc
    if pending.poll(0):
        raise DisconnectionError("the server closed this connection")


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, sync_session_class=TenantSession, expire_on_commit=False)
