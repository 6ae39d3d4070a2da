"""The background jobs of a process: the embedded scheduler, which only wakes each domain's
periodic jobs up, and the continuous ones (the send loop), each a task of its own. The jobs
claim their work in PostgreSQL, so any number of processes may run them. Every run is recorded
(jobs/runs.py)."""

import asyncio
import contextlib
import logging
from functools import partial

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from outreach.analytics import jobs as analytics_jobs
from outreach.campaigns import jobs as campaigns_jobs
from outreach.config import Settings
from outreach.contacts.imports import jobs as imports_jobs
from outreach.events import jobs as events_jobs
from outreach.jobs.registry import Job, Loop, Pass
from outreach.jobs.runs import run_recorded
from outreach.mailboxes import jobs as mailboxes_jobs
from outreach.sending.delivery import jobs as delivery_jobs
from outreach.sending.planner import jobs as planner_jobs
from outreach.webhooks import jobs as webhooks_jobs
from outreach.workflows.engine import jobs as engine_jobs
from outreach.workflows.splits import jobs as splits_jobs
from outreach.workflows.triggers import jobs as triggers_jobs

log = logging.getLogger(__name__)

# An SMTP transaction may take up to its timeout (30 s) to finish before a clean stop.
STOP_SECONDS = 35.0


# Every job, as its domain declares it.
JOBS: tuple[Job | Loop, ...] = (
    *campaigns_jobs.JOBS,
    *analytics_jobs.JOBS,
    *events_jobs.JOBS,
    *planner_jobs.JOBS,
    *delivery_jobs.JOBS,
    *splits_jobs.JOBS,
    *engine_jobs.JOBS,
    *triggers_jobs.JOBS,
    *mailboxes_jobs.JOBS,
    *imports_jobs.JOBS,
    *webhooks_jobs.JOBS,
)


def _scheduler(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone="UTC")
    if settings.run_jobs:
        for job in JOBS:
            if not isinstance(job, Job):
                continue
            scheduler.add_job(
                run_recorded,
                "interval",
                seconds=job.every(settings),
                args=[sessionmaker, job.name, partial(job.run, settings, sessionmaker)],
                id=job.name,
                name=job.name,
                max_instances=1,
                coalesce=True,
            )
    return scheduler


class BackgroundJobs:
    """The scheduler's periodic jobs and the continuous ones, started and stopped together. On
    stop, the message being sent is finished and recorded; the rest of its batch is released."""

    def __init__(self, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.settings = settings
        self.sessionmaker = sessionmaker
        self.scheduler = _scheduler(settings, sessionmaker)
        self.stopping = asyncio.Event()
        self._loops: dict[str, asyncio.Task[None]] = {}

    def start(self) -> None:
        self.scheduler.start()
        if not self.settings.run_jobs:
            return
        for job in JOBS:
            if isinstance(job, Loop):
                one_pass = job.start(self.settings, self.sessionmaker, self.stopping)
                self._loops[job.name] = asyncio.create_task(self.run_forever(job, one_pass))

    async def stop(self) -> None:
        self.scheduler.shutdown(wait=False)
        self.stopping.set()
        await asyncio.gather(*(self._stopped(name, task) for name, task in self._loops.items()))

    async def _stopped(self, name: str, task: asyncio.Task[None]) -> None:
        try:
            await asyncio.wait_for(task, STOP_SECONDS)
        except TimeoutError:
            log.warning("job %s did not stop within %s s", name, STOP_SECONDS)

    async def run_forever(self, loop: Loop, one_pass: Pass) -> None:
        while not self.stopping.is_set():
            report = await run_recorded(self.sessionmaker, loop.name, one_pass)
            if report.done == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stopping.wait(), loop.idle(self.settings))


def start_background_jobs(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> BackgroundJobs:
    jobs = BackgroundJobs(settings, sessionmaker)
    jobs.start()
    return jobs
