"""Data-subject requests. An export gathers everything held about a person; an erasure takes
the person's data out of every table while the campaigns' figures stay true, and keeps the
address on the do-not-contact list as a hash only. Both are written to the audit log, with
counts and never the person's data. Admins and TA managers only: both reach every campaign's
data about the person.

An erased person's rows stay where the campaigns count them (the contact row, stripped of
every field, and its campaign contacts with their statuses and engagement timestamps; the
events with their type, time and machine flag; the outbox rows the senders' rates count), so
the counter reconciliation recounts what the counters hold.
"""

import uuid
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from outreach.auth.dependencies import require_manager
from outreach.auth.tokens import Principal, Role
from outreach.contacts.imports.repository import forget_problems_mentioning
from outreach.contacts.privacy import repository
from outreach.contacts.privacy.schemas import AuditEntryOut, ContactExport, ErasureOut, Row
from outreach.errors import Forbidden, not_found
from outreach.events.service import erase_event_details
from outreach.inbox.service import erase_for_members as erase_inbox_messages
from outreach.kit.idempotency import forget_answers_mentioning
from outreach.kit.pagination import Page, decode_cursor, encode_cursor, invalid_cursor
from outreach.mailcatcher.service import erase_messages_to
from outreach.sending.outbox.service import erase_for_members as erase_outbox_messages
from outreach.suppressions.repository import email_hash, suppress_erased
from outreach.tasks.service import erase_for_members as erase_tasks
from outreach.webhooks.service import forget_contact as forget_webhook_deliveries
from outreach.workflows.enrollments.service import erase_walks

# The most rows an export gives of each kind; a person with more (100,000 events) gets the
# newest, with the totals and the lists that were cut named (`truncated`).
EXPORT_LIMIT = 10_000
ERASED_REASON = "contact erased"


async def export_contact(
    session: AsyncSession, principal: Principal, contact_id: uuid.UUID
) -> ContactExport:
    require_manager(principal)
    contact = await repository.get_contact(session, contact_id)
    if contact is None:
        raise not_found("Contact")
    sections: dict[str, list[Row]] = {}
    counts: dict[str, int] = {}
    sections["memberships"], counts["memberships"] = await repository.rows_of(
        session, repository.memberships_of(contact_id), EXPORT_LIMIT
    )
    member_ids = [row["id"] for row in sections["memberships"]]
    for name, section in repository.sections_about(member_ids, contact["email"]).items():
        sections[name], counts[name] = await repository.rows_of(session, section, EXPORT_LIMIT)
    truncated = sorted(name for name, rows in sections.items() if len(rows) < counts[name])
    await repository.add_audit_entry(
        session,
        org_id=principal.org_id,
        actor_id=principal.user_id,
        action="contact.exported",
        subject_id=contact_id,
        details={"counts": counts, "truncated": truncated},
    )
    return ContactExport(
        exported_at=datetime.now(UTC),
        contact=contact,
        **sections,
        counts=counts,
        limit=EXPORT_LIMIT,
        truncated=truncated,
    )


async def erase_contact(
    session: AsyncSession, principal: Principal, contact_id: uuid.UUID
) -> ErasureOut:
    """Erase the person's data everywhere, in the caller's transaction (all of it or none)."""
    require_manager(principal)
    contact = await repository.lock_contact(session, contact_id)
    if contact is None:
        raise not_found("Contact")
    address = contact.email
    # The campaign contacts first, as the event writers and the send loop lock them.
    member_ids = await repository.lock_memberships(session, contact_id)
    now = datetime.now(UTC)
    erased = {
        "memberships": len(member_ids),
        "workflow_states": await erase_walks(session, member_ids, now, ERASED_REASON),
        "messages": await erase_outbox_messages(session, member_ids, ERASED_REASON),
        "tasks": await erase_tasks(session, member_ids),
        "events": await erase_event_details(session, member_ids),
        "inbox_messages": await erase_inbox_messages(session, member_ids),
        "trigger_signals": await repository.forget_trigger_signals(session, contact_id),
        "webhook_deliveries": await forget_webhook_deliveries(session, contact_id),
    }
    if address is not None:
        erased["caught_messages"] = await erase_messages_to(session, address)
        erased["idempotent_answers"] = await forget_answers_mentioning(session, [address])
        erased["import_problems"] = await forget_problems_mentioning(session, address)
        await suppress_erased(
            session,
            org_id=principal.org_id,
            email_hash=email_hash(address),
            created_by=principal.user_id,
        )
    await repository.erase_memberships(session, member_ids)
    await repository.anonymize_contact(session, contact_id)
    await repository.add_audit_entry(
        session,
        org_id=principal.org_id,
        actor_id=principal.user_id,
        action="contact.erased",
        subject_id=contact_id,
        details={"counts": erased, "suppressed": address is not None},
    )
    return ErasureOut(contact_id=contact_id, erased=erased, suppressed=address is not None)


async def list_audit_entries(
    session: AsyncSession,
    principal: Principal,
    *,
    action: str | None,
    limit: int,
    cursor: str | None,
) -> Page[AuditEntryOut]:
    if principal.role is not Role.ADMIN:
        raise Forbidden(detail="Only admins may read the audit log.")
    rows = await repository.list_audit_entries(
        session, action=action, after=_audit_position(cursor), limit=limit
    )
    items = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        next_cursor = encode_cursor([items[-1].created_at.isoformat(), items[-1].id])
    return Page(items=[AuditEntryOut.model_validate(e) for e in items], next_cursor=next_cursor)


def _audit_position(cursor: str | None) -> tuple[datetime, int] | None:
    """The (created_at, id) an audit page starts after (the log's ids are numbers)."""
    if cursor is None:
        return None
    created_at, entry_id = decode_cursor(cursor, 2)
    if not isinstance(entry_id, int) or isinstance(entry_id, bool):
        raise invalid_cursor()
    try:
        return datetime.fromisoformat(str(created_at)), entry_id
    except ValueError as exc:
        raise invalid_cursor() from exc
