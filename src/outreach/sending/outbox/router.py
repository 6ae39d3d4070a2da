"""Outbox routes: the organization's messages, queued, sent and failed."""

import uuid

from fastapi import APIRouter

from outreach.auth.dependencies import TenantSession
from outreach.kit.pagination import Cursor, Limit, Page
from outreach.kit.problems import problem_responses
from outreach.sending.outbox import service
from outreach.sending.outbox.repository import OutboxFilters
from outreach.sending.outbox.schemas import OutboxChannel, OutboxMessageOut, OutboxStatus

router = APIRouter(prefix="/outbox", tags=["sending"])


@router.get(
    "",
    summary="List messages (email and SMS), newest first",
    response_model=Page[OutboxMessageOut],
    responses=problem_responses(401, 422),
)
async def list_outbox(
    session: TenantSession,
    campaign_id: uuid.UUID | None = None,
    status: OutboxStatus | None = None,
    channel: OutboxChannel | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[OutboxMessageOut]:
    """Queued, sending, sent and failed messages with their result. Filters: `campaign_id`,
    `status`, `channel`."""
    filters = OutboxFilters(campaign_id=campaign_id, status=status, channel=channel)
    return await service.list_messages(session, filters, limit=limit, cursor=cursor)


@router.get(
    "/{message_id}",
    summary="Get a message",
    response_model=OutboxMessageOut,
    responses=problem_responses(401, 404, 422),
)
async def get_outbox_message(message_id: uuid.UUID, session: TenantSession) -> OutboxMessageOut:
    """One message of the outbox, with its rendered content, attempts and result."""
    return await service.get_message(session, message_id)
