"""Request and answer shapes of segments: saved filters over the organization's people."""

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, StringConstraints

from outreach.contacts.people.filters import SegmentFilters
from outreach.kit.text import OneLine

Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), OneLine
]
Description = Annotated[str, StringConstraints(max_length=2000)]


class SegmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    description: Description | None = None
    filters: SegmentFilters


class SegmentUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    description: Description | None = None
    filters: SegmentFilters | None = None


class SegmentOut(BaseModel):
    id: uuid.UUID
    name: str
    description: str | None
    filters: dict[str, Any]
    count: int
    created_by: uuid.UUID | None
    created_at: datetime
    updated_at: datetime
