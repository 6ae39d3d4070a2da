"""Campaign queries."""

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Date, bindparam, cast, func, literal, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from outreach.kit.locks import try_advisory_xact_lock
from outreach.models import Campaign, CampaignContact, MessageTemplate, Sender, UserProfile

ORDERABLE = ("created_at", "name", "start_date", "response_rate")


@dataclass(frozen=True)
class CampaignFilters:
    statuses: list[str]
    campaign_type: str | None
    channel: str | None
    owner_id: uuid.UUID | None
    q: str | None
    start_date_from: date | None
    end_date_to: date | None


def _sort_key(order_by: str, descending: bool) -> ColumnElement[Any]:
    if order_by == "start_date":
        # Undated campaigns sort last in both directions.
        missing = literal("-infinity" if descending else "infinity")
        return func.coalesce(Campaign.start_date, cast(missing, Date))
    column: ColumnElement[Any] = getattr(Campaign, order_by)
    return column


def sort_value(campaign: dict[str, Any], order_by: str, descending: bool) -> Any:
    value = campaign[order_by]
    if order_by == "start_date" and value is None:
        return "-infinity" if descending else "infinity"
    return value


CAMPAIGNS = Campaign.__table__

# The hot reads are built once: building a statement costs more than running it.
_CAMPAIGN = select(Campaign).where(
    Campaign.id == bindparam("campaign_id"), Campaign.deleted_at.is_(None)
)
# NO KEY UPDATE: a change never touches the key, and the rows that reference the campaign
# (messages, tasks, events the workflow engine writes while holding its claimed walks) take
# KEY SHARE locks that must not wait for it, or a pause waiting for those walks would deadlock.
_CAMPAIGN_FOR_UPDATE = _CAMPAIGN.with_for_update(key_share=True)
_CAMPAIGN_WITH_COUNTS = text("""
SELECT c.*, coalesce((
    SELECT json_object_agg(status, n)
    FROM (SELECT status, count(*) AS n FROM campaign_contacts
          WHERE campaign_id = c.id GROUP BY status) AS counted
  ), '{}') AS contact_counts
FROM campaigns c
WHERE c.id = :campaign_id AND c.deleted_at IS NULL
""")
_CONTACT_COUNTS = (
    select(CampaignContact.status, func.count())
    .where(CampaignContact.campaign_id == bindparam("campaign_id"))
    .group_by(CampaignContact.status)
)


async def get_campaign(
    session: AsyncSession, campaign_id: uuid.UUID, *, for_update: bool = False
) -> Campaign | None:
    """A campaign of the session's organization that is not soft-deleted."""
    query = _CAMPAIGN_FOR_UPDATE if for_update else _CAMPAIGN
    return (await session.execute(query, {"campaign_id": campaign_id})).scalar_one_or_none()


@dataclass(frozen=True)
class CampaignFacts:
    """What reads of a campaign's parts need to know of the campaign itself."""

    id: uuid.UUID
    owner_id: uuid.UUID
    status: str
    campaign_type: str
    is_ab_test: bool
    started_at: datetime | None
    created_at: datetime


_FACTS = select(*(CAMPAIGNS.c[name] for name in CampaignFacts.__dataclass_fields__)).where(
    CAMPAIGNS.c.id == bindparam("campaign_id"), CAMPAIGNS.c.deleted_at.is_(None)
)


async def get_campaign_facts(session: AsyncSession, campaign_id: uuid.UUID) -> CampaignFacts | None:
    connection = await session.connection()  # Core: an ORM object costs more than the query
    row = (await connection.execute(_FACTS, {"campaign_id": campaign_id})).first()
    return None if row is None else CampaignFacts(*row)


async def get_campaign_with_counts(
    session: AsyncSession, campaign_id: uuid.UUID
) -> dict[str, Any] | None:
    """The campaign as a plain row with its contacts counted by status, in one round trip."""
    connection = await session.connection()  # Core: no ORM objects on this hot read
    result = await connection.execute(_CAMPAIGN_WITH_COUNTS, {"campaign_id": campaign_id})
    row = result.first()
    return None if row is None else dict(zip(result.keys(), row, strict=True))


async def list_campaigns(
    session: AsyncSession,
    filters: CampaignFilters,
    order_by: str,
    descending: bool,
    after: tuple[Any, uuid.UUID] | None,
    limit: int,
) -> list[dict[str, Any]]:
    key = _sort_key(order_by, descending)
    query = select(CAMPAIGNS).where(Campaign.deleted_at.is_(None))
    if filters.statuses:
        query = query.where(Campaign.status.in_(filters.statuses))
    if filters.campaign_type:
        query = query.where(Campaign.campaign_type == filters.campaign_type)
    if filters.channel:
        query = query.where(Campaign.channel == filters.channel)
    if filters.owner_id:
        query = query.where(Campaign.owner_id == filters.owner_id)
    if filters.q:
        query = query.where(Campaign.name.icontains(filters.q, autoescape=True))
    if filters.start_date_from:
        query = query.where(Campaign.start_date >= filters.start_date_from)
    if filters.end_date_to:
        query = query.where(Campaign.end_date <= filters.end_date_to)
    if after is not None:
        value, last_id = after
        # start_date cursors may hold 'infinity', which only PostgreSQL's date type can
        bound = (
            cast(literal(str(value)), key.type)
            if order_by == "start_date"
            else literal(value, key.type)
        )
        position = tuple_(key, Campaign.id)
        query = query.where(
            position < tuple_(bound, last_id) if descending else position > tuple_(bound, last_id)
        )
    if descending:
        query = query.order_by(key.desc(), Campaign.id.desc())
    else:
        query = query.order_by(key.asc(), Campaign.id.asc())
    result = await (await session.connection()).execute(query.limit(limit))
    keys = list(result.keys())
    return [dict(zip(keys, row, strict=True)) for row in result]  # cheaper than RowMapping


async def contact_counts(session: AsyncSession, campaign_id: uuid.UUID) -> dict[str, int]:
    rows = await session.execute(_CONTACT_COUNTS, {"campaign_id": campaign_id})
    return {status: count for status, count in rows}


async def user_exists(session: AsyncSession, user_id: uuid.UUID) -> bool:
    return bool(await session.scalar(select(literal(True)).where(UserProfile.id == user_id)))


async def sender_exists(session: AsyncSession, sender_id: uuid.UUID) -> bool:
    return bool(await session.scalar(select(literal(True)).where(Sender.id == sender_id)))


async def template_channels(
    session: AsyncSession, template_ids: list[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """The channel of each of these templates that belongs to the organization."""
    if not template_ids:
        return {}
    rows = await session.execute(
        select(MessageTemplate.id, MessageTemplate.channel).where(
            MessageTemplate.id.in_(template_ids)
        )
    )
    return {template_id: channel for template_id, channel in rows}


# -- lifecycle jobs: each claims the campaigns it changes (SKIP LOCKED), so two processes
# never handle the same one -----------------------------------------------------------------

_DUE_SCHEDULED = (
    select(Campaign)
    .where(
        Campaign.status == "scheduled",
        Campaign.scheduled_at <= func.now(),
        Campaign.deleted_at.is_(None),
    )
    .order_by(Campaign.scheduled_at, Campaign.id)
    .limit(bindparam("limit"))
    .with_for_update(skip_locked=True)
)


async def claim_due_scheduled(session: AsyncSession, limit: int) -> list[Campaign]:
    """Scheduled campaigns whose time has come, locked; those another process holds are
    skipped."""
    return list((await session.execute(_DUE_SCHEDULED, {"limit": limit})).scalars())


# A contact is processed once it is no longer pending, or once its outreach ended without
# reaching it (a message failed, cancelled or rejected; a task done, skipped or cancelled), or
# once the planner found no allocated channel that reaches it, or once it was enrolled (its
# walk, live, is counted below): nothing more will happen to it, so it must not hold the
# campaign open. Every enrollment has ended too: no walk is running, waiting or paused, and no
# message or task is pending.
_UNFINISHED_WORK = """
  EXISTS (SELECT 1 FROM campaign_contacts cc
          WHERE cc.campaign_id = c.id AND cc.status = 'pending'
            AND (cc.started_at IS NULL OR cc.channel IS NOT NULL)
            AND NOT EXISTS (SELECT 1 FROM outbox_messages o WHERE o.campaign_contact_id = cc.id
                            AND o.status IN ('failed', 'cancelled', 'rejected'))
            AND NOT EXISTS (SELECT 1 FROM tasks t WHERE t.campaign_contact_id = cc.id
                            AND t.status IN ('done', 'skipped', 'cancelled'))
            AND NOT EXISTS (SELECT 1 FROM campaign_workflow_states s
                            WHERE s.campaign_contact_id = cc.id))
  OR EXISTS (SELECT 1 FROM campaign_workflow_states s WHERE s.campaign_id = c.id
             AND s.workflow_status IN ('running', 'waiting', 'paused'))
  OR EXISTS (SELECT 1 FROM outbox_messages o WHERE o.campaign_id = c.id
             AND o.status IN ('queued', 'sending', 'awaiting_approval'))
  OR EXISTS (SELECT 1 FROM tasks t WHERE t.campaign_id = c.id AND t.status = 'open')
"""
_DUE_COMPLETION = text(f"""
WITH judged AS (
  SELECT c.id,
    CASE
      WHEN c.end_date < (now() AT TIME ZONE known_zone(c.timezone))::date THEN 'end_date'
      WHEN c.target_contacts_count IS NOT NULL AND c.target_response_rate IS NOT NULL
        AND c.contacts_reached >= c.target_contacts_count
        AND c.response_rate >= c.target_response_rate THEN 'targets'
      WHEN c.total_contacts > 0 AND NOT ({_UNFINISHED_WORK}) THEN 'all_processed'
    END AS reason
  FROM campaigns c
  WHERE c.status = 'active' AND c.deleted_at IS NULL
)
SELECT c.id, judged.reason FROM campaigns c JOIN judged ON judged.id = c.id
WHERE judged.reason IS NOT NULL AND c.status = 'active'
ORDER BY c.id LIMIT :limit
FOR NO KEY UPDATE OF c SKIP LOCKED
""")  # noqa: S608 - the subquery is the constant above


async def claim_due_completion(session: AsyncSession, limit: int) -> list[tuple[Campaign, str]]:
    """Active campaigns that met a completion rule, locked, each with the rule it met:
    end_date (its end date is over in its time zone; UTC for none, or for one the server does
    not know), targets, or all_processed."""
    rows = (await session.execute(_DUE_COMPLETION, {"limit": limit})).all()
    reasons = {campaign_id: reason for campaign_id, reason in rows}
    if not reasons:
        return []
    campaigns = await session.execute(
        select(Campaign).where(Campaign.id.in_(reasons)).order_by(Campaign.id)
    )
    return [(campaign, reasons[campaign.id]) for campaign in campaigns.scalars()]


_DUE_ARCHIVE = (
    select(Campaign)
    .where(
        Campaign.status == "completed",
        Campaign.completed_at < func.now() - func.make_interval(0, 0, 0, bindparam("days")),
        Campaign.deleted_at.is_(None),
    )
    .order_by(Campaign.completed_at, Campaign.id)
    .limit(bindparam("limit"))
    .with_for_update(skip_locked=True)
)


async def claim_due_archive(session: AsyncSession, days: int, limit: int) -> list[Campaign]:
    return list((await session.execute(_DUE_ARCHIVE, {"days": days, "limit": limit})).scalars())


_DUE_RETENTION = text("""
SELECT c.id, c.total_contacts FROM campaigns c
WHERE c.status = 'archived' AND c.archived_at < now() - make_interval(days => :days)
  AND EXISTS (SELECT 1 FROM campaign_contacts cc WHERE cc.campaign_id = c.id)
ORDER BY c.archived_at, c.id LIMIT :limit
FOR UPDATE OF c SKIP LOCKED
""")
_VARIANT_COUNTERS = text("""
SELECT ab_variant, contacts, responses, conversions, converted_responders
FROM campaign_variant_counters WHERE campaign_id = :campaign_id
""")
_DELETE_CONTACTS = text("""
WITH gone AS (DELETE FROM campaign_contacts WHERE campaign_id = :campaign_id RETURNING 1)
SELECT count(*) FROM gone
""")
_RESTORE_TOTAL = text("UPDATE campaigns SET total_contacts = :total WHERE id = :campaign_id")
_RESTORE_VARIANT = text("""
UPDATE campaign_variant_counters SET contacts = :contacts, responses = :responses,
  conversions = :conversions, converted_responders = :converted_responders
WHERE campaign_id = :campaign_id AND ab_variant = :ab_variant
""")


async def claim_due_retention(
    session: AsyncSession, days: int, limit: int
) -> list[tuple[uuid.UUID, int]]:
    """Archived campaigns past retention that still hold contact data, locked, each with
    its total_contacts."""
    rows = await session.execute(_DUE_RETENTION, {"days": days, "limit": limit})
    return [(campaign_id, total) for campaign_id, total in rows]


async def delete_contact_data(session: AsyncSession, campaign_id: uuid.UUID, total: int) -> int:
    """Delete the campaign's members (their events, messages and tasks go with them by
    cascade) and keep its figures: the triggers that count members down are undone."""
    params = {"campaign_id": campaign_id}
    variants = (await session.execute(_VARIANT_COUNTERS, params)).mappings().all()
    deleted = await session.scalar(_DELETE_CONTACTS, params)
    await session.execute(_RESTORE_TOTAL, {**params, "total": total})
    for variant in variants:
        await session.execute(_RESTORE_VARIANT, {**params, **variant})
    return int(deleted or 0)


_SUMMARY_DUE = text("""
SELECT id FROM campaigns
WHERE status = 'completed' AND summary_sent_at IS NULL AND deleted_at IS NULL
  AND completed_at >= now() - make_interval(days => :max_age_days)
ORDER BY completed_at, id LIMIT :limit
""")
# A statement of its own after the lock: its snapshot sees a summary marked sent by the
# process that held the lock before.
_SUMMARY_TO_SEND = text("""
SELECT c.name, u.email AS owner_email FROM campaigns c
LEFT JOIN user_profiles u ON u.id = c.owner_id
WHERE c.id = :campaign_id AND c.status = 'completed' AND c.summary_sent_at IS NULL
""")
_SUMMARY_SENT = text("UPDATE campaigns SET summary_sent_at = now() WHERE id = :campaign_id")
_SUMMARY_UNSENDABLE = text(
    "UPDATE campaigns SET summary_sent_at = now(), last_error = :reason WHERE id = :campaign_id"
)


async def campaigns_due_summary(
    session: AsyncSession, max_age_days: int, limit: int
) -> list[uuid.UUID]:
    rows = await session.execute(_SUMMARY_DUE, {"max_age_days": max_age_days, "limit": limit})
    return list(rows.scalars())


@dataclass(frozen=True)
class SummaryClaim:
    name: str
    owner_email: str | None


async def claim_summary(session: AsyncSession, campaign_id: uuid.UUID) -> SummaryClaim | None:
    """The campaign's summary to send, claimed for this transaction; None when it is sent
    already or another process is sending it."""
    # An advisory lock, not a row lock: the SMTP round trip happens under it, and a row lock
    # would hold up every event that counts on the campaign meanwhile.
    if not await try_advisory_xact_lock(session, f"campaign-summary:{campaign_id}"):
        return None
    row = (await session.execute(_SUMMARY_TO_SEND, {"campaign_id": campaign_id})).first()
    return None if row is None else SummaryClaim(row.name, row.owner_email)


async def mark_summary_sent(session: AsyncSession, campaign_id: uuid.UUID) -> None:
    await session.execute(_SUMMARY_SENT, {"campaign_id": campaign_id})


async def mark_summary_unsendable(
    session: AsyncSession, campaign_id: uuid.UUID, reason: str
) -> None:
    """Never tried again: the campaign's `last_error` says why."""
    await session.execute(_SUMMARY_UNSENDABLE, {"campaign_id": campaign_id, "reason": reason})
