"""Approval bodies and answers: a co-pilot message waiting for a person, with its preview."""

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from pydantic_core import PydanticCustomError

from outreach.kit.problems import FieldErrorOut
from outreach.kit.text import OneLine

MAX_BULK = 500


def _not_blank(text: str) -> str:
    if not text.strip():
        raise PydanticCustomError(
            "APPROVAL_EDIT_BLANK",
            "An edit cannot be blank; leave the field out to keep the template's text",
        )
    return text


SubjectEdit = Annotated[str, Field(max_length=998), AfterValidator(_not_blank), OneLine]
BodyEdit = Annotated[str, Field(max_length=100_000), AfterValidator(_not_blank)]


class ApprovalContactOut(BaseModel):
    """The person the message goes to."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID = Field(description="The org-level contact (person)")
    first_name: str | None
    last_name: str | None
    email: str | None
    phone: str | None
    company_name: str | None
    title: str | None


class MessagePreview(BaseModel):
    """The message as it will be sent to this contact. When it cannot be rendered, the text is
    null and `problems` says why; a list of approvals never fails for one bad message."""

    subject: str | None
    body_text: str | None
    body_html: str | None
    missing_values: list[str] = Field(
        description="Personalization tokens without a value for this contact (they render empty)"
    )
    problems: list[FieldErrorOut] = Field(
        description="Why the message cannot go out as it is (codes as for templates, plus "
        "`PREVIEW_RENDER_FAILED` and `PREVIEW_MISSING_VALUES`); empty when it can"
    )


class ApprovalOut(BaseModel):
    id: uuid.UUID = Field(description="The outbox message's id")
    campaign_id: uuid.UUID
    campaign_name: str
    campaign_contact_id: uuid.UUID
    channel: Literal["email", "sms"]
    status: str = Field(description="`awaiting_approval`, then `queued` or `rejected`")
    sender_id: uuid.UUID | None
    template_id: uuid.UUID | None
    edited: bool = Field(description="A person changed the template's text for this message")
    due_at: datetime
    decided_by: uuid.UUID | None
    decided_at: datetime | None
    rejection_reason: str | None
    contact: ApprovalContactOut
    preview: MessagePreview
    created_at: datetime
    updated_at: datetime


class ApproveIn(BaseModel):
    """Optional edits: each given part replaces the template's text for this message only.
    Absent or null: the template's text."""

    model_config = ConfigDict(extra="forbid")

    subject: SubjectEdit | None = None
    body_text: BodyEdit | None = None
    body_html: BodyEdit | None = None


class RejectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] | None = None


class ApproveManyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ids: list[uuid.UUID] = Field(min_length=1, max_length=MAX_BULK)


class BulkOutcome(StrEnum):
    APPROVED = "approved"
    NOT_FOUND = "not_found"  # no such message in the organization
    NOT_PENDING = "not_pending"  # already approved, rejected, sent or cancelled
    FORBIDDEN = "forbidden"  # a campaign the caller does not own (recruiters)
    CAMPAIGN_NOT_ACTIVE = "campaign_not_active"  # its campaign is not active or paused
    INVALID = "invalid"  # its text breaks a template rule (see `errors`)


class BulkResult(BaseModel):
    id: uuid.UUID
    outcome: BulkOutcome
    errors: list[FieldErrorOut] = []


class ApproveManyOut(BaseModel):
    approved: int
    results: list[BulkResult] = Field(description="One per distinct id, in the order given")
