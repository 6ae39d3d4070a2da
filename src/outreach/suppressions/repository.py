"""Suppression queries."""

import uuid
from collections.abc import Sequence

from sqlalchemy import delete, func, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from outreach.kit.keyset import Position
from outreach.models import Suppression


async def suppressed_emails(session: AsyncSession, emails: list[str]) -> dict[str, str]:
    """Which of `emails` are on the organization's do-not-contact list: lowercased email to
    its reason (`unsubscribed`, `hard_bounce`, `complaint` or `manual`)."""
    if not emails:
        return {}
    lowered = sorted({email.lower() for email in emails})
    rows = await session.execute(
        select(func.lower(Suppression.email), Suppression.reason).where(
            func.lower(Suppression.email).in_(lowered)
        )
    )
    return {email: reason for email, reason in rows}


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
        .on_conflict_do_nothing(index_elements=[Suppression.org_id, func.lower(Suppression.email)])
        .returning(Suppression)
    )
    return (await session.execute(query)).scalar_one_or_none()


async def delete_suppression(session: AsyncSession, suppression_id: uuid.UUID) -> bool:
    deleted = await session.execute(
        delete(Suppression).where(Suppression.id == suppression_id).returning(Suppression.id)
    )
    return deleted.first() is not None
