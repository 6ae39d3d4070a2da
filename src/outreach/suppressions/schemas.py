"""Suppression list bodies and answers."""

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic.networks import validate_email
from pydantic_core import PydanticCustomError

Reason = Literal["unsubscribed", "hard_bounce", "complaint", "manual"]


def _email(value: str) -> str:
    try:
        _, email = validate_email(value)
    except PydanticCustomError as exc:
        raise PydanticCustomError(
            "CONTACT_EMAIL_INVALID", "Not a valid email address: {reason}", {"reason": str(exc)}
        ) from exc
    return email.lower()


class SuppressionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Annotated[str, AfterValidator(_email)] = Field(description="Stored lowercased")
    reason: Reason = "manual"
    note: str | None = Field(None, max_length=1000)


class SuppressionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: str | None = Field(description="None for an erased person: only a hash is kept")
    reason: Reason
    note: str | None
    campaign_id: uuid.UUID | None = Field(description="The campaign it came from, if any")
    created_by: uuid.UUID | None
    created_at: datetime
