"""The engine as a job: pass after pass over the organizations with due walks, a second apart
when a pass finds nothing, so a wait that ends or an event that comes is walked on within about
a second. Claimed work (SKIP LOCKED), so any number of processes may run it."""

import asyncio

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from outreach.config import Settings
from outreach.jobs.registry import JobList, Pass, seconds
from outreach.jobs.runs import JobReport
from outreach.workflows.engine.clock import SystemClock
from outreach.workflows.engine.service import EngineContext, run_due

JOBS = JobList()
IDLE_SECONDS = 1.0


@JOBS.loop("workflow_engine", idle=seconds(IDLE_SECONDS))
def _engine(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], stopping: asyncio.Event
) -> Pass:
    ctx = EngineContext.for_settings(settings, SystemClock())

    async def walk() -> JobReport:
        executed = await run_due(sessionmaker, ctx, stopping=stopping)
        return JobReport(executed, f"executed {executed} workflow nodes")

    return walk
