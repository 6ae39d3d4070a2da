"""Queries of the data-subject requests: a person's rows in every table (read for an export),
the person's own rows made anonymous, and the audit log (its one writer)."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Table, false, func, select, text, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from outreach.models import (
    AuditEntry,
    CampaignContact,
    CaughtMessage,
    Contact,
    EngagementEvent,
    InboxMessage,
    OutboxMessage,
    Suppression,
    Task,
    WorkflowState,
)
from outreach.suppressions.repository import email_hash

Row = dict[str, Any]


async def lock_contact(session: AsyncSession, contact_id: uuid.UUID) -> Contact | None:
    return await session.scalar(select(Contact).where(Contact.id == contact_id).with_for_update())


async def get_contact(session: AsyncSession, contact_id: uuid.UUID) -> Row | None:
    table = Contact.__table__
    found = await session.execute(select(table).where(table.c.id == contact_id))
    row = found.mappings().first()
    return dict(row) if row is not None else None


async def lock_memberships(session: AsyncSession, contact_id: uuid.UUID) -> list[uuid.UUID]:
    """The person's campaign contacts, locked as the event writers lock them (NO KEY UPDATE,
    in id order), so that an erasure and an event arriving meanwhile wait in turn."""
    rows = await session.execute(
        select(CampaignContact.id)
        .where(CampaignContact.contact_id == contact_id)
        .order_by(CampaignContact.id)
        .with_for_update(key_share=True)
    )
    return list(rows.scalars())


@dataclass(frozen=True)
class Section:
    """One kind of exported rows: which rows of `table` are about the person, newest first."""

    table: Table
    about: ColumnElement[bool]
    newest_first: tuple[ColumnElement[Any], ...]


def _section(model: Any, about: ColumnElement[bool], newest: str) -> Section:
    table: Table = model.__table__
    return Section(table, about, (table.c[newest].desc(), table.c.id.desc()))


def memberships_of(contact_id: uuid.UUID) -> Section:
    return _section(CampaignContact, CampaignContact.contact_id == contact_id, "created_at")


def sections_about(member_ids: list[uuid.UUID], address: str | None) -> dict[str, Section]:
    """Each other kind of exported rows: those of the person's campaign contacts, and those
    of their address (caught mail, by recipient in any case; suppressions, by hash)."""
    to_address: ColumnElement[bool] = false()
    suppressed: ColumnElement[bool] = false()
    if address is not None:
        recipient = func.unnest(CaughtMessage.recipients).column_valued("address")
        to_address = select(recipient).where(func.lower(recipient) == address.lower()).exists()
        suppressed = Suppression.email_hash == email_hash(address)
    return {
        "events": _section(
            EngagementEvent, EngagementEvent.campaign_contact_id.in_(member_ids), "event_timestamp"
        ),
        "messages": _section(
            OutboxMessage, OutboxMessage.campaign_contact_id.in_(member_ids), "created_at"
        ),
        "tasks": _section(Task, Task.campaign_contact_id.in_(member_ids), "created_at"),
        "workflow_states": _section(
            WorkflowState, WorkflowState.campaign_contact_id.in_(member_ids), "started_at"
        ),
        "inbox_messages": _section(
            InboxMessage, InboxMessage.campaign_contact_id.in_(member_ids), "received_at"
        ),
        "caught_messages": _section(CaughtMessage, to_address, "received_at"),
        "suppressions": _section(Suppression, suppressed, "created_at"),
    }


async def rows_of(session: AsyncSession, section: Section, limit: int) -> tuple[list[Row], int]:
    """Up to `limit` rows of the section, newest first, with how many there are in all."""
    found = await session.execute(
        select(section.table).where(section.about).order_by(*section.newest_first).limit(limit)
    )
    rows = [dict(row) for row in found.mappings()]
    if len(rows) < limit:
        return rows, len(rows)
    total = await session.scalar(
        select(func.count()).select_from(section.table).where(section.about)
    )
    return rows, int(total or 0)


# -- erasure: the person's own rows ----------------------------------------------------------


async def erase_memberships(session: AsyncSession, member_ids: list[uuid.UUID]) -> None:
    """Their status and engagement timestamps stay (the campaign's counters count them); a
    reply's text and an error (which may quote the address) go."""
    await session.execute(
        update(CampaignContact)
        .where(CampaignContact.id.in_(member_ids))
        .values(response_text=None, error_message=None)
    )


# -- name: anonymize-contact (the row stays: its campaign contacts point at it; a fresh random
# lead id keeps the rule that a person has an email or a lead id)
_ANONYMIZE_CONTACT = text("""
UPDATE contacts SET email = NULL, lead_id = gen_random_uuid(), first_name = NULL,
  last_name = NULL, linkedin_url = NULL, company_name = NULL, title = NULL, phone = NULL,
  timezone = NULL, lead_tier = NULL, tags = '{}', score = 0, custom_fields = '{}',
  erased_at = coalesce(erased_at, now())
WHERE id = :contact_id
""")


async def anonymize_contact(session: AsyncSession, contact_id: uuid.UUID) -> None:
    await session.execute(_ANONYMIZE_CONTACT, {"contact_id": contact_id})


# The tag and score changes noted for the sequences' triggers (written by a database trigger
# on contacts, taken within seconds by workflows/triggers): an erased person's go at once.
_FORGET_TRIGGER_SIGNALS = text("DELETE FROM contact_trigger_signals WHERE contact_id = :contact_id")


async def forget_trigger_signals(session: AsyncSession, contact_id: uuid.UUID) -> int:
    deleted = await session.execute(_FORGET_TRIGGER_SIGNALS, {"contact_id": contact_id})
    return deleted.rowcount  # type: ignore[attr-defined,no-any-return]


# -- the audit log -----------------------------------------------------------------------------


async def add_audit_entry(
    session: AsyncSession,
    *,
    org_id: uuid.UUID,
    actor_id: uuid.UUID,
    action: str,
    subject_id: uuid.UUID,
    details: dict[str, Any],
) -> None:
    session.add(
        AuditEntry(
            org_id=org_id,
            actor_id=actor_id,
            action=action,
            subject_type="contact",
            subject_id=subject_id,
            details=details,
        )
    )
    await session.flush()


async def list_audit_entries(
    session: AsyncSession,
    *,
    action: str | None,
    after: tuple[datetime, int] | None,
    limit: int,
) -> Sequence[AuditEntry]:
    """Newest first, `limit + 1` rows at most (the extra one tells there is a next page)."""
    query = (
        select(AuditEntry)
        .order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc())
        .limit(limit + 1)
    )
    if action is not None:
        query = query.where(AuditEntry.action == action)
    if after is not None:
        query = query.where(tuple_(AuditEntry.created_at, AuditEntry.id) < after)
    return (await session.execute(query)).scalars().all()
