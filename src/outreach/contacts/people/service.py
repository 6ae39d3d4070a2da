"""The organization's people: search and filters, one person with their campaigns, edits,
tags, deletion and the activity timeline. Edits follow the campaign contact's rules
(`contacts.service`): the person stays reachable by every campaign they are in."""

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from outreach.auth.dependencies import require_manager, require_writer
from outreach.auth.tokens import Principal
from outreach.contacts import service as contacts
from outreach.contacts.people import repository
from outreach.contacts.people.filters import ContactFilters
from outreach.contacts.people.schemas import (
    ActivityOut,
    MembershipOut,
    PersonDetail,
    PersonOut,
    TagsChange,
)
from outreach.contacts.schemas import ContactFields
from outreach.errors import Conflict, ValidationFailed, not_found
from outreach.kit.keyset import page_by, page_of, position_after
from outreach.kit.pagination import Page
from outreach.models import Contact


async def list_people(
    session: AsyncSession, filters: ContactFilters, limit: int, cursor: str | None
) -> Page[PersonOut]:
    rows = await repository.people_page(session, filters, position_after(cursor), limit + 1)
    return page_of(rows, limit, PersonOut.model_validate)


async def _person(
    session: AsyncSession, contact_id: uuid.UUID, *, for_update: bool = False
) -> Contact:
    person = await repository.get_person(session, contact_id, for_update=for_update)
    if person is None:
        raise not_found("Contact")
    return person


async def _detail(session: AsyncSession, person: Contact) -> PersonDetail:
    memberships = await repository.campaigns_of(session, person.id)
    return PersonDetail(
        **PersonOut.model_validate(person).model_dump(),
        campaigns=[MembershipOut.model_validate(row) for row in memberships],
    )


async def get_person(session: AsyncSession, contact_id: uuid.UUID) -> PersonDetail:
    return await _detail(session, await _person(session, contact_id))


async def update_person(
    session: AsyncSession, principal: Principal, contact_id: uuid.UUID, body: ContactFields
) -> PersonDetail:
    """Change the person's fields, checked as a campaign contact's edit checks them, for every
    campaign they are in; the email may change to one no other person has."""
    person = await _person(session, contact_id, for_update=True)
    require_writer(principal)
    campaigns = await repository.campaigns_for_rules(session, person.id)
    changes, errors = contacts.person_changes(
        campaigns, person, body.model_dump(exclude_unset=True)
    )
    if errors:
        raise ValidationFailed(errors=errors)
    await contacts.check_identity_free(session, person, changes)
    for name, value in changes.items():
        setattr(person, name, value)
    await session.flush()
    await session.refresh(person)
    return await _detail(session, person)


async def change_tags(
    session: AsyncSession, principal: Principal, contact_id: uuid.UUID, body: TagsChange
) -> PersonDetail:
    person = await _person(session, contact_id)
    require_writer(principal)
    change = (await contacts.change_tags(session, [person.id], add=body.add, remove=body.remove))[
        person.id
    ]
    if not change.applied:
        raise ValidationFailed.field("tags", change.code or "", change.message or "")
    await session.refresh(person)
    return await _detail(session, person)


async def delete_person(session: AsyncSession, principal: Principal, contact_id: uuid.UUID) -> None:
    """Delete the person with their memberships and those memberships' events (the campaigns'
    counters follow). Refused while they are in a scheduled, active or paused campaign: take
    them out of it first, or let it end."""
    person = await _person(session, contact_id, for_update=True)
    require_manager(principal)
    live = await repository.live_campaign_names(session, person.id)
    if live:
        raise Conflict(
            "CONTACT_IN_LIVE_CAMPAIGN",
            "This person is in a live campaign",
            f"Remove them from {', '.join(live[:5])} first, or wait until it ends.",
        )
    await repository.delete_person(session, person.id)


async def list_activity(
    session: AsyncSession, contact_id: uuid.UUID, limit: int, cursor: str | None
) -> Page[ActivityOut]:
    person = await _person(session, contact_id)
    after = position_after(cursor)
    rows = await repository.activity_page(session, person.id, after, limit + 1)

    def key(row: dict[str, Any]) -> tuple[Any, uuid.UUID]:
        return row["event_timestamp"], row["id"]

    return page_by(rows, limit, ActivityOut.model_validate, key)
