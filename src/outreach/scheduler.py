"""The background jobs of a process: the embedded scheduler, which only wakes each domain's
jobs up, and the send loop. The jobs claim their work in PostgreSQL, so any number of processes
may run them. Every run is recorded (jobs/runs.py)."""

import asyncio
import contextlib
import logging
from functools import partial

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from outreach.analytics import jobs as analytics_jobs
from outreach.campaigns import jobs as campaigns_jobs
from outreach.config import Settings
from outreach.events import jobs as events_jobs
from outreach.jobs.registry import Job
from outreach.jobs.runs import JobReport, run_recorded
from outreach.kit.dburls import libpq_url
from outreach.sending.delivery.worker import SendingContext, run_send_loop
from outreach.sending.planner import jobs as planner_jobs
from outreach.sending.secrets import sender_secrets
from outreach.tracking.tokens import TrackingSigner
from outreach.workflows.engine import jobs as engine_jobs
from outreach.workflows.splits import jobs as splits_jobs
from outreach.workflows.triggers import jobs as triggers_jobs

log = logging.getLogger(__name__)

# An SMTP transaction may take up to its timeout (30 s) to finish before a clean stop.
STOP_SECONDS = 35.0


# Every periodic job, as its domain declares it; the send loop (below) runs continuously.
JOBS: tuple[Job, ...] = (
    *campaigns_jobs.JOBS,
    *analytics_jobs.JOBS,
    *events_jobs.JOBS,
    *planner_jobs.JOBS,
    *splits_jobs.JOBS,
    *engine_jobs.JOBS,
    *triggers_jobs.JOBS,
)
SEND_LOOP = "send_loop"


def _scheduler(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone="UTC")
    if settings.run_jobs:
        for job in JOBS:
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
    """The scheduler's periodic jobs and the send loop, started and stopped together. On stop,
    the message being sent is finished and recorded; the rest of its batch is released."""

    def __init__(self, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.settings = settings
        self.sessionmaker = sessionmaker
        self.scheduler = _scheduler(settings, sessionmaker)
        engine_url = sessionmaker.kw["bind"].url.render_as_string(hide_password=False)
        self.sending = SendingContext(
            settings=settings,
            dsn=libpq_url(engine_url),
            signer=TrackingSigner(settings.tracking_secrets),
            secrets=sender_secrets(tuple(settings.sender_secret_keys)),
        )
        self._send_loop: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.scheduler.start()
        if self.settings.run_jobs:
            self._send_loop = asyncio.create_task(self._send_forever())

    async def stop(self) -> None:
        self.scheduler.shutdown(wait=False)
        self.sending.stopping.set()
        if self._send_loop is not None:
            try:
                await asyncio.wait_for(self._send_loop, STOP_SECONDS)
            except TimeoutError:
                log.warning("the send loop did not stop within %s s", STOP_SECONDS)

    async def _send_forever(self) -> None:
        stopping = self.sending.stopping

        async def send() -> JobReport:
            handled = await run_send_loop(self.sessionmaker, self.sending)
            return JobReport(handled, f"handled {handled} messages")

        while not stopping.is_set():
            report = await run_recorded(self.sessionmaker, SEND_LOOP, send)
            if report.done == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), self.settings.send_poll_seconds)


def start_background_jobs(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> BackgroundJobs:
    jobs = BackgroundJobs(settings, sessionmaker)
    jobs.start()
    return jobs
