"""The embedded scheduler: it only wakes each domain's jobs up; the jobs claim their work in
PostgreSQL, so any number of processes may run it. Every run is recorded (jobs/runs.py)."""

from collections.abc import Awaitable, Callable

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from outreach.campaigns.jobs import (
    activate_scheduled_campaigns,
    archive_and_expire_campaigns,
    complete_finished_campaigns,
    send_completion_summaries,
)
from outreach.config import Settings
from outreach.events.jobs import reconcile_all_counters
from outreach.jobs.runs import JobReport, run_recorded
from outreach.sending.planner import plan_all
from outreach.sending.secrets import sender_secrets
from outreach.sending.worker import SendingContext, run_send_loop
from outreach.tracking.tokens import TrackingSigner


def start_scheduler(
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

    sending = SendingContext(
        settings=settings,
        signer=TrackingSigner(settings.tracking_secrets),
        secrets=sender_secrets(tuple(settings.sender_secret_keys)),
    )

    async def send() -> JobReport:
        sent = await run_send_loop(sessionmaker, sending)
        return JobReport(sent, f"handled {sent} messages")

    async def plan() -> JobReport:
        started = await plan_all(sessionmaker, settings)
        return JobReport(started, f"started {started} campaign contacts")

    if settings.run_jobs:
        every(settings.reconcile_minutes * 60, "reconcile_counters", reconcile)
        every(30, "activate_scheduled_campaigns", activate)
        every(30, "complete_finished_campaigns", complete)
        every(60, "send_completion_summaries", summaries)
        every(3600, "archive_and_expire_campaigns", archive)
        every(settings.send_poll_seconds, "send_loop", send)
        every(settings.plan_minutes * 60, "plan_campaigns", plan)
    scheduler.start()
    return scheduler
