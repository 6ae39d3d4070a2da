"""API key bodies and answers. The key itself is in the creation's answer only."""

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from outreach.auth.tokens import Role
from outreach.kit.text import OneLine
from outreach.kit.times import UtcDatetime

KeyName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), OneLine
]


class ApiKeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: KeyName = Field(description="What the key is for, e.g. the system that holds it")
    role: Role = Field(description="What the key may do, as a user of that role")
    expires_at: UtcDatetime | None = Field(
        None, description="When the key stops working (in the future); none: until revoked"
    )


class ApiKeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID = Field(description="Also the user id the key acts as (owner_id, created_by)")
    name: str
    role: Role
    key_hint: str = Field(description="The key's prefix and last four characters")
    created_by: uuid.UUID
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None = Field(
        description="When the key was last used, to the minute: noted at most once a minute"
    )
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(
        description="The key, to send as `Authorization: Bearer <key>`. Shown this once: only "
        "its hash is stored."
    )
