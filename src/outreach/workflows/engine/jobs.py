"""The engine's job: every second, walk the due states of every organization that has some.
Claimed work (SKIP LOCKED), so any number of processes may run it."""

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from outreach.config import Settings
from outreach.jobs.registry import JobList, seconds
from outreach.jobs.runs import JobReport
from outreach.workflows.engine.clock import SystemClock
from outreach.workflows.engine.service import EngineContext, run_due

JOBS = JobList()


# A second between passes keeps the delay from a wait's end (or its event) to the next step
# under two seconds.
@JOBS.add("workflow_engine", every=seconds(1))
async def _walk(settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]) -> JobReport:
    ctx = EngineContext.for_settings(settings, SystemClock())
    executed = await run_due(sessionmaker, ctx)
    return JobReport(executed, f"executed {executed} workflow nodes")
