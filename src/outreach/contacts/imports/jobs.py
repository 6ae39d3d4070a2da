"""The `contact_imports` job: each organization's waiting imports, claimed one at a time
(leased, SKIP LOCKED, so any number of processes share them) and run to their end; an import
whose worker stopped is taken up after its lease, where its last batch left it."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from outreach.config import Settings
from outreach.contacts.imports.service import run_import
from outreach.jobs.registry import JobList, seconds
from outreach.jobs.runs import JobReport, for_each_org, with_failures

JOBS = JobList()


async def run_waiting_imports(sessionmaker: async_sessionmaker[AsyncSession]) -> JobReport:
    async def org_work(org_id: uuid.UUID) -> int:
        ran = 0
        while await run_import(sessionmaker, org_id) is not None:
            ran += 1
        return ran

    outcome = await for_each_org(sessionmaker, org_work, "contact imports")
    ran = sum(outcome.results.values())
    return JobReport(
        ran, with_failures(f"ran {ran} imports", outcome.failed), ok=not outcome.failed
    )


@JOBS.add("contact_imports", every=seconds(5))
async def _run_imports(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> JobReport:
    return await run_waiting_imports(sessionmaker)
