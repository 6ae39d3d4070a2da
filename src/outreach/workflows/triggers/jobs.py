"""The trigger jobs: tag and score changes taken every few seconds, schedules every minute.
Each runs per organization in a transaction of its own; any number of processes may run them
(signals are taken with SKIP LOCKED, enrollment is one state per contact)."""

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from outreach.config import Settings
from outreach.jobs.registry import JobList, seconds
from outreach.jobs.runs import JobReport, for_each_org, with_failures
from outreach.kit.tenancy import org_session
from outreach.workflows.triggers import service

JOBS = JobList()

OrgWork = Callable[[AsyncSession, Settings, datetime, list[uuid.UUID]], Awaitable[int]]


async def run_triggers(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], work: OrgWork, what: str
) -> JobReport:
    failed: list[uuid.UUID] = []

    async def org_work(org_id: uuid.UUID) -> int:
        async with org_session(sessionmaker, org_id) as session, session.begin():
            return await work(session, settings, datetime.now(UTC), failed)

    outcome = await for_each_org(sessionmaker, org_work, what)
    enrolled = sum(outcome.results.values())
    return JobReport(
        enrolled,
        with_failures(f"enrolled {enrolled} contacts", outcome.failed, failed),
        ok=not (outcome.failed or failed),
    )


@JOBS.add("enroll_on_contact_changes", every=seconds(5))
async def enroll_on_contact_changes(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> JobReport:
    return await run_triggers(
        settings, sessionmaker, service.enroll_on_signals, "tag and score triggers"
    )


@JOBS.add("enroll_on_schedule", every=seconds(60))
async def enroll_on_schedule(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> JobReport:
    return await run_triggers(
        settings, sessionmaker, service.enroll_on_schedule, "scheduled triggers"
    )


@JOBS.add("enroll_segments", every=seconds(60))
async def enroll_segments(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> JobReport:
    return await run_triggers(
        settings, sessionmaker, service.enroll_followed_segments, "segment enrollments"
    )
