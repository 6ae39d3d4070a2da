"""What counts as the database being unreachable: connection failures and server shutdowns,
not a statement's own error."""

import asyncio
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import make_url, text
from sqlalchemy.exc import TimeoutError as PoolTimeout

from outreach.db import DatabaseUrls, create_engine
from outreach.kit.dburls import libpq_url
from outreach.kit.outage import OutageLog, is_unreachable


def failure(url: str, statement: str = "SELECT 1") -> BaseException:
    async def run() -> BaseException:
        engine = create_engine(url, pool_size=1)
        try:
            async with engine.connect() as conn:
                await conn.execute(text(statement))
        except Exception as exc:  # noqa: BLE001 - the error is what the test looks at
            return exc
        finally:
            await engine.dispose()
        raise AssertionError(f"{statement} did not fail")

    return asyncio.run(run())


def test_a_refused_connection_is_unreachable(database_urls: DatabaseUrls, tmp_path: Path) -> None:
    nowhere = make_url(database_urls.app).set(query={"host": str(tmp_path)})
    assert is_unreachable(failure(nowhere.render_as_string(hide_password=False)))


def test_a_terminated_session_is_unreachable(
    database_urls: DatabaseUrls, as_owner: psycopg.Connection
) -> None:
    with psycopg.connect(libpq_url(database_urls.app)) as victim:
        pid = victim.info.backend_pid
        as_owner.execute("SELECT pg_terminate_backend(%s)", (pid,))
        with pytest.raises(psycopg.OperationalError) as ended:
            victim.execute("SELECT 1")
    assert ended.value.sqlstate == "57P01"
    assert is_unreachable(ended.value)


def test_an_exhausted_pool_is_unreachable() -> None:
    assert is_unreachable(PoolTimeout("QueuePool limit reached, connection timed out"))


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT * FROM no_such_table",  # 42P01
        "SELECT 1/0",  # 22012
        "SELECT 'x'::uuid",  # 22P02
        "SELECT FROM",  # 42601
    ],
)
def test_a_statements_own_error_is_not(database_urls: DatabaseUrls, statement: str) -> None:
    assert not is_unreachable(failure(database_urls.app, statement))


def test_a_cancelled_statement_is_not(database_urls: DatabaseUrls) -> None:
    with psycopg.connect(libpq_url(database_urls.app)) as conn:
        conn.execute("SET statement_timeout = 10")
        with pytest.raises(psycopg.OperationalError) as cancelled:
            conn.execute("SELECT pg_sleep(1)")
    assert cancelled.value.sqlstate == "57014"
    assert not is_unreachable(cancelled.value)


def test_an_outage_is_logged_once_each_way(caplog: pytest.LogCaptureFixture) -> None:
    outage = OutageLog()
    for _ in range(3):
        outage.failed(psycopg.OperationalError("connection refused\nis the server running?"))
    for _ in range(2):
        outage.reached()
    lines = [record.getMessage() for record in caplog.records]
    assert len(lines) == 2
    assert lines[0] == "database unreachable: connection refused is the server running?"
    assert lines[1].startswith("database reachable again after ")
