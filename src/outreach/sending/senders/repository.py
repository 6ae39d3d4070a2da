"""Sender queries."""

import uuid
from collections.abc import Sequence
from typing import Any

from psycopg.errors import ForeignKeyViolation, UniqueViolation
from sqlalchemy import delete, func, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from outreach.kit.keyset import Position
from outreach.models import Sender, SenderMailbox

# The unique index on (org_id, lower(from_email)), named in migration 0003_senders
FROM_EMAIL_INDEX = "uq_senders_org_from_email"
# outbox_messages.sender_id, ON DELETE RESTRICT (migration 0004_sending): sent mail keeps its sender
OUTBOX_SENDER_FK = "fk_outbox_messages_sender"


class FromEmailTaken(Exception):
    """Another sender of the organization already has this from_email."""


class SenderInUse(Exception):
    """Outbox messages (queued or sent) name this sender."""


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


async def mailboxes_of(
    session: AsyncSession, sender_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, SenderMailbox]:
    """The mailboxes of these senders (those that have one), by sender."""
    if not sender_ids:
        return {}
    query = (
        select(SenderMailbox)
        .where(SenderMailbox.sender_id.in_(sender_ids))
        .execution_options(populate_existing=True)  # written by statements, not the session
    )
    return {mailbox.sender_id: mailbox for mailbox in (await session.execute(query)).scalars()}


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


async def resume_sender(session: AsyncSession, sender: Sender) -> Sender:
    """Unpaused, its breaker counting from now (the transaction's time)."""
    return await update_sender(
        session, sender, {"paused_at": None, "paused_reason": None, "breaker_reset_at": func.now()}
    )


async def delete_sender(session: AsyncSession, sender_id: uuid.UUID) -> bool:
    """Whether it existed; raises SenderInUse when outbox messages name it."""
    try:
        async with session.begin_nested():  # the refusal leaves the request's transaction usable
            deleted = await session.execute(
                delete(Sender).where(Sender.id == sender_id).returning(Sender.id)
            )
            found = deleted.first() is not None
    except IntegrityError as exc:
        orig = exc.orig
        if isinstance(orig, ForeignKeyViolation) and orig.diag.constraint_name == OUTBOX_SENDER_FK:
            raise SenderInUse from exc
        raise
    return found


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


async def default_sender(session: AsyncSession, org_id: uuid.UUID, mail_from: str) -> Sender:
    query = select(Sender).order_by(Sender.transport.desc(), Sender.created_at, Sender.id).limit(1)
    found = (await session.execute(query.where(Sender.transport == "smtp"))).scalar_one_or_none()
    if found is not None:
        return found
    await session.execute(
        insert(Sender)
        .values(org_id=org_id, from_email=mail_from, from_name="outreach", transport="system")
        .on_conflict_do_nothing()
    )
    return (await session.execute(query.where(Sender.transport == "system"))).scalar_one()
