"""The outbox, as other packages use it: reads (any member of the organization may see what
it sends), and the writes of planning, approval and cancellation (`queue` holds them all)."""

import uuid
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from outreach.errors import not_found
from outreach.kit.keyset import page_of, position_after
from outreach.kit.pagination import Page
from outreach.sending.outbox import queue, repository
from outreach.sending.outbox.repository import OutboxFilters
from outreach.sending.outbox.schemas import OutboxMessageOut


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


async def enqueue(session: AsyncSession, params: dict[str, Any]) -> None:
    """Queue messages (one per contact and step; a repeat is ignored)."""
    await queue.enqueue(session, params)


async def cancel_for_enrollments(
    session: AsyncSession, enrollment_ids: Sequence[uuid.UUID], reason: str
) -> None:
    """Cancel the pending messages (queued, awaiting approval) of these enrollments: their
    walks ended. A message being sent is left to finish."""
    if enrollment_ids:
        await queue.cancel_for_enrollments(session, enrollment_ids, reason)


async def step_outcomes(
    session: AsyncSession, enrollment_ids: Sequence[uuid.UUID]
) -> dict[tuple[uuid.UUID, str], tuple[str, str | None]]:
    """The status and last error of each message of these enrollments, by (enrollment, step)."""
    if not enrollment_ids:
        return {}
    rows = await queue.step_outcomes(session, enrollment_ids)
    return {(r["enrollment_id"], r["step"]): (r["status"], r["last_error"]) for r in rows}


async def cancel_queued(session: AsyncSession, campaign_id: uuid.UUID, reason: str) -> None:
    """Cancel the campaign's messages not yet being sent."""
    await queue.cancel_queued(session, campaign_id, reason)


async def decide(
    session: AsyncSession, message_ids: Collection[uuid.UUID], values: dict[str, Any]
) -> None:
    await queue.decide(session, message_ids, values)


async def erase_for_members(
    session: AsyncSession, member_ids: Sequence[uuid.UUID], reason: str
) -> int:
    """A data-subject erasure: the messages of these campaign contacts lose what a person
    wrote into them (the overrides) and their errors (which may quote the address); the
    pending ones are cancelled with `reason`. The rows stay: the senders' bounce and complaint
    rates count them. A message being sent is left to finish. Answers how many messages."""
    if not member_ids:
        return 0
    return await queue.erase(session, member_ids, reason)
