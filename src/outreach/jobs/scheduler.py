"""The embedded scheduler: it only wakes each domain's jobs up; the jobs claim their work in
PostgreSQL, so any number of processes may run it."""

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from outreach.config import Settings
from outreach.events.jobs import reconcile_all_counters
from outreach.sending.planner import plan_all
from outreach.sending.secrets import sender_secrets
from outreach.sending.worker import SendingContext, run_send_loop
from outreach.tracking.tokens import TrackingSigner


def start_scheduler(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone="UTC")
    every = {"max_instances": 1, "coalesce": True}
    scheduler.add_job(
        reconcile_all_counters,
        "interval",
        minutes=settings.reconcile_minutes,
        args=[sessionmaker],
        id="reconcile_counters",
        **every,
    )
    sending = SendingContext(
        settings=settings,
        signer=TrackingSigner(settings.tracking_secrets),
        secrets=sender_secrets(tuple(settings.sender_secret_keys)),
    )
    scheduler.add_job(
        run_send_loop,
        "interval",
        seconds=settings.send_poll_seconds,
        args=[sessionmaker, sending],
        id="send_loop",
        **every,
    )
    scheduler.add_job(
        plan_all,
        "interval",
        minutes=settings.plan_minutes,
        args=[sessionmaker, settings],
        id="plan_campaigns",
        **every,
    )
    scheduler.start()
    return scheduler
