"""The owner's completion summary: a job mailing each completed campaign's owner its report.

It runs per organization and claims each campaign's summary with an advisory lock
(campaigns.repository.claim_summary), so any number of processes may run it at once.
"""

import logging
import uuid
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from outreach.analytics.report import campaign_report
from outreach.analytics.report_pages import summary_mail
from outreach.campaigns import repository
from outreach.campaigns.jobs import BATCH
from outreach.config import Settings
from outreach.jobs.registry import JobList, seconds
from outreach.jobs.runs import JobReport, campaign_alone, for_each_org, with_failures
from outreach.kit.tenancy import org_session
from outreach.sending.transports.smtp import SmtpNotConfigured
from outreach.sending.transports.system_mail import build_system_mail, send_system_mail

log = logging.getLogger(__name__)

# Campaigns completed longer ago get no summary: when the feature first runs, or after a long
# mail outage, owners are not flooded with news of old campaigns.
SUMMARY_MAX_AGE_DAYS = 7


@dataclass
class SummaryRun:
    sent: list[uuid.UUID] = field(default_factory=list)
    no_owner_email: list[uuid.UUID] = field(default_factory=list)
    unsendable: dict[uuid.UUID, str] = field(default_factory=dict)  # campaign -> why, for good
    failed: list[uuid.UUID] = field(default_factory=list)
    failed_orgs: list[uuid.UUID] = field(default_factory=list)

    def report(self) -> JobReport:
        detail = f"sent {len(self.sent)} completion summaries"
        if self.no_owner_email:
            detail += f", {len(self.no_owner_email)} owners without an email address"
        if self.unsendable:
            detail += f", {len(self.unsendable)} could not be built (in their last_error)"
        if self.failed:
            detail += f", {len(self.failed)} failed (retried next run)"
        return JobReport(
            len(self.sent) + len(self.no_owner_email) + len(self.unsendable) + len(self.failed),
            with_failures(detail, self.failed_orgs),
            ok=not (self.failed or self.failed_orgs),
        )


def report_url(settings: Settings, campaign_id: uuid.UUID) -> str:
    return f"{settings.links_base_url}/api/v1/campaigns/{campaign_id}/report?format=html"


async def send_completion_summaries(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> SummaryRun:
    """Mail each completed campaign's owner a summary of its report, once: the summary is
    marked sent in the transaction that holds the campaign's claim, committed after the
    server accepted the message (a crash in between sends it again, never loses it)."""
    if not settings.smtp_url:
        # the same for every campaign: the run fails as a whole, and the next one retries
        raise SmtpNotConfigured("OUTREACH_SMTP_URL is not set: completion summaries wait")
    run = SummaryRun()

    async def org_work(org_id: uuid.UUID) -> None:
        async with org_session(sessionmaker, org_id) as session, session.begin():
            due = await repository.campaigns_due_summary(session, SUMMARY_MAX_AGE_DAYS, BATCH)
        for campaign_id in due:
            async with campaign_alone("completion summary", campaign_id, run.failed):
                await _send_summary(settings, sessionmaker, org_id, campaign_id, run)

    outcome = await for_each_org(sessionmaker, org_work, "completion summaries")
    run.failed_orgs = outcome.failed
    return run


async def _send_summary(
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    org_id: uuid.UUID,
    campaign_id: uuid.UUID,
    run: SummaryRun,
) -> None:
    async with org_session(sessionmaker, org_id) as session, session.begin():
        claim = await repository.claim_summary(session, campaign_id)
        if claim is None:
            return  # sent already, or another process is sending it
        if not claim.owner_email:
            log.info(
                "campaign %s: its owner has no email address; summary marked sent unsent",
                campaign_id,
            )
            await repository.mark_summary_sent(session, campaign_id)
            run.no_owner_email.append(campaign_id)
            return
        report = await campaign_report(session, campaign_id)
        subject, text, html = summary_mail(report, report_url(settings, campaign_id))
        try:
            message = build_system_mail(
                settings, org_id=org_id, to=claim.owner_email, subject=subject, text=text, html=html
            )
        except ValueError as exc:
            # Stored values that make no message now never will: retrying every run would fail
            # forever, so this summary is given up, saying why, and the others go out.
            reason = f"Completion summary not sent: {exc}"
            log.warning("campaign %s: %s", campaign_id, reason)
            await repository.mark_summary_unsendable(session, campaign_id, reason)
            run.unsendable[campaign_id] = reason
            return
        await send_system_mail(settings, message)
        await repository.mark_summary_sent(session, campaign_id)
    run.sent.append(campaign_id)


JOBS = JobList()


@JOBS.add("send_completion_summaries", every=seconds(60))
async def _summaries(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> JobReport:
    return (await send_completion_summaries(settings, sessionmaker)).report()
