"""Queries for the organization's people: pages under the filters, counts, a person's campaigns
and their events."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from outreach.contacts.people.filters import ContactFilters, conditions
from outreach.kit.keyset import Position
from outreach.models import Campaign, CampaignContact, Contact, EngagementEvent

LIVE_STATUSES = ("scheduled", "active", "paused")


def people_query(filters: ContactFilters, after: Position | None, limit: int) -> Select[Any]:
    """The page query of `people_page` (bench/contacts_search.py times this very SQL)."""
    query = select(Contact).where(*conditions(filters))
    if after is not None:
        query = query.where(tuple_(Contact.created_at, Contact.id) < tuple_(*after))
    return query.order_by(Contact.created_at.desc(), Contact.id.desc()).limit(limit)


async def people_page(
    session: AsyncSession, filters: ContactFilters, after: Position | None, limit: int
) -> list[Contact]:
    """The people the filters match, newest first (idx_contacts_newest)."""
    return list(await session.scalars(people_query(filters, after, limit)))


async def count_people(session: AsyncSession, filters: ContactFilters) -> int:
    counted: int = (
        await session.scalar(select(func.count()).select_from(Contact).where(*conditions(filters)))
        or 0
    )
    return counted


async def people_outside(
    session: AsyncSession,
    filters: ContactFilters,
    campaign_id: uuid.UUID,
    after: uuid.UUID | None,
    limit: int,
) -> list[uuid.UUID]:
    """Ids of the people the filters match who are not in the campaign, in id order after
    `after`."""
    member = select(CampaignContact.id).where(
        CampaignContact.campaign_id == campaign_id, CampaignContact.contact_id == Contact.id
    )
    query = select(Contact.id).where(*conditions(filters), ~member.exists())
    if after is not None:
        query = query.where(Contact.id > after)
    return list(await session.scalars(query.order_by(Contact.id).limit(limit)))


async def get_person(
    session: AsyncSession, contact_id: uuid.UUID, *, for_update: bool = False
) -> Contact | None:
    query = select(Contact).where(Contact.id == contact_id)
    if for_update:
        query = query.with_for_update().execution_options(populate_existing=True)
    found: Contact | None = await session.scalar(query)
    return found


async def campaigns_of(session: AsyncSession, contact_id: uuid.UUID) -> list[dict[str, Any]]:
    """The person's memberships with their campaign (not deleted ones), newest first."""
    query = (
        select(
            CampaignContact.id.label("campaign_contact_id"),
            CampaignContact.campaign_id,
            Campaign.name.label("campaign_name"),
            Campaign.status.label("campaign_status"),
            Campaign.channel.label("campaign_channel"),
            CampaignContact.contact_type,
            CampaignContact.status,
            CampaignContact.created_at.label("added_at"),
        )
        .join(Campaign, Campaign.id == CampaignContact.campaign_id)
        .where(CampaignContact.contact_id == contact_id, Campaign.deleted_at.is_(None))
        .order_by(CampaignContact.created_at.desc(), CampaignContact.id.desc())
    )
    return [dict(row) for row in (await session.execute(query)).mappings()]


async def campaigns_for_rules(session: AsyncSession, contact_id: uuid.UUID) -> list[Campaign]:
    """The campaigns (not deleted) the person is in, whose channels their fields must reach."""
    query = (
        select(Campaign)
        .join(CampaignContact, CampaignContact.campaign_id == Campaign.id)
        .where(CampaignContact.contact_id == contact_id, Campaign.deleted_at.is_(None))
    )
    return list(await session.scalars(query))


async def live_campaign_names(session: AsyncSession, contact_id: uuid.UUID) -> list[str]:
    query = (
        select(Campaign.name)
        .join(CampaignContact, CampaignContact.campaign_id == Campaign.id)
        .where(
            CampaignContact.contact_id == contact_id,
            Campaign.deleted_at.is_(None),
            Campaign.status.in_(LIVE_STATUSES),
        )
        .order_by(Campaign.name)
    )
    return list(await session.scalars(query))


async def delete_person(session: AsyncSession, contact_id: uuid.UUID) -> None:
    """The person and, by the foreign keys, their memberships and those memberships' events."""
    await session.execute(delete(Contact).where(Contact.id == contact_id))


async def activity_page(
    session: AsyncSession,
    contact_id: uuid.UUID,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[dict[str, Any]]:
    """The person's events in every campaign, newest first (idx_engagement_events_member_time
    per membership)."""
    events = EngagementEvent.__table__
    query = (
        select(events)
        .join(
            CampaignContact,
            (CampaignContact.org_id == events.c.org_id)
            & (CampaignContact.id == events.c.campaign_contact_id),
        )
        .where(CampaignContact.contact_id == contact_id)
    )
    if after is not None:
        query = query.where(tuple_(events.c.event_timestamp, events.c.id) < tuple_(*after))
    query = query.order_by(events.c.event_timestamp.desc(), events.c.id.desc()).limit(limit)
    return [dict(row) for row in (await session.execute(query)).mappings()]
