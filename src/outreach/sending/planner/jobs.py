"""The planner's job: starting contacts of active campaigns."""

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from outreach.config import Settings
from outreach.jobs.registry import JobList
from outreach.jobs.runs import JobReport
from outreach.sending.planner.service import plan_all

JOBS = JobList()


@JOBS.add("plan_campaigns", every=lambda settings: settings.plan_minutes * 60)
async def _plan(settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]) -> JobReport:
    return (await plan_all(sessionmaker, settings)).report()
