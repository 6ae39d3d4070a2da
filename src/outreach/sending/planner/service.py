"""The planner: starts an active campaign's contacts within its lead limits.

Each started contact gets its channel (allocation and tier, see channels.py) and its first
touch: an outbox message for email and SMS (awaiting approval in a co-pilot campaign), or a
task for the campaign owner with the rendered message for LinkedIn, a call or a letter. The
campaign row is locked while planning (`FOR UPDATE SKIP LOCKED`), so any number of processes
may run the planner; a contact is started once (`started_at`), and the outbox and task tables
allow one first touch per contact.
"""

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial

from sqlalchemy import RowMapping, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from outreach.config import Settings
from outreach.jobs.runs import (
    JobReport,
    campaign_alone,
    for_each_org,
    with_failures,
)
from outreach.kit.locks import advisory_xact_lock
from outreach.kit.tenancy import org_session
from outreach.models import Campaign, MessageTemplate, Sender
from outreach.sending.outbox import service as outbox
from outreach.sending.planner.channels import ChannelAssigner, Reachability
from outreach.sending.planner.linkedin import LinkedInSlots
from outreach.sending.transports.messages import RenderFailed, personalization_of, render_content
from outreach.tasks import service as tasks_service
from outreach.templates.compose import Composer, MessageText
from outreach.templates.rendering import Renderer
from outreach.templates.sandbox import TemplateLimitExceeded

log = logging.getLogger(__name__)

OUTBOX_CHANNELS = ("email", "sms")
TASK_KINDS = {"voice": "call", "mail": "letter"}

# A stored zone this server does not know counts as none (known_zone, migration 0005_tz).
STARTED = text("""
SELECT count(*) FILTER (WHERE started_at >= (date_trunc('day', now() AT TIME ZONE z.zone)
                                             AT TIME ZONE z.zone)) AS today,
       count(*) AS total
FROM campaign_contacts, (SELECT known_zone(CAST(:tz AS text)) AS zone) AS z
WHERE campaign_id = :campaign_id AND started_at IS NOT NULL
""")
STARTED_BY_CHANNEL = text("""
SELECT channel, count(*) AS n FROM campaign_contacts
WHERE campaign_id = :campaign_id AND started_at IS NOT NULL AND channel IS NOT NULL
GROUP BY channel
""")
CANDIDATES = """
SELECT cc.id, cc.ab_variant, c.email, c.first_name, c.last_name, c.company_name, c.title,
       c.linkedin_url, c.phone, c.custom_fields, c.lead_tier
FROM campaign_contacts cc JOIN contacts c ON c.org_id = cc.org_id AND c.id = cc.contact_id
WHERE cc.campaign_id = :campaign_id AND cc.started_at IS NULL AND cc.status = 'pending'
  {only}
ORDER BY cc.created_at, cc.id
LIMIT :limit
"""
MARK_STARTED = text("""
UPDATE campaign_contacts cc SET started_at = now(), channel = p.channel,
       template_used_id = p.template_id, error_message = coalesce(p.error, cc.error_message)
FROM unnest(CAST(:ids AS uuid[]), CAST(:channels AS text[]), CAST(:templates AS uuid[]),
            CAST(:errors AS text[])) AS p (id, channel, template_id, error)
WHERE cc.id = p.id
""")


@dataclass
class PlanResult:
    started: int = 0
    queued: int = 0
    tasks: int = 0
    unreachable: int = 0
    held: int = 0  # LinkedIn slots beyond the horizon: planned in a later run
    limit_reached: str | None = None  # "daily" or "total" when the lead limits left no room
    by_channel: dict[str, int] = field(default_factory=dict)


@dataclass
class _Plan:
    ids: list[uuid.UUID] = field(default_factory=list)
    channels: list[str | None] = field(default_factory=list)
    templates: list[uuid.UUID | None] = field(default_factory=list)
    errors: list[str | None] = field(default_factory=list)

    def add(
        self, cc_id: uuid.UUID, channel: str | None, template: uuid.UUID | None, error: str | None
    ) -> None:
        self.ids.append(cc_id)
        self.channels.append(channel)
        self.templates.append(template)
        self.errors.append(error)


async def default_sender(session: AsyncSession, org_id: uuid.UUID, settings: Settings) -> Sender:
    """The organization's oldest SMTP sender, else its system sender (created on first use),
    which sends through OUTREACH_SMTP_URL or, locally, the mail catcher."""
    query = select(Sender).order_by(Sender.transport.desc(), Sender.created_at, Sender.id).limit(1)
    found = (await session.execute(query.where(Sender.transport == "smtp"))).scalar_one_or_none()
    if found is not None:
        return found
    await session.execute(
        insert(Sender)
        .values(
            org_id=org_id, from_email=settings.mail_from, from_name="outreach", transport="system"
        )
        .on_conflict_do_nothing()
    )
    return (await session.execute(query.where(Sender.transport == "system"))).scalar_one()


def _template_for(campaign: Campaign, ab_variant: str | None) -> uuid.UUID | None:
    if campaign.is_ab_test:
        return (
            campaign.variant_a_template_id if ab_variant == "A" else campaign.variant_b_template_id
        )
    return campaign.template_id


def _has_templates(campaign: Campaign) -> bool:
    if campaign.is_ab_test:
        return bool(campaign.variant_a_template_id and campaign.variant_b_template_id)
    return campaign.template_id is not None


def _reach(row: RowMapping) -> Reachability:
    return Reachability(row["lead_tier"], row["email"], row["linkedin_url"], row["phone"])


async def plan_campaign(
    session: AsyncSession,
    campaign: Campaign,
    settings: Settings,
    *,
    only: Sequence[uuid.UUID] | None = None,
    approved: bool = False,
) -> PlanResult:
    """Starts the campaign's next contacts (or only those of `only`), within its limits.
    Messages of a co-pilot campaign wait for approval unless a person `approved` them."""
    result = PlanResult()
    counts = (
        (await session.execute(STARTED, {"campaign_id": campaign.id, "tz": campaign.timezone}))
        .mappings()
        .one()
    )
    room = campaign.daily_lead_limit - counts["today"]
    if room <= 0:
        result.limit_reached = "daily"
        return result
    if campaign.total_lead_limit is not None:
        room = min(room, campaign.total_lead_limit - counts["total"])
        if room <= 0:
            result.limit_reached = "total"
            return result
    if not _has_templates(campaign):
        campaign.last_error = "No message template: set the campaign's template to start sending"
        return result
    params: dict[str, object] = {"campaign_id": campaign.id, "limit": room}
    only_clause = ""
    if only is not None:
        only_clause, params["only"] = "AND cc.id = ANY(CAST(:only AS uuid[]))", list(only)
    candidates = (
        (await session.execute(text(CANDIDATES.format(only=only_clause)), params)).mappings().all()
    )
    if not candidates:
        return result

    started = {
        row.channel: row.n
        for row in await session.execute(STARTED_BY_CHANNEL, {"campaign_id": campaign.id})
    }
    assigner = ChannelAssigner(
        {
            "email": campaign.email_allocation,
            "linkedin": campaign.linkedin_allocation,
            "voice": campaign.voice_allocation,
            "sms": campaign.sms_allocation,
            "mail": campaign.mail_allocation,
        },
        started,
    )
    sender = None
    if campaign.sender_id is not None:
        sender = await session.get(Sender, campaign.sender_id)
    if sender is None:
        sender = await default_sender(session, campaign.org_id, settings)
    templates = await _templates(session, campaign)
    slots = await _linkedin_slots(session, campaign.owner_id)

    plan, enqueue, tasks = _Plan(), _Plan(), []
    renderer = Renderer(settings.template_render_seconds)
    composer = Composer(renderer.seconds)
    senders: list[uuid.UUID | None] = []
    now = datetime.now(UTC)
    for row in candidates:
        channel = assigner.assign(_reach(row))
        template_id = _template_for(campaign, row["ab_variant"])
        if channel is None:
            plan.add(row["id"], None, None, "no allocated channel can reach this contact")
            result.unreachable += 1
            continue
        if channel in OUTBOX_CHANNELS:
            enqueue.add(row["id"], channel, template_id, None)
            senders.append(sender.id if channel == "email" else None)
            plan.add(row["id"], channel, template_id, None)
            continue
        template = templates.get(template_id) if template_id else None
        kind = TASK_KINDS.get(channel) or (
            template.linkedin_kind if template and template.linkedin_kind else "connection_request"
        )
        due_at = slots.take(kind) if channel == "linkedin" else now
        if due_at is None:
            assigner.unassign(channel)
            result.held += 1
            continue
        content = MessageText(
            template.subject if template else None,
            template.body_text if template else None,
            template.body_html if template else None,
        )
        personalization = personalization_of(
            row, sender_name=sender.from_name or sender.from_email, campaign_name=campaign.name
        )
        try:
            rendered = await renderer.run(
                partial(render_content, content, personalization, composer)
            )
        except (RenderFailed, TemplateLimitExceeded) as exc:
            plan.add(row["id"], channel, template_id, str(exc))
            result.unreachable += 1
            continue
        tasks.append(
            {
                "org_id": campaign.org_id,
                "campaign_id": campaign.id,
                "campaign_contact_id": row["id"],
                "owner_id": campaign.owner_id,
                "channel": channel,
                "kind": kind,
                "template_id": template_id,
                "subject": rendered.subject,
                "body": rendered.body_text or "",
                "due_at": due_at,
                "enrollment_id": None,
                "step": "message",
            }
        )
        plan.add(row["id"], channel, template_id, None)

    if enqueue.ids:
        await outbox.enqueue(
            session,
            {
                "org_id": campaign.org_id,
                "campaign_id": campaign.id,
                "status": "awaiting_approval"
                if campaign.permission_mode == "co_pilot"
                else "queued",
                "campaign_tz": campaign.timezone,
                "days": campaign.send_days,
                "start": campaign.send_start,
                "end": campaign.send_end,
                "ids": enqueue.ids,
                "channels": enqueue.channels,
                "senders": senders,
                "templates": enqueue.templates,
                "enrollments": [None] * len(enqueue.ids),
                "steps": ["message"] * len(enqueue.ids),
            },
        )
    if tasks:
        await tasks_service.create_first_touches(session, tasks)
    if plan.ids:
        await session.execute(
            MARK_STARTED,
            {
                "ids": plan.ids,
                "channels": plan.channels,
                "templates": plan.templates,
                "errors": plan.errors,
            },
        )
    result.started = len(plan.ids)
    result.queued = len(enqueue.ids)
    result.tasks = len(tasks)
    for channel in plan.channels:
        if channel:
            result.by_channel[channel] = result.by_channel.get(channel, 0) + 1
    return result


async def _templates(session: AsyncSession, campaign: Campaign) -> dict[uuid.UUID, MessageTemplate]:
    ids = {
        t
        for t in (
            campaign.template_id,
            campaign.variant_a_template_id,
            campaign.variant_b_template_id,
        )
        if t
    }
    if not ids:
        return {}
    rows = await session.execute(select(MessageTemplate).where(MessageTemplate.id.in_(ids)))
    return {t.id: t for t in rows.scalars()}


async def _linkedin_slots(session: AsyncSession, owner_id: uuid.UUID) -> LinkedInSlots:
    # One planner at a time per owner: the owner's LinkedIn account is one rate limit.
    await advisory_xact_lock(session, f"linkedin:{owner_id}")
    planned = await session.execute(
        text("""SELECT kind, due_at FROM tasks WHERE owner_id = :owner AND channel = 'linkedin'
                  AND due_at > now() - interval '30 days'"""),
        {"owner": owner_id},
    )
    return LinkedInSlots(((row.kind, row.due_at) for row in planned), datetime.now(UTC))


@dataclass
class PlanRun:
    """What a planning run did: contacts started, campaigns whose planning failed (retried
    next run), organizations that failed."""

    started: int = 0
    failed: list[uuid.UUID] = field(default_factory=list)
    failed_orgs: list[uuid.UUID] = field(default_factory=list)

    def report(self) -> JobReport:
        detail = f"started {self.started} campaign contacts"
        return JobReport(
            self.started,
            with_failures(detail, self.failed_orgs, self.failed),
            ok=not (self.failed or self.failed_orgs),
        )


async def plan_all(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings) -> PlanRun:
    """Plans every organization's active autopilot and co-pilot campaigns. Manual campaigns
    start contacts only on an explicit send."""
    planned = await for_each_org(
        sessionmaker, lambda org_id: plan_org(sessionmaker, settings, org_id), "planning"
    )
    return PlanRun(
        sum(run.started for run in planned.results.values()),
        [cid for run in planned.results.values() for cid in run.failed],
        planned.failed,
    )


async def plan_org(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, org_id: uuid.UUID
) -> PlanRun:
    """Plans one organization's campaigns, each in its own transaction: one that fails is
    logged and left for the next run, and the others are planned."""
    async with org_session(sessionmaker, org_id) as session, session.begin():
        campaign_ids = list(
            (
                await session.execute(
                    text("""SELECT id FROM campaigns ca WHERE status = 'active'
                                  AND deleted_at IS NULL AND permission_mode <> 'manual'
                                  AND EXISTS (SELECT 1 FROM campaign_contacts cc
                                              WHERE cc.campaign_id = ca.id
                                                AND cc.started_at IS NULL)""")
                )
            ).scalars()
        )
    run = PlanRun()
    for campaign_id in campaign_ids:
        async with campaign_alone("planning", campaign_id, run.failed):
            run.started += await _plan_one(sessionmaker, settings, org_id, campaign_id)
    return run


async def _plan_one(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    org_id: uuid.UUID,
    campaign_id: uuid.UUID,
) -> int:
    """Plans the campaign in a transaction of its own, unless another process is planning it
    or it is no longer active; answers how many contacts it started."""
    async with org_session(sessionmaker, org_id) as session, session.begin():
        campaign = (
            await session.execute(
                select(Campaign)
                .where(Campaign.id == campaign_id, Campaign.status == "active")
                .with_for_update(skip_locked=True)
            )
        ).scalar_one_or_none()
        if campaign is None:
            return 0
        result = await plan_campaign(session, campaign, settings)
    if result.started:
        log.info(
            "campaign %s: started %d contacts %s", campaign_id, result.started, result.by_channel
        )
    return result.started
