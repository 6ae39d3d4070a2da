"""Campaign queries."""

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Date, bindparam, cast, func, literal, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

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
_CAMPAIGN_FOR_UPDATE = _CAMPAIGN.with_for_update()
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
