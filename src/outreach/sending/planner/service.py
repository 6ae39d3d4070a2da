"""The planner: starts an active campaign's contacts within its lead limits.

Each started contact gets its channel (allocation and tier, see channels.py) and is enrolled in
the campaign's sequence; the engine then walks the new enrollments in the same transaction, so
a plan still puts the first touches in the outbox (awaiting approval in a co-pilot campaign) or
in the owner's tasks (LinkedIn, a call, a letter, with the rendered message) at once. The
campaign row is locked while planning (`FOR NO KEY UPDATE SKIP LOCKED`), so any number of processes
may run the planner; a contact is started once (`started_at`) and enrolled once.
"""

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import RowMapping, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from outreach.config import Settings
from outreach.jobs.runs import (
    JobReport,
    campaign_alone,
    for_each_org,
    with_failures,
)
from outreach.kit.tenancy import org_session
from outreach.models import Campaign, MessageTemplate
from outreach.sending.planner.channels import ChannelAssigner, Reachability
from outreach.tasks import service as tasks_service
from outreach.workflows.engine.clock import Clock, SystemClock
from outreach.workflows.engine.service import EngineContext, start_walks, template_for
from outreach.workflows.graph.schemas import TriggerConfig
from outreach.workflows.versions.service import ensure_published, graph_of

log = logging.getLogger(__name__)

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
    clock: Clock | None = None,
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
    if not _has_templates(campaign) and await _sends_campaign_templates(session, campaign):
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
    ctx = EngineContext.for_settings(settings, clock or SystemClock())
    now = ctx.clock.now()
    templates = await _templates(session, campaign)
    # A contact whose LinkedIn touch has no slot yet is not started: the engine gives out the
    # same slots, in the same order, when it walks the contacts started here.
    slots = await tasks_service.linkedin_slots(session, campaign.owner_id, now)

    plan, enrolled = _Plan(), []
    for row in candidates:
        channel = assigner.assign(_reach(row))
        template_id = template_for(campaign, row["ab_variant"])
        if channel is None:
            plan.add(row["id"], None, None, "no allocated channel can reach this contact")
            result.unreachable += 1
            continue
        if channel == "linkedin":
            template = templates.get(template_id) if template_id else None
            kind = template.linkedin_kind if template and template.linkedin_kind else None
            if slots.take(kind or "connection_request") is None:
                assigner.unassign(channel)
                result.held += 1
                continue
        plan.add(row["id"], channel, template_id, None)
        enrolled.append(row["id"])

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
    executed = await start_walks(session, ctx, campaign, enrolled)
    result.started = len(plan.ids)
    result.queued = executed.queued
    result.tasks = executed.tasks
    for channel in plan.channels:
        if channel:
            result.by_channel[channel] = result.by_channel.get(channel, 0) + 1
    return result


async def _sends_campaign_templates(session: AsyncSession, campaign: Campaign) -> bool:
    """Whether the campaign's published graph has a step that sends the campaign's own
    template (the default graph's `message`): without one, a campaign needs no template."""
    graph = await graph_of(session, campaign.id, await ensure_published(session, campaign))
    return any(node.type == "message" for node in graph.nodes.values())


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


async def _starts_by_itself(session: AsyncSession, campaign: Campaign) -> bool:
    """Whether the planner's runs start the campaign's contacts: when its sequence begins with
    the manual trigger. A tag, a score, a schedule or a webhook starts the others' contacts
    (workflows/triggers, through `plan_campaign` with the contacts they name)."""
    graph = await graph_of(session, campaign.id, await ensure_published(session, campaign))
    trigger = graph.nodes[graph.start].config
    return isinstance(trigger, TriggerConfig) and trigger.type == "manual"


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
                .with_for_update(skip_locked=True, key_share=True)
            )
        ).scalar_one_or_none()
        if campaign is None or not await _starts_by_itself(session, campaign):
            return 0
        result = await plan_campaign(session, campaign, settings)
    if result.started:
        log.info(
            "campaign %s: started %d contacts %s", campaign_id, result.started, result.by_channel
        )
    return result.started
