"""Task bodies and answers: a manual step with the person and the message it is about."""

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from outreach.events.schemas import CallOutcome

TaskStatus = Literal["open", "done", "skipped", "cancelled"]
TaskChannel = Literal["linkedin", "voice", "mail"]
TaskKind = Literal["connection_request", "inmail", "call", "letter"]

Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=10_000)]


class TaskContactOut(BaseModel):
    """The person to act on: enough to find them on LinkedIn, call them or write to them."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID = Field(description="The org-level contact (person)")
    first_name: str | None
    last_name: str | None
    email: str | None
    linkedin_url: str | None
    phone: str | None
    company_name: str | None
    title: str | None
    timezone: str | None


class TaskOut(BaseModel):
    id: uuid.UUID
    campaign_id: uuid.UUID
    campaign_name: str
    campaign_contact_id: uuid.UUID
    owner_id: uuid.UUID
    channel: TaskChannel
    kind: TaskKind
    status: TaskStatus
    template_id: uuid.UUID | None
    subject: str | None = Field(description="InMail subject or letter heading, if any")
    body: str = Field(description="The message, already personalized for the contact")
    due_at: datetime
    completed_at: datetime | None = Field(description="When it was done or skipped")
    completed_by: uuid.UUID | None = Field(description="Who did or skipped it")
    note: str | None = Field(description="The note given when done, or the reason for skipping")
    contact: TaskContactOut
    created_at: datetime
    updated_at: datetime


class TaskCompleteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: Note | None = None
    outcome: CallOutcome | None = Field(
        None,
        description="Calls only: how it went. Any completed call counts as reaching the "
        "contact; the outcome is kept in the `call_completed` event's data as `call_outcome`.",
    )


class TaskSkipIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Note | None = Field(None, description="Kept as the task's note")
