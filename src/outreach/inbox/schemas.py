"""Inbox answers and the body of an answer sent from it."""

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

AnswerText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100_000)
]
AnswerHtml = Annotated[str, StringConstraints(min_length=1, max_length=500_000)]


class InboxContactOut(BaseModel):
    campaign_contact_id: uuid.UUID = Field(description="The contact as a member of the campaign")
    contact_id: uuid.UUID = Field(description="The org-level contact (person)")
    name: str | None
    email: str | None


class InboxCampaignOut(BaseModel):
    id: uuid.UUID
    name: str
    owner_id: uuid.UUID


class InboxItemOut(BaseModel):
    """A contact's reply, read from the mailbox of the sender it was sent to."""

    id: uuid.UUID
    sender_id: uuid.UUID = Field(description="The sender whose mailbox it arrived in")
    contact: InboxContactOut
    campaign: InboxCampaignOut
    step: str | None = Field(description="The campaign step whose message it answers, if known")
    matched_by: Literal["thread", "address"] = Field(
        description="`thread`: it names a message we sent (In-Reply-To / References); "
        "`address`: only its From address tied it to the contact"
    )
    message_id: str = Field(
        description="Its Message-ID: the `message_id` of its `response_received` event in the "
        "campaign's event log"
    )
    from_email: str
    subject: str
    text: str = Field(description="The reply without its quoted history and signature")
    received_at: datetime
    read_at: datetime | None
    answered_at: datetime | None = Field(description="When it was last answered from the inbox")


class ThreadMessageOut(BaseModel):
    """One message of a contact's thread: a reply, or an answer sent from the inbox."""

    id: uuid.UUID
    direction: Literal["inbound", "outbound"]
    message_id: str
    from_email: str
    to_email: str
    subject: str
    text: str
    at: datetime = Field(description="Received (inbound) or sent (outbound)")


class InboxReplyOut(InboxItemOut):
    thread: list[ThreadMessageOut] = Field(
        description="The contact's messages in this campaign, both ways, oldest first (the "
        "latest 100)"
    )


class AnswerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body_text: AnswerText
    body_html: AnswerHtml | None = Field(None, description="Sent as the HTML alternative")
