"""Bodies of the manual event route."""

import uuid
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, StringConstraints

from outreach.contacts.schemas import CampaignContactOut


class Outcome(StrEnum):
    RECORDED = "recorded"
    DUPLICATE = "duplicate"  # a provider's retry of an event already recorded
    UNKNOWN_CONTACT = "unknown_contact"  # no such campaign contact in the organization


class ManualEventIn(BaseModel):
    """Something that happened outside the tracked channels: a reply by phone, a placement."""

    model_config = ConfigDict(extra="forbid")

    event_type: Literal["response_received", "converted", "linkedin_sent", "linkedin_viewed"]
    occurred_at: AwareDatetime | None = None
    response_text: Annotated[str, StringConstraints(max_length=10_000)] | None = None
    channel: Literal["email", "linkedin", "phone", "sms", "mail", "in_person", "other"] | None = (
        None
    )
    conversion_type: str | None = None
    conversion_entity_id: uuid.UUID | None = None


class ManualEventOut(BaseModel):
    outcome: Outcome
    contact: CampaignContactOut
