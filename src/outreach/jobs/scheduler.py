"""The embedded scheduler: it only wakes each domain's jobs up; the jobs claim their work in
PostgreSQL, so any number of processes may run it."""

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from outreach.config import Settings
from outreach.events.jobs import reconcile_all_counters


def start_scheduler(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone="UTC")
    scheduler.add_job(
        reconcile_all_counters,
        "interval",
        minutes=settings.reconcile_minutes,
        args=[sessionmaker],
        id="reconcile_counters",
        max_instances=1,
        coalesce=True,
    )
    scheduler.start()
    return scheduler
