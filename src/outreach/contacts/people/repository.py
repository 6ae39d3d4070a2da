"""Queries for the organization's people: pages under the filters, counts, a person's campaigns
and their events."""

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, func, literal, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from outreach.contacts.people.filters import (
    SEARCH_WORDS,
    ContactFilters,
    conditions,
    has_word_starting,
    row_has_word_starting,
    searched_words,
    word_range,
)
from outreach.kit.keyset import Position
from outreach.models import Campaign, CampaignContact, Contact, EngagementEvent

LIVE_STATUSES = ("scheduled", "active", "paused")


# A search reads the entries of its rarest word when that word has fewer entries than this: an
# index-only scan and a sort of at most this many (about 10 ms at 10,000, 25 ms at 30,000).
# Otherwise it walks the people newest first until it has a page, reading each person's own
# fields (about 2.5 us a person): cheap when the people it looks for are common, about
# 50 x people / matches. One word with 10,000 entries matches about 1 % of a million people
# (a walk of 5,000); the people having several words are rarer than those having each, so a
# search of several words walks only when each of them is very common.
WORD_LEADS_BELOW = 10_000
WORDS_LEAD_BELOW = 30_000


WALK_SETTINGS = text(
    "SELECT set_config('enable_sort', 'off', true), set_config('enable_seqscan', 'off', true), "
    "set_config('max_parallel_workers_per_gather', '0', true)"
)
DEFAULT_SETTINGS = text(
    "SELECT set_config(name, reset_val, true) FROM pg_settings "
    "WHERE name IN ('enable_sort', 'enable_seqscan', 'max_parallel_workers_per_gather')"
)


def people_query(
    filters: ContactFilters, after: Position | None, limit: int, led_by: str | None = None
) -> Select[Any]:
    """The page query of `people_page` (bench/contacts_search.py times this very SQL): the
    people newest first, checked against every filter; `led_by` (one of the searched words)
    finds them through that word's entries instead."""
    if led_by is not None:
        return _led_by_word(filters, after, limit, led_by)
    words = searched_words(filters)
    query = select(Contact).where(
        *conditions(filters, searched=not words), *(row_has_word_starting(word) for word in words)
    )
    if after is not None:
        query = query.where(tuple_(Contact.created_at, Contact.id) < tuple_(*after))
    return query.order_by(Contact.created_at.desc(), Contact.id.desc()).limit(limit)


def _led_by_word(
    filters: ContactFilters, after: Position | None, limit: int, lead: str
) -> Select[Any]:
    """The people who have a word starting with `lead` (an entry carries the person's age), the
    other searched words, then the other filters on the people found."""
    entries = SEARCH_WORDS.alias("lead")
    found = (
        select(entries.c.contact_id, entries.c.created_at)
        .where(
            *word_range(entries, lead),
            *(
                has_word_starting(word, entries.c.org_id, entries.c.contact_id)
                for word in searched_words(filters)
                if word != lead
            ),
        )
        .distinct()  # a person may have several words with the prefix
    )
    if after is not None:
        found = found.where(tuple_(entries.c.created_at, entries.c.contact_id) < tuple_(*after))
    others = conditions(filters, searched=False)
    if not filters.model_dump(exclude={"q"}, exclude_defaults=True):
        # the page is known from the entries alone: only its people are read
        found = found.order_by(entries.c.created_at.desc(), entries.c.contact_id.desc()).limit(
            limit
        )
    page = found.subquery("found")
    return (
        select(Contact)
        .join(page, Contact.id == page.c.contact_id)
        .where(*others)
        .order_by(page.c.created_at.desc(), page.c.contact_id.desc())
        .limit(limit)
    )


def word_count(word: str, up_to: int) -> Select[Any]:
    """How many entries start with `word`, counting up to `up_to`."""
    entries = select(literal(1)).select_from(SEARCH_WORDS).where(*word_range(SEARCH_WORDS, word))
    return select(func.count()).select_from(entries.limit(up_to).subquery())


async def rarest_word(
    count: Callable[[Select[Any]], Awaitable[Any]], words: list[str]
) -> str | None:
    """The searched word with the fewest entries, when it has fewer than WORD_LEADS_BELOW (one
    word) or WORDS_LEAD_BELOW (several). The longest words are counted first (a long prefix is
    usually the rarer) and each count stops at the fewest found so far, so a rare word spares
    counting the common ones. `count` runs a statement and answers its number (the session's
    `scalar`)."""
    distinct = set(words)
    lead, fewest = None, WORD_LEADS_BELOW if len(distinct) == 1 else WORDS_LEAD_BELOW
    for word in sorted(distinct, key=len, reverse=True):
        found = await count(word_count(word, fewest))
        if found is not None and found < fewest:
            lead, fewest = word, found
    return lead


async def people_page(
    session: AsyncSession, filters: ContactFilters, after: Position | None, limit: int
) -> list[Contact]:
    """The people the filters match, newest first (idx_contacts_newest, or the entries of the
    rarest searched word)."""
    words = searched_words(filters)
    lead = await rarest_word(session.scalar, words) if words else None
    query = people_query(filters, after, limit, lead)
    if not words or lead is not None:
        return list(await session.scalars(query))
    # A walk: PostgreSQL cannot estimate how many rows the words' regular expressions keep (it
    # assumes very few, and would read every person to sort them); its parallel workers cost
    # more to start than a walk that stops after a page. Both only for this statement.
    await session.execute(WALK_SETTINGS)
    try:
        return list(await session.scalars(query))
    finally:
        await session.execute(DEFAULT_SETTINGS)


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
