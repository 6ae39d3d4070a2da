"""Request and answer shapes of webhook subscriptions and their deliveries."""

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from pydantic_core import PydanticCustomError

from outreach.kit.webhooks import http_url

MAX_URL_LENGTH = 2048


class WebhookEventType(StrEnum):
    """What a subscription may ask for (the migration 0018_webhooks lists the same)."""

    CONTACT_REPLIED = "contact.replied"
    CONTACT_BOUNCED = "contact.bounced"
    CONTACT_UNSUBSCRIBED = "contact.unsubscribed"
    CONTACT_COMPLAINED = "contact.complained"
    CONTACT_CLICKED = "contact.clicked"
    CONTACT_CONVERTED = "contact.converted"
    ENROLLMENT_COMPLETED = "enrollment.completed"
    CAMPAIGN_ACTIVATED = "campaign.activated"
    CAMPAIGN_COMPLETED = "campaign.completed"
    SENDER_PAUSED = "sender.paused"


PING = "webhook.ping"  # the test event of `POST /webhooks/{id}/ping`, sent whatever the types


def _http_url(value: str) -> str:
    checked = http_url(value)
    if isinstance(checked, str):
        raise PydanticCustomError("WEBHOOK_URL_INVALID", checked)
    return value


Url = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_URL_LENGTH),
    AfterValidator(_http_url),
]
Description = Annotated[str, StringConstraints(max_length=500)]


def _some_distinct(types: list[WebhookEventType]) -> list[WebhookEventType]:
    if not types:
        raise PydanticCustomError("WEBHOOK_EVENT_TYPES_REQUIRED", "Name at least one event type")
    return list(dict.fromkeys(types))


EventTypes = Annotated[
    list[WebhookEventType], Field(max_length=len(WebhookEventType)), AfterValidator(_some_distinct)
]


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Url = Field(description="http or https; checked by the outbound guard")
    event_types: EventTypes
    description: Description = ""


class WebhookPatch(BaseModel):
    """Absent fields stay; `enabled: true` turns a disabled subscription back on."""

    model_config = ConfigDict(extra="forbid")

    url: Url | None = None
    event_types: EventTypes | None = None
    description: Description | None = None
    enabled: bool | None = None


class WebhookOut(BaseModel):
    id: uuid.UUID
    url: str
    description: str
    event_types: list[str]
    enabled: bool
    disabled_reason: str | None
    disabled_at: datetime | None
    last_success_at: datetime | None
    created_at: datetime
    updated_at: datetime


class WebhookCreated(WebhookOut):
    secret: str = Field(
        description="The Standard Webhooks signing secret (`whsec_...`): shown here only, once"
    )


DeliveryStatus = Literal["pending", "delivered", "failed"]


class DeliveryOut(BaseModel):
    id: uuid.UUID
    webhook_id: str = Field(description="The `webhook-id` header: the same on every attempt")
    event_type: str
    payload: dict[str, Any]
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_duration_ms: int | None
    last_response: str | None = Field(description="The start of the last answer (2 KB at most)")
    last_error: str | None
    delivered_at: datetime | None
    redelivery_of: uuid.UUID | None
    created_at: datetime
