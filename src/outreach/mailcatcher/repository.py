"""Caught message queries."""

import uuid
from collections.abc import Sequence

from sqlalchemy import delete, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from outreach.kit.keyset import Position
from outreach.models import CaughtMessage


async def get_message(session: AsyncSession, message_id: uuid.UUID) -> CaughtMessage | None:
    return await session.get(CaughtMessage, message_id)


async def list_messages(
    session: AsyncSession,
    *,
    recipient: str | None,
    subject_contains: str | None,
    after: Position | None,
    limit: int,
) -> Sequence[CaughtMessage]:
    """Newest first, `limit + 1` rows at most (the extra one tells there is a next page)."""
    query = (
        select(CaughtMessage)
        .order_by(CaughtMessage.received_at.desc(), CaughtMessage.id.desc())
        .limit(limit + 1)
    )
    if recipient:
        address = func.unnest(CaughtMessage.recipients).column_valued("address")
        query = query.where(
            select(address).where(func.lower(address) == recipient.lower()).exists()
        )
    if subject_contains:
        query = query.where(CaughtMessage.subject.icontains(subject_contains, autoescape=True))
    if after is not None:
        query = query.where(tuple_(CaughtMessage.received_at, CaughtMessage.id) < after)
    return (await session.execute(query)).scalars().all()


async def delete_messages(session: AsyncSession) -> None:
    """Deletes every message the session's organization may see (row-level security)."""
    await session.execute(delete(CaughtMessage))


async def delete_messages_to(session: AsyncSession, address: str) -> int:
    """Deletes the organization's caught messages with `address` (any case) among their
    recipients; answers how many."""
    recipient = func.unnest(CaughtMessage.recipients).column_valued("address")
    deleted = await session.execute(
        delete(CaughtMessage).where(
            select(recipient).where(func.lower(recipient) == address.lower()).exists()
        )
    )
    return deleted.rowcount  # type: ignore[attr-defined,no-any-return]
