"""Outbox reads."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, Select, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from outreach.kit.keyset import Position
from outreach.models import CampaignContact, Contact, OutboxMessage


@dataclass(frozen=True)
class OutboxFilters:
    campaign_id: uuid.UUID | None = None
    status: str | None = None
    channel: str | None = None


def _messages() -> Select[Any]:
    to = func.coalesce(Contact.email, Contact.phone)
    return (
        select(*OutboxMessage.__table__.c, to.label("to"))
        .join(CampaignContact, CampaignContact.id == OutboxMessage.campaign_contact_id)
        .join(Contact, Contact.id == CampaignContact.contact_id)
    )


async def list_messages(
    session: AsyncSession, filters: OutboxFilters, *, after: Position | None, limit: int
) -> Sequence[Row[Any]]:
    """Newest first, `limit + 1` rows at most (the extra one tells there is a next page)."""
    query = _messages()
    for column, value in (
        (OutboxMessage.campaign_id, filters.campaign_id),
        (OutboxMessage.status, filters.status),
        (OutboxMessage.channel, filters.channel),
    ):
        if value is not None:
            query = query.where(column == value)
    if after is not None:
        query = query.where(tuple_(OutboxMessage.created_at, OutboxMessage.id) < after)
    query = query.order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
    result: Sequence[Row[Any]] = (await session.execute(query.limit(limit + 1))).all()
    return result


async def get_message(session: AsyncSession, message_id: uuid.UUID) -> Row[Any] | None:
    query = _messages().where(OutboxMessage.id == message_id)
    row: Row[Any] | None = (await session.execute(query)).first()
    return row
