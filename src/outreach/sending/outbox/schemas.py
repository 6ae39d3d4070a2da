"""Outbox answers."""

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

OutboxStatus = Literal[
    "awaiting_approval", "queued", "sending", "accepted", "sent", "failed", "cancelled", "rejected"
]
OutboxChannel = Literal["email", "sms"]


class OutboxMessageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    campaign_id: uuid.UUID
    campaign_contact_id: uuid.UUID
    to: str | None = Field(description="The contact's email (email) or phone (SMS)")
    channel: OutboxChannel
    status: OutboxStatus = Field(
        description="awaiting_approval (co-pilot) → queued → sending → accepted (the server "
        "took it) → sent; or failed, cancelled (suppressed, campaign over), rejected"
    )
    sender_id: uuid.UUID | None
    template_id: uuid.UUID | None
    due_at: datetime = Field(description="Not sent before (sending window, retry backoff)")
    attempts: int
    last_error: str | None
    message_id: str | None = Field(description="The message's Message-ID header")
    provider_message_id: str | None = Field(description="The server's or provider's answer/id")
    sent_at: datetime | None
    created_at: datetime
    updated_at: datetime
