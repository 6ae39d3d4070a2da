"""The winner job: every minute, per organization, each campaign whose contacts took variants
gets its split figures stored and, where a split selects its winner automatically and the rule
holds, the winner declared (with its `ab_test_completed` version).

Each campaign is claimed with an advisory lock for its transaction, so any number of processes
may run the job; a campaign that fails is logged, undone and retried next run, alone.
"""

import uuid
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from outreach.config import Settings
from outreach.jobs.registry import JobList, seconds
from outreach.jobs.runs import JobReport, campaign_alone, for_each_org, with_failures
from outreach.kit.locks import try_advisory_xact_lock
from outreach.kit.tenancy import org_session
from outreach.workflows.splits import repository, service

# Campaigns one organization refreshes per run, the least recently refreshed first.
BATCH = 50


@dataclass
class WinnerRun:
    refreshed: int = 0
    declared: list[tuple[uuid.UUID, str]] = field(default_factory=list)  # campaign, node
    failed: list[uuid.UUID] = field(default_factory=list)
    failed_orgs: list[uuid.UUID] = field(default_factory=list)

    def report(self) -> JobReport:
        detail = (
            f"refreshed the splits of {self.refreshed} campaigns, "
            f"declared {len(self.declared)} winners"
        )
        return JobReport(
            self.refreshed,
            with_failures(detail, self.failed_orgs, self.failed),
            ok=not (self.failed or self.failed_orgs),
        )


def lock_key(campaign_id: uuid.UUID) -> str:
    return f"split-winners:{campaign_id}"


async def declare_split_winners(sessionmaker: async_sessionmaker[AsyncSession]) -> WinnerRun:
    run = WinnerRun()

    async def org_work(org_id: uuid.UUID) -> None:
        async with org_session(sessionmaker, org_id) as session, session.begin():
            due = await repository.campaigns_to_refresh(session, BATCH)
        for campaign_id in due:
            async with (
                campaign_alone("split winners", campaign_id, run.failed),
                org_session(sessionmaker, org_id) as session,
                session.begin(),
            ):
                if not await try_advisory_xact_lock(session, lock_key(campaign_id)):
                    continue  # another process is at it
                declared = await service.refresh_campaign(session, campaign_id)
                run.refreshed += 1
                run.declared += [(campaign_id, node_id) for node_id in declared]

    outcome = await for_each_org(sessionmaker, org_work, "split winners")
    run.failed_orgs = outcome.failed
    return run


JOBS = JobList()


@JOBS.add("declare_split_winners", every=seconds(60))
async def _declare_split_winners(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> JobReport:
    return (await declare_split_winners(sessionmaker)).report()
