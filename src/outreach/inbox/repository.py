"""Inbox queries, the one writer of inbox_messages."""

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


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
""")


async def record_reply(session: AsyncSession, org_id: uuid.UUID, reply: InboundReply) -> None:
    await session.execute(
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
