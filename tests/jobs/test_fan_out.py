"""The one fan-out over organizations: the send loop's pass takes the organizations with due
outbox messages, the longest due first, at most `limit` of them, and stops when told; the
workflow engine's, those with walks due by its clock."""

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from outreach.db import DatabaseUrls
from outreach.jobs.runs import for_each_org
from tests.factories import run_job

LONG_AGO = "1971-01-01"  # before anything the other tests make due


def directory_entries(as_owner: Any, count: int) -> list[uuid.UUID]:
    """Organizations in the jobs' directory, due one second apart, the first longest due."""
    org_ids = [uuid.uuid4() for _ in range(count)]
    for second, org_id in enumerate(org_ids):
        as_owner.execute(
            "INSERT INTO tenant_directory (id, outbox_due_at) "
            "VALUES (%s, %s::timestamptz + make_interval(secs => %s))",
            (org_id, LONG_AGO, second),
        )
    return org_ids


def visited(database_urls: DatabaseUrls, **options: Any) -> list[uuid.UUID]:
    seen: list[uuid.UUID] = []

    async def visit(org_id: uuid.UUID) -> None:
        seen.append(org_id)

    async def job(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        await for_each_org(sessionmaker, visit, "visiting", outbox_due=True, **options)

    run_job(database_urls, job)
    return seen


def test_due_organizations_come_longest_due_first_and_at_most_limit(
    database_urls: DatabaseUrls, as_owner: Any
) -> None:
    org_ids = directory_entries(as_owner, 3)
    try:
        assert visited(database_urls, limit=2) == org_ids[:2]
    finally:
        as_owner.execute("DELETE FROM tenant_directory WHERE id = ANY(%s)", (org_ids,))


def test_a_stopping_pass_visits_no_more_organizations(
    database_urls: DatabaseUrls, as_owner: Any
) -> None:
    org_ids = directory_entries(as_owner, 1)
    stopping = asyncio.Event()
    stopping.set()
    try:
        assert visited(database_urls, limit=1, stopping=stopping) == []
    finally:
        as_owner.execute("DELETE FROM tenant_directory WHERE id = ANY(%s)", (org_ids,))


def test_the_engine_s_pass_takes_organizations_with_walks_due_by_its_clock(
    database_urls: DatabaseUrls, as_owner: Any
) -> None:
    due, later = uuid.uuid4(), uuid.uuid4()
    for org_id, at in ((due, "1971-01-01"), (later, "1971-01-03")):
        as_owner.execute(
            "INSERT INTO tenant_directory (id, workflow_due_at) VALUES (%s, %s)", (org_id, at)
        )
    seen: list[uuid.UUID] = []

    async def visit(org_id: uuid.UUID) -> None:
        seen.append(org_id)

    async def job(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        moment = datetime(1971, 1, 2, tzinfo=UTC)  # the engine's clock
        await for_each_org(sessionmaker, visit, "walking", workflow_due_at=moment, limit=10)

    try:
        run_job(database_urls, job)
        assert seen == [due]
    finally:
        as_owner.execute("DELETE FROM tenant_directory WHERE id = ANY(%s)", ([due, later],))
