"""Caught messages as answered: a summary in lists, the parsed parts and the raw text alone."""

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class CaughtMessageOut(BaseModel):
    # `from` is a Python keyword: the field is `from_`, answered as `from`.
    model_config = ConfigDict(validate_by_name=True, validate_by_alias=True)

    id: uuid.UUID
    message_id: str | None = Field(description="The Message-ID header")
    from_: str = Field(alias="from", description="The envelope sender (MAIL FROM)")
    to: list[str] = Field(description="The envelope recipients (RCPT TO), Bcc included")
    subject: str | None
    received_at: datetime


class CaughtMessageDetailOut(CaughtMessageOut):
    headers: list[tuple[str, str]] = Field(description="Every header as [name, value], in order")
    text: str | None = Field(description="The text/plain part, if any")
    html: str | None = Field(description="The text/html part, if any")
    raw: str = Field(description="The message as received (undecodable bytes replaced)")
