"""The send loop as a job: it runs continuously, pass after pass, while the process runs."""

import asyncio

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from outreach.config import Settings
from outreach.jobs.registry import JobList, Pass
from outreach.jobs.runs import JobReport
from outreach.kit.dburls import libpq_url
from outreach.sending.delivery.worker import SendingContext, run_send_loop

JOBS = JobList()


@JOBS.loop("send_loop", idle=lambda settings: settings.send_poll_seconds)
def _send_loop(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], stopping: asyncio.Event
) -> Pass:
    # The per-message commits go through psycopg as the sessions' own (application) role.
    engine_url = sessionmaker.kw["bind"].url.render_as_string(hide_password=False)
    sending = SendingContext.from_settings(settings, libpq_url(engine_url), stopping)

    async def send() -> JobReport:
        handled = await run_send_loop(sessionmaker, sending)
        return JobReport(handled, f"handled {handled} messages")

    return send
