"""Outbox reads: any member of the organization may see what it sends."""

import uuid
from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from outreach.errors import not_found
from outreach.kit.keyset import page_of, position_after
from outreach.kit.pagination import Page
from outreach.outbox import repository
from outreach.outbox.repository import OutboxFilters
from outreach.outbox.schemas import OutboxMessageOut


def _out(row: Row[Any]) -> OutboxMessageOut:
    return OutboxMessageOut.model_validate(row, from_attributes=True)


async def list_messages(
    session: AsyncSession, filters: OutboxFilters, *, limit: int, cursor: str | None
) -> Page[OutboxMessageOut]:
    rows = await repository.list_messages(
        session, filters, after=position_after(cursor), limit=limit
    )
    return page_of(rows, limit, _out)


async def get_message(session: AsyncSession, message_id: uuid.UUID) -> OutboxMessageOut:
    row = await repository.get_message(session, message_id)
    if row is None:
        raise not_found("Message")
    return _out(row)
