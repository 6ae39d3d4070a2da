"""The background jobs of a process: the embedded scheduler, which only wakes each domain's
jobs up, and the send loop. The jobs claim their work in PostgreSQL, so any number of processes
may run them. Every run is recorded (jobs/runs.py)."""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from outreach.analytics.jobs import send_completion_summaries
from outreach.campaigns.jobs import (
    activate_scheduled_campaigns,
    archive_and_expire_campaigns,
    complete_finished_campaigns,
)
from outreach.config import Settings
from outreach.events.jobs import reconcile_all_counters
from outreach.jobs.runs import JobReport, run_recorded
from outreach.kit.dburls import libpq_url
from outreach.sending.delivery.worker import SendingContext, run_send_loop
from outreach.sending.planner.service import plan_all
from outreach.sending.secrets import sender_secrets
from outreach.tracking.tokens import TrackingSigner

log = logging.getLogger(__name__)

# An SMTP transaction may take up to its timeout (30 s) to finish before a clean stop.
STOP_SECONDS = 35.0


def _scheduler(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone="UTC")

    def every(seconds: float, name: str, job: Callable[[], Awaitable[JobReport]]) -> None:
        scheduler.add_job(
            run_recorded,
            "interval",
            seconds=seconds,
            args=[sessionmaker, name, job],
            id=name,
            max_instances=1,
            coalesce=True,
        )

    async def reconcile() -> JobReport:
        repaired = await reconcile_all_counters(sessionmaker)
        return JobReport(repaired, f"repaired the counters of {repaired} campaigns")

    async def activate() -> JobReport:
        return (await activate_scheduled_campaigns(sessionmaker)).report()

    async def complete() -> JobReport:
        return (await complete_finished_campaigns(sessionmaker)).report()

    async def summaries() -> JobReport:
        return (await send_completion_summaries(settings, sessionmaker)).report()

    async def archive() -> JobReport:
        return (await archive_and_expire_campaigns(settings, sessionmaker)).report()

    async def plan() -> JobReport:
        return (await plan_all(sessionmaker, settings)).report()

    if settings.run_jobs:
        every(settings.reconcile_minutes * 60, "reconcile_counters", reconcile)
        every(30, "activate_scheduled_campaigns", activate)
        every(30, "complete_finished_campaigns", complete)
        every(60, "send_completion_summaries", summaries)
        every(3600, "archive_and_expire_campaigns", archive)
        every(settings.plan_minutes * 60, "plan_campaigns", plan)
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
            report = await run_recorded(self.sessionmaker, "send_loop", send)
            if report.done == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), self.settings.send_poll_seconds)


def start_background_jobs(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> BackgroundJobs:
    jobs = BackgroundJobs(settings, sessionmaker)
    jobs.start()
    return jobs
