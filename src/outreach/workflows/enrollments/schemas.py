"""Enrollment requests and answers: bulk enroll with a result per id, workflow states and the
step log of one."""

import uuid
from datetime import datetime
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from outreach.models.workflow_state import WorkflowStatus

MAX_IDS = 1000


class EnrollIn(BaseModel):
    """One of `contact_ids` (campaign contact ids, as listed by `/campaigns/{id}/contacts`),
    `all: true` (every campaign contact not yet enrolled) or `segment_id` (the organization's
    people the segment matches, added to the campaign and enrolled; with `follow: true`, also
    those who match later)."""

    model_config = ConfigDict(extra="forbid")

    contact_ids: list[uuid.UUID] | None = Field(
        default=None, description=f"Up to {MAX_IDS:,} campaign contact ids"
    )
    all: bool = False
    segment_id: uuid.UUID | None = None
    follow: bool = Field(
        default=False, description="With segment_id: also add and enroll who matches later"
    )

    @field_validator("contact_ids")
    @classmethod
    def _batch_size(cls, ids: list[uuid.UUID] | None) -> list[uuid.UUID] | None:
        if ids is not None and not ids:
            raise PydanticCustomError("ENROLLMENT_BATCH_EMPTY", "Send at least one contact id")
        if ids is not None and len(ids) > MAX_IDS:
            raise PydanticCustomError(
                "ENROLLMENT_BATCH_TOO_LARGE",
                f"At most {MAX_IDS:,} contact ids per call; use all: true for the whole campaign",
            )
        return ids

    @model_validator(mode="after")
    def _one_target(self) -> Self:
        targets = (self.contact_ids is not None) + self.all + (self.segment_id is not None)
        if targets != 1:
            raise PydanticCustomError(
                "ENROLLMENT_TARGET_INVALID",
                "Send one of contact_ids, all: true or segment_id",
            )
        if self.follow and self.segment_id is None:
            raise PydanticCustomError(
                "ENROLLMENT_FOLLOW_WITHOUT_SEGMENT", "follow goes with segment_id"
            )
        return self


EnrollStatus = Literal["enrolled", "already_enrolled", "not_found", "not_enrollable"]


class EnrollResult(BaseModel):
    """One id's fate. Codes: ENROLLMENT_EXISTS (already enrolled), CONTACT_NOT_FOUND (not a
    contact of this campaign), CONTACT_UNSUBSCRIBED, CONTACT_BOUNCED, CONTACT_SUPPRESSED (on the
    organization's do-not-contact list), CONTACT_UNREACHABLE (no allocated channel reaches it);
    not now: CAMPAIGN_LEAD_LIMIT_REACHED, ENROLLMENT_DEFERRED (LinkedIn limits, no template)."""

    contact_id: uuid.UUID
    status: EnrollStatus
    enrollment_id: uuid.UUID | None = None
    code: str | None = None
    message: str | None = None


class EnrollSummary(BaseModel):
    enrolled: int = 0
    already_enrolled: int = 0
    not_found: int = 0
    not_enrollable: int = 0


class SegmentEnrollmentOut(BaseModel):
    segment_id: uuid.UUID
    follow: bool
    added: int = Field(description="People added to the campaign by this call")
    caught_up: bool = Field(
        description="Whether every person who matches was added by this call; if not, the "
        "`enroll_segments` job adds and enrolls the rest within minutes"
    )


class EnrollOut(BaseModel):
    """`results` holds one row per given id, in order; with `all: true` or `segment_id` only
    the contacts that could not be enrolled are listed (the summary counts them all)."""

    summary: EnrollSummary
    results: list[EnrollResult]
    segment: SegmentEnrollmentOut | None = None


class EnrollmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    contact_id: uuid.UUID = Field(description="The campaign contact walking the sequence")
    version: int
    current_node_id: str
    workflow_status: WorkflowStatus
    execution_path: list[str]
    assigned_variant: str | None
    wait_until: datetime | None
    wait_for_event: str | None
    next_execution_at: datetime | None
    exit_reason: str | None
    last_error: str | None
    retry_count: int
    started_at: datetime
    completed_at: datetime | None
    created_at: datetime
    updated_at: datetime


class EnrollmentStepOut(BaseModel):
    """One workflow event of the enrollment: what a node did."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    event_type: str
    node_id: str | None
    event_data: dict[str, Any]
    event_timestamp: datetime


class EnrollmentDetail(EnrollmentOut):
    workflow_variables: dict[str, Any]
    variants: dict[str, Any]
    steps: list[EnrollmentStepOut] = Field(
        description="The step log, oldest first (the latest 500 at most)"
    )
    steps_truncated: bool = Field(description="Whether older steps were left out")
