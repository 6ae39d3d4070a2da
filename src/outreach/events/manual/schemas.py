"""Bodies of the manual event route."""

import uuid
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, StringConstraints

from outreach.contacts.schemas import CampaignContactOut
from outreach.events.schemas import CallOutcome, Outcome
from outreach.kit.times import UtcDatetime


class ManualEventIn(BaseModel):
    """Something that happened outside the tracked channels: a reply by phone, a placement."""

    model_config = ConfigDict(extra="forbid")

    event_type: Literal[
        "response_received",
        "converted",
        "linkedin_sent",
        "linkedin_viewed",
        "sms_sent",
        "call_completed",
        "letter_sent",
    ]
    occurred_at: UtcDatetime | None = None
    response_text: Annotated[str, StringConstraints(max_length=10_000)] | None = None
    channel: Literal["email", "linkedin", "phone", "sms", "mail", "in_person", "other"] | None = (
        None
    )
    conversion_type: str | None = None
    conversion_entity_id: uuid.UUID | None = None
    call_outcome: CallOutcome | None = None


class ManualEventOut(BaseModel):
    outcome: Outcome
    contact: CampaignContactOut
