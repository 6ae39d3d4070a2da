"""Suppression queries. An address is matched by its hash (`email_hash`), never by `email`:
an erased person's suppression keeps the hash alone."""

import hashlib
import uuid
from collections.abc import Sequence

from sqlalchemy import delete, func, select, text, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from outreach.kit.keyset import Position
from outreach.models import Suppression


def email_hash(email: str) -> str:
    """The hash a suppression keeps of an address (the trigger of migration 0012 computes it
    the same way from `email`)."""
    return hashlib.sha256(email.lower().encode()).hexdigest()


async def suppressed_emails(session: AsyncSession, emails: list[str]) -> dict[str, str]:
    """Which of `emails` are on the organization's do-not-contact list: lowercased email to
    its reason (`unsubscribed`, `hard_bounce`, `complaint` or `manual`)."""
    if not emails:
        return {}
    by_hash = {email_hash(email): email.lower() for email in emails}
    rows = await session.execute(
        select(Suppression.email_hash, Suppression.reason).where(
            Suppression.email_hash.in_(sorted(by_hash))
        )
    )
    return {by_hash[hashed]: reason for hashed, reason in rows}


async def get_suppression(session: AsyncSession, suppression_id: uuid.UUID) -> Suppression | None:
    return await session.get(Suppression, suppression_id)


async def list_suppressions(
    session: AsyncSession,
    *,
    reason: str | None,
    email_prefix: str | None,
    after: Position | None,
    limit: int,
) -> Sequence[Suppression]:
    """Newest first, `limit + 1` rows at most (the extra one tells there is a next page)."""
    query = (
        select(Suppression)
        .order_by(Suppression.created_at.desc(), Suppression.id.desc())
        .limit(limit + 1)
    )
    if reason is not None:
        query = query.where(Suppression.reason == reason)
    if email_prefix:
        query = query.where(
            func.lower(Suppression.email).startswith(email_prefix.lower(), autoescape=True)
        )
    if after is not None:
        query = query.where(tuple_(Suppression.created_at, Suppression.id) < after)
    return (await session.execute(query)).scalars().all()


async def add_suppression(
    session: AsyncSession,
    *,
    org_id: uuid.UUID,
    email: str,
    reason: str,
    note: str | None,
    created_by: uuid.UUID,
) -> Suppression | None:
    """The new suppression; None when the email is already suppressed."""
    query = (
        insert(Suppression)
        .values(org_id=org_id, email=email, reason=reason, note=note, created_by=created_by)
        .on_conflict_do_nothing(index_elements=[Suppression.org_id, Suppression.email_hash])
        .returning(Suppression)
    )
    return (await session.execute(query)).scalar_one_or_none()


async def delete_unsubscribe(session: AsyncSession, email: str, event_ids: list[uuid.UUID]) -> bool:
    """Delete `email`'s `unsubscribed` suppression if one of `event_ids` made it."""
    deleted = await session.execute(
        delete(Suppression)
        .where(
            Suppression.email_hash == email_hash(email),
            Suppression.reason == "unsubscribed",
            Suppression.event_id.in_(event_ids),
        )
        .returning(Suppression.id)
    )
    return deleted.first() is not None


async def delete_suppression(session: AsyncSession, suppression_id: uuid.UUID) -> bool:
    deleted = await session.execute(
        delete(Suppression).where(Suppression.id == suppression_id).returning(Suppression.id)
    )
    return deleted.first() is not None


ERASED_NOTE = "erased"
# -- name: suppress-erased (an existing suppression of the address loses its address and note)
_SUPPRESS_ERASED = text("""
INSERT INTO suppressions (org_id, email, email_hash, reason, note, created_by)
VALUES (:org_id, NULL, :email_hash, 'manual', :note, :created_by)
ON CONFLICT (org_id, email_hash) DO UPDATE SET email = NULL, note = excluded.note
""")


async def suppress_erased(
    session: AsyncSession, *, org_id: uuid.UUID, email_hash: str, created_by: uuid.UUID
) -> None:
    await session.execute(
        _SUPPRESS_ERASED,
        {"org_id": org_id, "email_hash": email_hash, "note": ERASED_NOTE, "created_by": created_by},
    )
