"""The one tenancy path: every session or connection that sees tenant rows gets its
organization here, and nowhere else.

Row-level security reads `app.org_id`. A SQLAlchemy session opened by `org_session` sets it
at the start of each of its transactions (`set_config(..., true)`), so a pooled connection
never carries it into the next transaction; a session with no organization sees no tenant
rows at all. Raw psycopg connections get it from `set_org` (one transaction) or
`org_connection` (a connection of its own, never pooled); `pipelined_in_org` runs a few
statements in one transaction of the organization in a single round trip.
"""

import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import psycopg
from psycopg.rows import dict_row
from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session, SessionTransaction

SET_ORG = "SELECT set_config('app.org_id', %s, %s)"


class TenantSession(Session):
    """A session whose transactions run with `app.org_id` set from `info["org_id"]`."""


@event.listens_for(TenantSession, "after_begin")
def _set_org_for_transaction(
    session: Session, transaction: SessionTransaction, connection: Connection
) -> None:
    org_id: uuid.UUID | None = session.info.get("org_id")
    connection.execute(
        text("SELECT set_config('app.org_id', :org_id, true)"),
        {"org_id": str(org_id) if org_id else ""},
    )


def org_session(sessionmaker: async_sessionmaker[AsyncSession], org_id: uuid.UUID) -> AsyncSession:
    """A session whose transactions see the organization's rows (row-level security)."""
    session = sessionmaker()
    session.info["org_id"] = org_id
    return session


def set_org(connection: psycopg.Connection[Any], org_id: uuid.UUID) -> None:
    """The organization for the connection's current transaction only."""
    connection.execute(SET_ORG, (str(org_id), True))


async def org_connection(dsn: str, org_id: uuid.UUID) -> psycopg.AsyncConnection[Any]:
    """A connection of its own in autocommit, with the organization set for its whole
    session: the caller closes it, it is never pooled, so the setting reaches nothing else."""
    connection = await psycopg.AsyncConnection.connect(dsn, autocommit=True)
    await connection.execute(SET_ORG, (str(org_id), False))
    return connection


Rows = list[dict[str, Any]]


async def pipelined_in_org(
    engine: AsyncEngine,
    org_id: uuid.UUID,
    statements: Sequence[tuple[str, Mapping[str, Any]]],
    *,
    durable: bool = True,
) -> list[Rows]:
    """The rows of each statement (psycopg `%(name)s` parameters), run in one transaction of
    the organization on a pooled connection. They go out in one pipeline: the begin, the
    organization, the statements and the commit cost one round trip, where a session costs
    four. For the work every request does before its route (the API key, the rate limit).
    `durable=False` does not wait for the commit to reach the disk: a crash of the database
    may lose the last moments of such writes, never make them half-done."""
    async with engine.connect() as connection:
        raw = (await connection.get_raw_connection()).driver_connection
        assert isinstance(raw, psycopg.AsyncConnection)
        try:
            async with raw.pipeline():
                await raw.execute(SET_ORG, (str(org_id), True))
                if not durable:
                    await raw.execute("SET LOCAL synchronous_commit = off")
                cursors = []
                for statement, params in statements:
                    cursor = raw.cursor(row_factory=dict_row)
                    await cursor.execute(statement, params)
                    cursors.append(cursor)
                await raw.commit()
            return [await cursor.fetchall() for cursor in cursors]
        except psycopg.Error as exc:
            if raw.broken:
                await connection.invalidate()
            # As SQLAlchemy would have raised it, so the usual handlers answer (503 when the
            # database is unreachable); the pool rolls the connection back when it gets it.
            raise DBAPIError.instance(None, None, exc, psycopg.Error) from exc


async def each_org_in_turn(
    session: AsyncSession, org_ids: list[uuid.UUID]
) -> AsyncIterator[uuid.UUID]:
    """Within the session's open transaction, sets each organization in turn and yields it: the
    statements run before the next one see that organization's rows alone. For read-only
    rounds over many organizations (the metrics' counts), one transaction instead of one each;
    the setting ends with the transaction."""
    for org_id in org_ids:
        await session.execute(
            text("SELECT set_config('app.org_id', :org_id, true)"), {"org_id": str(org_id)}
        )
        yield org_id
