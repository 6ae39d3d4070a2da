"""Sender queries."""

import uuid
from collections.abc import Sequence
from typing import Any

from psycopg.errors import UniqueViolation
from sqlalchemy import delete, select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from outreach.kit.keyset import Position
from outreach.models import Sender

# The unique index on (org_id, lower(from_email)), named in migration 0003_senders
FROM_EMAIL_INDEX = "uq_senders_org_from_email"


class FromEmailTaken(Exception):
    """Another sender of the organization already has this from_email."""


async def get_sender(
    session: AsyncSession, sender_id: uuid.UUID, *, for_update: bool = False
) -> Sender | None:
    query = select(Sender).where(Sender.id == sender_id)
    if for_update:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def list_senders(
    session: AsyncSession, *, after: Position | None, limit: int
) -> Sequence[Sender]:
    """Newest first, `limit + 1` rows at most (the extra one tells there is a next page)."""
    query = select(Sender).order_by(Sender.created_at.desc(), Sender.id.desc()).limit(limit + 1)
    if after is not None:
        query = query.where(tuple_(Sender.created_at, Sender.id) < after)
    return (await session.execute(query)).scalars().all()


async def add_sender(session: AsyncSession, sender: Sender) -> Sender:
    """The new sender; raises FromEmailTaken when its from_email is already in use."""
    session.add(sender)
    await _flush(session)
    await session.refresh(sender)  # defaults and timestamps come from the database
    return sender


async def update_sender(session: AsyncSession, sender: Sender, changes: dict[str, Any]) -> Sender:
    """The changed sender; raises FromEmailTaken when its new from_email is already in use."""
    for field, value in changes.items():
        setattr(sender, field, value)
    await _flush(session)
    await session.refresh(sender)  # updated_at is set by a trigger
    return sender


async def delete_sender(session: AsyncSession, sender_id: uuid.UUID) -> bool:
    deleted = await session.execute(
        delete(Sender).where(Sender.id == sender_id).returning(Sender.id)
    )
    return deleted.first() is not None


async def _flush(session: AsyncSession) -> None:
    # In a savepoint, so that a duplicate leaves the request's transaction usable.
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        orig = exc.orig
        if isinstance(orig, UniqueViolation) and orig.diag.constraint_name == FROM_EMAIL_INDEX:
            raise FromEmailTaken from exc
        raise
