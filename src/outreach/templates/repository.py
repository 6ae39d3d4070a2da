"""Message template queries."""

import uuid
from collections.abc import Sequence
from typing import Any

from psycopg.errors import ForeignKeyViolation
from sqlalchemy import delete, select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from outreach.kit.keyset import Position
from outreach.models import Contact, MessageTemplate


async def get_template(
    session: AsyncSession, template_id: uuid.UUID, *, for_update: bool = False
) -> MessageTemplate | None:
    query = select(MessageTemplate).where(MessageTemplate.id == template_id)
    if for_update:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def list_templates(
    session: AsyncSession,
    *,
    channel: str | None,
    name_contains: str | None,
    after: Position | None,
    limit: int,
) -> Sequence[MessageTemplate]:
    """Newest first, `limit + 1` rows at most (the extra one tells there is a next page)."""
    query = (
        select(MessageTemplate)
        .order_by(MessageTemplate.created_at.desc(), MessageTemplate.id.desc())
        .limit(limit + 1)
    )
    if channel is not None:
        query = query.where(MessageTemplate.channel == channel)
    if name_contains:
        query = query.where(MessageTemplate.name.icontains(name_contains, autoescape=True))
    if after is not None:
        query = query.where(tuple_(MessageTemplate.created_at, MessageTemplate.id) < after)
    return (await session.execute(query)).scalars().all()


async def add_template(session: AsyncSession, template: MessageTemplate) -> MessageTemplate:
    session.add(template)
    await session.flush()
    return template


async def update_template(
    session: AsyncSession, template: MessageTemplate, changes: dict[str, Any]
) -> MessageTemplate:
    for field, value in changes.items():
        setattr(template, field, value)
    await session.flush()
    await session.refresh(template)  # updated_at is set by a trigger
    return template


async def delete_template(session: AsyncSession, template: MessageTemplate) -> bool:
    """Delete the template; False when a campaign or campaign contact still refers to it."""
    try:
        await session.execute(delete(MessageTemplate).where(MessageTemplate.id == template.id))
    except IntegrityError as exc:
        if isinstance(exc.orig, ForeignKeyViolation):
            return False
        raise
    return True


async def get_contact(session: AsyncSession, contact_id: uuid.UUID) -> Contact | None:
    return await session.get(Contact, contact_id)
