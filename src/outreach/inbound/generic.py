"""Our own documented inbound format, for integrators and providers we have no parser for:
`{"events": [{"id", "type", "occurred_at", "recipient", ...}]}`, signed with the org's secret."""

import uuid
from typing import Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    field_validator,
    model_validator,
)

from outreach.inbound.autoreply import is_auto_reply
from outreach.inbound.events import (
    InboundEvent,
    InboundEventType,
    ParsedInbound,
    load_object,
    short_reason,
    strip_message_id,
    trim_reply,
    validate,
)
from outreach.kit.times import UtcDatetime

PROVIDER = "generic"
MAX_EVENTS = 1000

_EVENT_TYPES: dict[str, InboundEventType] = {
    "delivered": "delivered",
    "bounced": "bounced",
    "complaint": "spam_reported",
    "replied": "response_received",
    "unsubscribed": "unsubscribed",
}


class GenericEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(None, min_length=1, max_length=200)
    type: Literal["delivered", "bounced", "complaint", "replied", "unsubscribed"]
    occurred_at: UtcDatetime
    recipient: EmailStr
    message_id: str | None = Field(None, min_length=1, max_length=998)
    campaign_contact_id: uuid.UUID | None = None
    bounce_type: Literal["hard", "soft"] | None = None
    reason: str | None = Field(None, max_length=1000)
    text: str | None = None
    auto_reply: bool | None = None
    # Only read to tell an auto-reply when `auto_reply` is not given.
    subject: str | None = None
    headers: dict[str, str] | None = None

    @field_validator("occurred_at", mode="before")
    @classmethod
    def _rfc3339_text(cls, value: object) -> object:
        if not isinstance(value, str):
            raise ValueError("occurred_at must be an RFC 3339 date-time string")
        return value

    @model_validator(mode="after")
    def _fields_fit_type(self) -> Self:
        if self.type == "bounced" and self.bounce_type is None:
            raise ValueError("bounce_type (hard or soft) is required when type is bounced")
        if self.type != "bounced" and self.bounce_type is not None:
            raise ValueError("bounce_type is only allowed when type is bounced")
        reply_only = ("text", "auto_reply", "subject", "headers")
        given = [name for name in reply_only if getattr(self, name) is not None]
        if self.type != "replied" and given:
            raise ValueError(f"{', '.join(given)} only allowed when type is replied")
        return self


class GenericPayload(BaseModel):
    """Events of an email provider in outreach's own format; sign the raw body with the
    organization's inbound secret (`X-Outreach-Signature: sha256=<hex HMAC-SHA256>`)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "events": [
                        {
                            "id": "evt-1001",
                            "type": "bounced",
                            "occurred_at": "2026-11-23T09:00:00Z",
                            "recipient": "ada@example.com",
                            "message_id": "<abc123@outreach.example.com>",
                            "bounce_type": "hard",
                            "reason": "550 5.1.1 mailbox unknown",
                        },
                        {
                            "id": "evt-1002",
                            "type": "replied",
                            "occurred_at": "2026-11-23T10:30:00Z",
                            "recipient": "grace@example.com",
                            "text": "Thanks, let's talk on Friday.",
                        },
                    ]
                }
            ]
        },
    )

    events: list[GenericEvent] = Field(min_length=1, max_length=MAX_EVENTS)


def parse(body: bytes) -> ParsedInbound:
    payload = validate(GenericPayload, load_object(body, "generic"), "generic")
    return ParsedInbound(events=[_event(item) for item in payload.events])


def _event(item: GenericEvent) -> InboundEvent:
    occurred_at = item.occurred_at
    recipient = item.recipient.lower()
    message_id = strip_message_id(item.message_id)
    replied = item.type == "replied"
    auto_reply = item.auto_reply
    if replied and auto_reply is None:
        auto_reply = is_auto_reply(item.headers or {}, item.subject)
    return InboundEvent(
        provider=PROVIDER,
        # Without an id of the sender's, the event's own facts name it, stable across retries.
        provider_event_id=item.id
        or f"{message_id or '-'}:{item.type}:{recipient}:{occurred_at.isoformat()}",
        event_type=_EVENT_TYPES[item.type],
        occurred_at=occurred_at,
        recipient=recipient,
        message_id=message_id,
        campaign_contact_id=item.campaign_contact_id,
        bounce_type=item.bounce_type,
        reason=short_reason(item.reason),
        is_auto_reply=bool(auto_reply),
        reply_text=trim_reply(item.text) if replied else None,
        raw_type=item.type,
    )
