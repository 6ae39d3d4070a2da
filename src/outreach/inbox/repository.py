"""Inbox queries, the one writer of inbox_messages: the replies a mailbox sync records, the
answers sent from the inbox, and their read and answered marks."""

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, and_, delete, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from outreach.models import Campaign, CampaignContact, Contact, InboxMessage

THREAD_LIMIT = 100


@dataclass(frozen=True)
class InboxFilters:
    campaign_id: uuid.UUID | None = None
    sender_id: uuid.UUID | None = None
    owner_id: uuid.UUID | None = None  # the campaign's owner
    unread: bool | None = None


@dataclass(frozen=True)
class ReplyRow:
    message: InboxMessage
    campaign_name: str
    owner_id: uuid.UUID
    contact_id: uuid.UUID
    first_name: str | None
    last_name: str | None
    email: str | None


def _replies() -> Select[
    InboxMessage, str, uuid.UUID, uuid.UUID, str | None, str | None, str | None
]:
    return (
        select(
            InboxMessage,
            Campaign.name,
            Campaign.owner_id,
            CampaignContact.contact_id,
            Contact.first_name,
            Contact.last_name,
            Contact.email,
        )
        .join(
            Campaign,
            and_(Campaign.org_id == InboxMessage.org_id, Campaign.id == InboxMessage.campaign_id),
        )
        .join(
            CampaignContact,
            and_(
                CampaignContact.org_id == InboxMessage.org_id,
                CampaignContact.id == InboxMessage.campaign_contact_id,
            ),
        )
        .join(
            Contact,
            and_(
                Contact.org_id == CampaignContact.org_id, Contact.id == CampaignContact.contact_id
            ),
        )
        .where(InboxMessage.direction == "inbound", Campaign.deleted_at.is_(None))
    )


async def list_replies(
    session: AsyncSession,
    filters: InboxFilters,
    *,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[ReplyRow]:
    """Newest first, `limit + 1` rows at most (the extra one tells there is a next page)."""
    query = _replies()
    for column, value in (
        (InboxMessage.campaign_id, filters.campaign_id),
        (InboxMessage.sender_id, filters.sender_id),
        (Campaign.owner_id, filters.owner_id),
    ):
        if value is not None:
            query = query.where(column == value)
    if filters.unread is not None:
        read = InboxMessage.read_at
        query = query.where(read.is_(None) if filters.unread else read.is_not(None))
    if after is not None:
        query = query.where(tuple_(InboxMessage.received_at, InboxMessage.id) < after)
    query = query.order_by(InboxMessage.received_at.desc(), InboxMessage.id.desc())
    return [ReplyRow(*row) for row in await session.execute(query.limit(limit + 1))]


async def get_reply(
    session: AsyncSession, reply_id: uuid.UUID, *, for_update: bool = False
) -> ReplyRow | None:
    query = _replies().where(InboxMessage.id == reply_id)
    if for_update:
        query = query.with_for_update(of=InboxMessage)
    row = (await session.execute(query)).first()
    return None if row is None else ReplyRow(*row)


async def thread(session: AsyncSession, campaign_contact_id: uuid.UUID) -> list[InboxMessage]:
    """The contact's messages both ways, oldest first: the latest THREAD_LIMIT."""
    query = (
        select(InboxMessage)
        .where(InboxMessage.campaign_contact_id == campaign_contact_id)
        .order_by(InboxMessage.received_at.desc(), InboxMessage.id.desc())
        .limit(THREAD_LIMIT)
    )
    return list(reversed((await session.execute(query)).scalars().all()))


async def mark_read(session: AsyncSession, message: InboxMessage, at: datetime) -> None:
    """Read at `at`; a second time keeps the first moment."""
    if message.read_at is None:
        message.read_at = at
        await session.flush()


async def add_answer(session: AsyncSession, answer: InboxMessage, reply: InboxMessage) -> None:
    """An answer sent from the inbox, and the reply it answers marked answered at its time."""
    session.add(answer)
    reply.answered_at = answer.received_at
    await session.flush()


@dataclass(frozen=True)
class InboundReply:
    """A contact's reply read from a sender's mailbox, tied to the campaign contact."""

    sender_id: uuid.UUID
    campaign_id: uuid.UUID
    campaign_contact_id: uuid.UUID
    message_id: str
    in_reply_to: str | None
    references_ids: list[str]
    step: str | None
    matched_by: str  # thread / address
    from_email: str
    to_email: str
    subject: str
    body_text: str
    received_at: datetime


# name: record-reply (a reply read twice, after a UIDVALIDITY change say, is kept once)
RECORD_REPLY = text("""
INSERT INTO inbox_messages (org_id, sender_id, campaign_id, campaign_contact_id, direction,
                            message_id, in_reply_to, references_ids, step, matched_by, from_email,
                            to_email, subject, body_text, received_at)
VALUES (:org_id, :sender_id, :campaign_id, :campaign_contact_id, 'inbound', :message_id,
        :in_reply_to, :references_ids, :step, :matched_by, :from_email, :to_email, :subject,
        :body_text, :received_at)
ON CONFLICT (org_id, sender_id, message_id) DO NOTHING
RETURNING id
""")
RECORDED_REPLY = text("""
SELECT id FROM inbox_messages
WHERE org_id = :org_id AND sender_id = :sender_id AND message_id = :message_id
""")


async def record_reply(session: AsyncSession, org_id: uuid.UUID, reply: InboundReply) -> uuid.UUID:
    """The reply's row, written unless it was already; answers its id either way."""
    inserted: uuid.UUID | None = await session.scalar(
        RECORD_REPLY,
        {
            "org_id": org_id,
            "sender_id": reply.sender_id,
            "campaign_id": reply.campaign_id,
            "campaign_contact_id": reply.campaign_contact_id,
            "message_id": reply.message_id,
            "in_reply_to": reply.in_reply_to,
            "references_ids": reply.references_ids,
            "step": reply.step,
            "matched_by": reply.matched_by,
            "from_email": reply.from_email,
            "to_email": reply.to_email,
            "subject": reply.subject,
            "body_text": reply.body_text,
            "received_at": reply.received_at,
        },
    )
    if inserted is not None:
        return inserted
    key = {"org_id": org_id, "sender_id": reply.sender_id, "message_id": reply.message_id}
    recorded: uuid.UUID = (await session.execute(RECORDED_REPLY, key)).scalar_one()
    return recorded


async def delete_for_members(session: AsyncSession, member_ids: list[uuid.UUID]) -> int:
    deleted = await session.execute(
        delete(InboxMessage).where(InboxMessage.campaign_contact_id.in_(member_ids))
    )
    return deleted.rowcount  # type: ignore[attr-defined,no-any-return]
