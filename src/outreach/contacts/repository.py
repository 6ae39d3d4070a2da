"""Queries for the organization's people (contacts) and their campaign memberships."""

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    Select,
    and_,
    delete,
    func,
    or_,
    select,
    text,
    tuple_,
)
from sqlalchemy.ext.asyncio import AsyncSession

from outreach.kit.keyset import Position
from outreach.models import CampaignContact, Contact

# One statement per identity index (uq_contacts_org_email, then uq_contacts_org_lead_id for
# people known only by a lead id). The batch travels as one JSON document: a single parameter,
# rather than a dozen per row, is what keeps a 1,000-row add fast. `xmax = 0`: the row was
# inserted, not updated.
UPSERT_CONTACTS = """
INSERT INTO contacts AS c (org_id, email, lead_id, first_name, last_name, linkedin_url,
                           company_name, title, phone, timezone, lead_tier, tags, custom_fields)
SELECT :org_id, p.email, p.lead_id, p.first_name, p.last_name, p.linkedin_url,
       p.company_name, p.title, p.phone, p.timezone, p.lead_tier,
       coalesce(p.tags, '{{}}'), coalesce(p.custom_fields, '{{}}')
FROM jsonb_to_recordset(CAST(:people AS jsonb)) AS p (
  email text, lead_id uuid, first_name text, last_name text, linkedin_url text,
  company_name text, title text, phone text, timezone text, lead_tier text,
  tags text[], custom_fields jsonb)
ON CONFLICT {conflict_target} DO UPDATE SET
  email = coalesce(excluded.email, c.email),
  lead_id = coalesce(excluded.lead_id, c.lead_id),
  first_name = coalesce(excluded.first_name, c.first_name),
  last_name = coalesce(excluded.last_name, c.last_name),
  linkedin_url = coalesce(excluded.linkedin_url, c.linkedin_url),
  company_name = coalesce(excluded.company_name, c.company_name),
  title = coalesce(excluded.title, c.title),
  phone = coalesce(excluded.phone, c.phone),
  timezone = coalesce(excluded.timezone, c.timezone),
  lead_tier = coalesce(excluded.lead_tier, c.lead_tier),
  tags = ARRAY(SELECT tag FROM unnest(c.tags || excluded.tags) WITH ORDINALITY AS t (tag, n)
               GROUP BY tag ORDER BY min(n)),
  custom_fields = c.custom_fields || excluded.custom_fields
RETURNING id, email, lead_id, (xmax = 0) AS inserted
"""
UPSERT_BY_EMAIL = text(
    UPSERT_CONTACTS.format(conflict_target="(org_id, lower(email)) WHERE email IS NOT NULL")
)
UPSERT_BY_LEAD_ID = text(
    UPSERT_CONTACTS.format(
        conflict_target="(org_id, lead_id) WHERE lead_id IS NOT NULL AND email IS NULL"
    )
)
ADD_MEMBERS = text("""
INSERT INTO campaign_contacts (org_id, campaign_id, contact_id, contact_type)
SELECT :org_id, :campaign_id, m.contact_id, m.contact_type
FROM unnest(CAST(:contact_ids AS uuid[]), CAST(:contact_types AS text[]))
  AS m (contact_id, contact_type)
ON CONFLICT (org_id, campaign_id, contact_id) DO NOTHING
RETURNING contact_id, id
""")


class Upserted(NamedTuple):
    id: uuid.UUID
    created: bool  # False: the person existed and was updated


class Member(NamedTuple):
    """A campaign membership with its person, keyed for pages by the membership."""

    membership: CampaignContact
    contact: Contact

    @property
    def id(self) -> uuid.UUID:
        return self.membership.id

    @property
    def created_at(self) -> datetime:
        return self.membership.created_at


def identity_key(email: str | None, lead_id: uuid.UUID | None) -> str:
    """Who a person is, as the unique indexes see it: the email in any case, else the lead id."""
    return email.lower() if email is not None else f"lead:{lead_id}"


@dataclass(frozen=True)
class MemberFilters:
    statuses: list[str]
    ab_variant: str | None
    contact_type: str | None
    q: str | None


async def upsert_contacts(
    session: AsyncSession, org_id: uuid.UUID, people: list[dict[str, Any]]
) -> dict[str, Upserted]:
    """Create or update these people (JSON-ready, each once; absent fields keep their value,
    tags and custom fields merge); answers each one's id, and whether it is new, by its
    `identity_key`."""
    ids: dict[str, Upserted] = {}
    for statement, batch in (
        (UPSERT_BY_EMAIL, [p for p in people if p["email"] is not None]),
        (UPSERT_BY_LEAD_ID, [p for p in people if p["email"] is None]),
    ):
        if batch:
            rows = await session.execute(statement, {"org_id": org_id, "people": json.dumps(batch)})
            ids.update(
                {
                    identity_key(email, lead_id): Upserted(id_, inserted)
                    for id_, email, lead_id, inserted in rows
                }
            )
    return ids


async def add_members(
    session: AsyncSession,
    org_id: uuid.UUID,
    campaign_id: uuid.UUID,
    contact_types: dict[uuid.UUID, str],
) -> dict[uuid.UUID, uuid.UUID]:
    """Add these people with their contact type, skipping those already in the campaign:
    contact id to the new membership's id, for those added only."""
    rows = await session.execute(
        ADD_MEMBERS,
        {
            "org_id": org_id,
            "campaign_id": campaign_id,
            "contact_ids": list(contact_types),
            "contact_types": list(contact_types.values()),
        },
    )
    return {contact_id: id_ for contact_id, id_ in rows}


async def member_ids(
    session: AsyncSession, campaign_id: uuid.UUID, contact_ids: list[uuid.UUID]
) -> dict[uuid.UUID, uuid.UUID]:
    """Contact id to membership id, for those of these people who are in the campaign."""
    if not contact_ids:
        return {}
    rows = await session.execute(
        select(CampaignContact.contact_id, CampaignContact.id).where(
            CampaignContact.campaign_id == campaign_id,
            CampaignContact.contact_id.in_(contact_ids),
        )
    )
    return {contact_id: id_ for contact_id, id_ in rows}


def _members() -> Select[CampaignContact, Contact]:
    return select(CampaignContact, Contact).join(Contact, Contact.id == CampaignContact.contact_id)


async def list_members(
    session: AsyncSession,
    campaign_id: uuid.UUID,
    filters: MemberFilters,
    after: Position | None,
    limit: int,
) -> list[Member]:
    query = _members().where(CampaignContact.campaign_id == campaign_id)
    if filters.statuses:
        query = query.where(CampaignContact.status.in_(filters.statuses))
    if filters.ab_variant:
        query = query.where(CampaignContact.ab_variant == filters.ab_variant)
    if filters.contact_type:
        query = query.where(CampaignContact.contact_type == filters.contact_type)
    if filters.q:
        searched = (Contact.email, Contact.first_name, Contact.last_name, Contact.company_name)
        query = query.where(or_(*(c.icontains(filters.q, autoescape=True) for c in searched)))
    if after is not None:
        query = query.where(tuple_(CampaignContact.created_at, CampaignContact.id) < tuple_(*after))
    query = query.order_by(CampaignContact.created_at.desc(), CampaignContact.id.desc())
    return [Member(*row) for row in await session.execute(query.limit(limit))]


async def get_member(
    session: AsyncSession, campaign_id: uuid.UUID, member_id: uuid.UUID, *, for_update: bool = False
) -> Member | None:
    query = _members().where(
        CampaignContact.id == member_id, CampaignContact.campaign_id == campaign_id
    )
    if for_update:
        query = query.with_for_update()
    row = (await session.execute(query)).first()
    return None if row is None else Member(*row)


async def delete_member(
    session: AsyncSession, campaign_id: uuid.UUID, member_id: uuid.UUID
) -> bool:
    deleted = await session.scalar(
        delete(CampaignContact)
        .where(CampaignContact.id == member_id, CampaignContact.campaign_id == campaign_id)
        .returning(CampaignContact.id)
    )
    return deleted is not None


async def find_contact_id(
    session: AsyncSession, email: str | None, lead_id: uuid.UUID | None
) -> uuid.UUID | None:
    """The person the unique indexes would take for this email, or lead id when no email."""
    if email is not None:
        condition = func.lower(Contact.email) == email.lower()
    else:
        condition = and_(Contact.lead_id == lead_id, Contact.email.is_(None))
    found: uuid.UUID | None = await session.scalar(select(Contact.id).where(condition))
    return found


async def lock_contacts(session: AsyncSession, contact_ids: Iterable[uuid.UUID]) -> list[Contact]:
    """These people, locked for a change and read afresh (a copy the session already holds is
    overwritten). Locked in id order, so two batches over the same people cannot deadlock."""
    wanted = sorted(set(contact_ids))
    if not wanted:
        return []
    query = (
        select(Contact)
        .where(Contact.id.in_(wanted))
        .order_by(Contact.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return list(await session.scalars(query))
