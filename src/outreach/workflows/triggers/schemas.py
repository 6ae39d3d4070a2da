"""The webhook trigger's request and answer, and a campaign's trigger URL."""

import uuid
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, model_validator
from pydantic_core import PydanticCustomError


class WebhookTriggerIn(BaseModel):
    """Names the contact to enroll: `contact_id` (a campaign contact id of the campaign), or
    `email` with, if you like, the person's other fields as `POST /campaigns/{id}/contacts`
    takes them (`first_name`, `company_name`, `tags`, ...): the person is found or created and
    added to the campaign as that route would."""

    model_config = ConfigDict(extra="allow")

    contact_id: uuid.UUID | None = None
    email: str | None = None

    @model_validator(mode="after")
    def _names_one_contact(self) -> Self:
        if (self.contact_id is None) == (self.email is None):
            raise PydanticCustomError(
                "TRIGGER_CONTACT_REQUIRED", "Name the contact by email or by contact_id (one)"
            )
        if self.contact_id is not None and self.model_extra:
            raise PydanticCustomError(
                "TRIGGER_CONTACT_FIELDS_WITH_ID",
                "The person's fields go with email; contact_id names an existing contact",
            )
        return self


class WebhookTriggerOut(BaseModel):
    status: Literal["enrolled", "already_enrolled"]
    enrollment_id: uuid.UUID
    contact_id: uuid.UUID  # the campaign contact


class TriggerUrlOut(BaseModel):
    url: str
    trigger_type: str | None  # of the published version; the URL enrolls only when `webhook`
