"""Request and answer shapes of the organization's people."""

import uuid
from datetime import datetime
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from outreach.contacts.schemas import ContactOut, Tags


class PersonOut(ContactOut):
    created_at: datetime
    updated_at: datetime


class MembershipOut(BaseModel):
    """One campaign the person is in, and where they stand in it."""

    campaign_contact_id: uuid.UUID
    campaign_id: uuid.UUID
    campaign_name: str
    campaign_status: str
    campaign_channel: str
    contact_type: str
    status: str
    added_at: datetime


class PersonDetail(PersonOut):
    campaigns: list[MembershipOut] = Field(description="Newest membership first")


class TagsChange(BaseModel):
    """Tags to take off (`remove`), then tags to put on (`add`); a tag in both ends up on."""

    model_config = ConfigDict(extra="forbid")

    add: Tags = []
    remove: Tags = []

    @model_validator(mode="after")
    def _some_change(self) -> Self:
        if not self.add and not self.remove:
            raise PydanticCustomError("CONTACT_TAGS_CHANGE_EMPTY", "Give tags to add or remove")
        return self


class ActivityOut(BaseModel):
    """One event of the person, in one of their campaigns."""

    id: uuid.UUID
    campaign_id: uuid.UUID
    campaign_contact_id: uuid.UUID
    event_type: str
    event_timestamp: datetime
    is_machine: bool
    event_data: dict[str, Any]
    clicked_url: str | None
    provider: str | None
    created_at: datetime

    @field_validator("event_data", mode="before")
    @classmethod
    def _no_data(cls, value: object) -> object:
        return {} if value is None else value
