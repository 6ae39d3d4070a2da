"""Approval queries: outbox messages awaiting approval, with what it takes to preview them."""

import uuid
from collections.abc import Collection
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import Select, and_, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from outreach.kit.keyset import Position
from outreach.models import (
    Campaign,
    CampaignContact,
    Contact,
    MessageTemplate,
    OutboxMessage,
    Sender,
    UserProfile,
)

AWAITING = "awaiting_approval"


class ApprovalRow(NamedTuple):
    message: OutboxMessage
    campaign_name: str
    campaign_status: str
    campaign_owner_id: uuid.UUID
    contact: Contact
    template: MessageTemplate | None
    sender_name: str | None

    @property
    def id(self) -> uuid.UUID:
        return self.message.id

    @property
    def created_at(self) -> datetime:
        return self.message.created_at


def _approvals() -> Select[
    OutboxMessage, str, str, uuid.UUID, Contact, MessageTemplate, str | None
]:
    # The sender's name fills {{sender_name}}: its mailbox's name for an email, the campaign
    # owner's for an SMS (which has no sender mailbox). A soft-deleted campaign's messages are
    # gone with it.
    sender_name = func.coalesce(Sender.from_name, Sender.from_email, UserProfile.name)
    return (
        select(
            OutboxMessage,
            Campaign.name,
            Campaign.status,
            Campaign.owner_id,
            Contact,
            MessageTemplate,
            sender_name,
        )
        .join(
            Campaign,
            and_(Campaign.org_id == OutboxMessage.org_id, Campaign.id == OutboxMessage.campaign_id),
        )
        .join(
            CampaignContact,
            and_(
                CampaignContact.org_id == OutboxMessage.org_id,
                CampaignContact.id == OutboxMessage.campaign_contact_id,
            ),
        )
        .join(
            Contact,
            and_(
                Contact.org_id == CampaignContact.org_id, Contact.id == CampaignContact.contact_id
            ),
        )
        .outerjoin(
            MessageTemplate,
            and_(
                MessageTemplate.org_id == OutboxMessage.org_id,
                MessageTemplate.id == OutboxMessage.template_id,
            ),
        )
        .outerjoin(
            Sender,
            and_(Sender.org_id == OutboxMessage.org_id, Sender.id == OutboxMessage.sender_id),
        )
        .outerjoin(UserProfile, UserProfile.id == Campaign.owner_id)
        .where(Campaign.deleted_at.is_(None))
    )


async def list_pending(
    session: AsyncSession,
    *,
    campaign_id: uuid.UUID | None,
    after: Position | None,
    limit: int,
) -> list[ApprovalRow]:
    """Oldest first (the longest waiting), `limit + 1` rows at most."""
    query = _approvals().where(OutboxMessage.status == AWAITING)
    if campaign_id is not None:
        query = query.where(OutboxMessage.campaign_id == campaign_id)
    if after is not None:
        query = query.where(tuple_(OutboxMessage.created_at, OutboxMessage.id) > tuple_(*after))
    query = query.order_by(OutboxMessage.created_at, OutboxMessage.id).limit(limit + 1)
    return [ApprovalRow(*row) for row in await session.execute(query)]


async def get_message(
    session: AsyncSession, message_id: uuid.UUID, *, for_update: bool = False
) -> ApprovalRow | None:
    """The outbox message with this id, whatever its status (to say why it cannot be decided)."""
    rows = await get_messages(session, [message_id], for_update=for_update)
    return rows[0] if rows else None


async def get_messages(
    session: AsyncSession, message_ids: Collection[uuid.UUID], *, for_update: bool = False
) -> list[ApprovalRow]:
    query = _approvals().where(OutboxMessage.id.in_(message_ids)).order_by(OutboxMessage.id)
    if for_update:  # in id order, so two bulk approvals never wait on each other in a cycle
        query = query.with_for_update(of=OutboxMessage)
    return [ApprovalRow(*row) for row in await session.execute(query)]


async def reload(session: AsyncSession, message: OutboxMessage) -> None:
    await session.refresh(message)
