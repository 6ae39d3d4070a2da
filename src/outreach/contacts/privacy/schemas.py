"""Bodies of the data-subject requests and of the audit log."""

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

Row = dict[str, Any]


class ContactExport(BaseModel):
    """Everything held about one person, each row with all its stored columns. Each list holds
    at most `limit` rows (the newest first); `counts` says how many there are in all and
    `truncated` names the lists that were cut."""

    exported_at: datetime
    contact: Row = Field(description="The person: fields, tags, custom fields, score")
    memberships: list[Row] = Field(
        description="Each campaign the person is in: status, variant, engagement timestamps"
    )
    events: list[Row] = Field(
        description="Every event, newest first, with IP, user agent and clicked URL; the "
        "sequence's step log is here too (the events with an `enrollment_id`)"
    )
    messages: list[Row] = Field(description="The outbox rows: what was sent or is to be sent")
    tasks: list[Row] = Field(description="Manual steps about the person")
    workflow_states: list[Row] = Field(description="The person's walk in each sequence")
    inbox_messages: list[Row] = Field(description="Their replies, and the answers to them")
    caught_messages: list[Row] = Field(description="Mail to them held by the local catcher")
    suppressions: list[Row] = Field(description="Their address on the do-not-contact list")
    counts: dict[str, int] = Field(description="How many rows each list has in all")
    limit: int = Field(description="The most rows a list holds")
    truncated: list[str] = Field(description="The lists holding fewer rows than `counts`")


class ErasureOut(BaseModel):
    contact_id: uuid.UUID
    erased: dict[str, int] = Field(
        description="How many rows of each kind lost the person's data (or went)"
    )
    suppressed: bool = Field(
        description="Whether the address is now on the do-not-contact list (as a hash)"
    )


class AuditEntryOut(BaseModel):
    model_config = {"from_attributes": True}

    id: int
    actor_id: uuid.UUID | None = Field(description="The user who asked; null: the service")
    action: str = Field(examples=["contact.exported", "contact.erased"])
    subject_type: str
    subject_id: uuid.UUID | None
    details: dict[str, Any]
    created_at: datetime
