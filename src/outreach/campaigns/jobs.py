"""The campaign lifecycle jobs: scheduled activation, auto-completion, archiving and
retention (the owner's completion summary is analytics.jobs).

Each runs per organization in a transaction of its own and claims the campaigns it changes
(`FOR UPDATE SKIP LOCKED`), so any number of processes may
run them at once. Each campaign's change is made in a savepoint: one that fails is undone,
logged and retried next run, and the organization's other campaigns go on. The changes are
the manual transitions' own (campaigns.service).
"""

import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from outreach.campaigns import repository, service
from outreach.config import Settings
from outreach.errors import AppError
from outreach.jobs.registry import JobList, seconds
from outreach.jobs.runs import (
    JobReport,
    OrgResults,
    campaign_alone,
    for_each_org,
    with_failures,
)
from outreach.kit.tenancy import org_session
from outreach.models import Campaign
from outreach.models.campaign import CampaignStatus

log = logging.getLogger(__name__)

# Campaigns one organization's transaction handles per run; the rest wait for the next run.
BATCH = 100


@dataclass
class Handled:
    """The campaigns a job changed, those it could not change with the reason, and those
    whose change failed (retried next run)."""

    done: list[uuid.UUID] = field(default_factory=list)
    refused: dict[uuid.UUID, str] = field(default_factory=dict)
    failed: list[uuid.UUID] = field(default_factory=list)


def _merge(outcome: OrgResults[Handled]) -> Handled:
    merged = Handled()
    for handled in outcome.results.values():
        merged.done += handled.done
        merged.refused |= handled.refused
        merged.failed += handled.failed
    return merged


# -- scheduled activation ----------------------------------------------------------------


@dataclass
class ActivationRun:
    handled: Handled
    failed_orgs: list[uuid.UUID]

    def report(self) -> JobReport:
        detail = f"activated {len(self.handled.done)} campaigns"
        if self.handled.refused:
            detail += f", returned {len(self.handled.refused)} to draft"
        return JobReport(
            len(self.handled.done) + len(self.handled.refused),
            with_failures(detail, self.failed_orgs, self.handled.failed),
            ok=not (self.failed_orgs or self.handled.failed),
        )


async def activate_scheduled_campaigns(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> ActivationRun:
    """Activate the scheduled campaigns whose time has come, by the manual activation's
    rules. One that no longer meets them (its contacts were removed, its end date passed)
    goes back to draft with the reason in `last_error`: leaving it scheduled would retry a
    refusal every run, and draft is where its owner can fix it and schedule it again."""

    async def org_work(org_id: uuid.UUID) -> Handled:
        handled = Handled()
        async with org_session(sessionmaker, org_id) as session, session.begin():
            now = datetime.now(UTC)
            for campaign in await repository.claim_due_scheduled(session, BATCH):
                campaign_id = campaign.id
                async with (
                    campaign_alone("scheduled activation", campaign_id, handled.failed),
                    session.begin_nested(),
                ):
                    refusal = await _activate_or_return_to_draft(session, campaign, now)
                    await session.flush()
                    if refusal is None:
                        handled.done.append(campaign_id)
                    else:
                        handled.refused[campaign_id] = refusal
        return handled

    outcome = await for_each_org(sessionmaker, org_work, "scheduled activation")
    return ActivationRun(_merge(outcome), outcome.failed)


async def _activate_or_return_to_draft(
    session: AsyncSession, campaign: Campaign, now: datetime
) -> str | None:
    """Activates the campaign, or answers the code of the rule it no longer meets."""
    try:
        await service.activate(session, campaign, now)
    except AppError as refusal:
        campaign.status = CampaignStatus.DRAFT
        campaign.last_error = f"Scheduled activation failed: {refusal.title}"
        log.warning("scheduled campaign %s went back to draft: %s", campaign.id, refusal)
        return refusal.code
    return None


# -- auto-completion ---------------------------------------------------------------------


@dataclass
class CompletionRun:
    completed: dict[uuid.UUID, str]  # campaign -> the rule it met
    failed: list[uuid.UUID]  # campaigns whose completion failed (retried next run)
    failed_orgs: list[uuid.UUID]

    def report(self) -> JobReport:
        by_rule: dict[str, int] = {}
        for rule in self.completed.values():
            by_rule[rule] = by_rule.get(rule, 0) + 1
        rules = ", ".join(f"{n} by {rule}" for rule, n in sorted(by_rule.items()))
        detail = f"completed {len(self.completed)} campaigns" + (f" ({rules})" if rules else "")
        return JobReport(
            len(self.completed),
            with_failures(detail, self.failed_orgs, self.failed),
            ok=not (self.failed_orgs or self.failed),
        )


async def complete_finished_campaigns(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> CompletionRun:
    """Complete the active campaigns that met a completion rule of the spec: the end date is
    over, both targets (contacts reached and response rate) are met, or every contact has
    been processed and no message or task is left."""

    async def org_work(org_id: uuid.UUID) -> tuple[dict[uuid.UUID, str], list[uuid.UUID]]:
        completed: dict[uuid.UUID, str] = {}
        failed: list[uuid.UUID] = []
        async with org_session(sessionmaker, org_id) as session, session.begin():
            now = datetime.now(UTC)
            for campaign, rule in await repository.claim_due_completion(session, BATCH):
                campaign_id = campaign.id
                async with (
                    campaign_alone("auto-completion", campaign_id, failed),
                    session.begin_nested(),
                ):
                    await service.complete(session, campaign, now)
                    await session.flush()
                    completed[campaign_id] = rule
        for campaign_id, rule in completed.items():
            log.info("campaign %s completed automatically (%s)", campaign_id, rule)
        return completed, failed

    outcome = await for_each_org(sessionmaker, org_work, "auto-completion")
    return CompletionRun(
        {cid: rule for done, _ in outcome.results.values() for cid, rule in done.items()},
        [cid for _, failed in outcome.results.values() for cid in failed],
        outcome.failed,
    )


# -- archiving and retention -------------------------------------------------------------


@dataclass
class ArchiveRun:
    archived: list[uuid.UUID]
    purged: dict[uuid.UUID, int]  # campaign -> campaign contacts deleted
    failed: list[uuid.UUID]  # campaigns whose archiving or deletion failed (retried next run)
    failed_orgs: list[uuid.UUID]

    def report(self) -> JobReport:
        detail = (
            f"archived {len(self.archived)} campaigns, deleted the contact data of "
            f"{len(self.purged)} ({sum(self.purged.values())} campaign contacts)"
        )
        return JobReport(
            len(self.archived) + len(self.purged),
            with_failures(detail, self.failed_orgs, self.failed),
            ok=not (self.failed_orgs or self.failed),
        )


async def archive_and_expire_campaigns(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> ArchiveRun:
    """Archive campaigns completed `archive_after_days` ago; for campaigns archived
    `retention_days` ago, delete their campaign contacts (and by cascade their events,
    messages and tasks). The campaign row and its counters stay, so its report keeps its
    figures; the organization's contacts stay too, since other campaigns may hold them."""

    async def org_work(
        org_id: uuid.UUID,
    ) -> tuple[list[uuid.UUID], dict[uuid.UUID, int], list[uuid.UUID]]:
        archived: list[uuid.UUID] = []
        purged: dict[uuid.UUID, int] = {}
        failed: list[uuid.UUID] = []
        async with org_session(sessionmaker, org_id) as session, session.begin():
            now = datetime.now(UTC)
            due = await repository.claim_due_archive(session, settings.archive_after_days, BATCH)
            for campaign in due:
                campaign_id = campaign.id
                async with campaign_alone("archiving", campaign_id, failed), session.begin_nested():
                    service.archive(campaign, now)
                    await session.flush()
                    archived.append(campaign_id)
            expired = await repository.claim_due_retention(session, settings.retention_days, BATCH)
            for campaign_id, total in expired:
                async with (
                    campaign_alone("retention", campaign_id, failed),
                    session.begin_nested(),
                ):
                    purged[campaign_id] = await repository.delete_contact_data(
                        session, campaign_id, total
                    )
        for campaign_id, count in purged.items():
            log.info(
                "deleted the contact data of archived campaign %s (%d campaign contacts)",
                campaign_id,
                count,
            )
        return archived, purged, failed

    outcome = await for_each_org(sessionmaker, org_work, "archiving and retention")
    results = outcome.results.values()
    return ArchiveRun(
        [cid for archived, _, _ in results for cid in archived],
        {cid: n for _, purged, _ in results for cid, n in purged.items()},
        [cid for _, _, failed in results for cid in failed],
        outcome.failed,
    )


# -- the jobs, for the scheduler -----------------------------------------------------------

JOBS = JobList()


@JOBS.add("activate_scheduled_campaigns", every=seconds(30))
async def _activate(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> JobReport:
    return (await activate_scheduled_campaigns(sessionmaker)).report()


@JOBS.add("complete_finished_campaigns", every=seconds(30))
async def _complete(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> JobReport:
    return (await complete_finished_campaigns(sessionmaker)).report()


@JOBS.add("archive_and_expire_campaigns", every=seconds(3600))
async def _archive(settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]) -> JobReport:
    return (await archive_and_expire_campaigns(settings, sessionmaker)).report()
