"""Background work of the events domain: the counter reconciliation."""

import logging
import uuid

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from outreach.config import Settings
from outreach.events.service import reconcile_counters
from outreach.jobs.registry import JobList
from outreach.jobs.runs import JobReport, for_each_org
from outreach.kit.locks import try_advisory_xact_lock
from outreach.kit.tenancy import org_session

log = logging.getLogger(__name__)


async def reconcile_all_counters(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    """Reconcile every organization's counters, one transaction per organization; answers
    how many campaigns needed a repair. An organization another process is reconciling is
    skipped, and one organization's failure does not stop the others."""
    repaired = await for_each_org(
        sessionmaker, lambda org_id: _reconcile_org(sessionmaker, org_id), "counter reconciliation"
    )
    return sum(repaired.results.values())


async def _reconcile_org(sessionmaker: async_sessionmaker[AsyncSession], org_id: uuid.UUID) -> int:
    async with org_session(sessionmaker, org_id) as session, session.begin():
        if not await try_advisory_xact_lock(session, f"reconcile:{org_id}"):
            return 0
        drift = await reconcile_counters(session)
    for campaign_id, counters in drift.items():
        log.warning("repaired drifted counters of campaign %s: %s", campaign_id, counters)
    return len(drift)


JOBS = JobList()


@JOBS.add("reconcile_counters", every=lambda settings: settings.reconcile_minutes * 60)
async def _reconcile(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> JobReport:
    repaired = await reconcile_all_counters(sessionmaker)
    return JobReport(repaired, f"repaired the counters of {repaired} campaigns")
