"""Sender bodies and answers. The SMTP password is write-only: answers say only whether one
is set."""

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator
from pydantic.networks import validate_email
from pydantic_core import PydanticCustomError

SmtpTls = Literal["none", "starttls", "tls"]

HOST_MAX_LENGTH = 253  # the longest DNS name


def _email(value: str) -> str:
    try:
        _, email = validate_email(value)
    except PydanticCustomError as exc:
        raise PydanticCustomError(
            "SENDER_EMAIL_INVALID", "Not a valid email address: {reason}", {"reason": str(exc)}
        ) from exc
    return email


def _host(value: str) -> str:
    host = value.strip()
    if not host:
        raise PydanticCustomError("SENDER_HOST_REQUIRED", "SMTP host is required")
    if len(host) > HOST_MAX_LENGTH:
        raise PydanticCustomError(
            "SENDER_HOST_TOO_LONG", "SMTP host must be at most 253 characters"
        )
    if any(char.isspace() for char in host):
        raise PydanticCustomError("SENDER_HOST_INVALID", "SMTP host cannot contain spaces")
    return host


def _header_text(value: str | None) -> str | None:
    # These go into mail headers or the SMTP dialogue: a line break would inject one of its own.
    if value is not None and ("\r" in value or "\n" in value):
        raise PydanticCustomError("VALUE_INVALID", "Line breaks are not allowed")
    return value if value and value.strip() else None


FromEmail = Annotated[str, Field(max_length=320), AfterValidator(_email)]
FromName = Annotated[str | None, Field(max_length=200), AfterValidator(_header_text)]
SmtpHost = Annotated[str, AfterValidator(_host)]
SmtpPort = Annotated[int, Field(ge=1, le=65535)]
SmtpUsername = Annotated[str | None, Field(max_length=320), AfterValidator(_header_text)]
SmtpPassword = Annotated[str | None, Field(min_length=1, max_length=1000)]
HourlyLimit = Annotated[int, Field(ge=1, le=1_000_000)]
DailyLimit = Annotated[int, Field(ge=1, le=10_000_000)]
MinSpacing = Annotated[int, Field(ge=0, le=86_400)]


class SenderIn(BaseModel):
    """A new sending mailbox."""

    model_config = ConfigDict(extra="forbid")

    from_email: FromEmail
    from_name: FromName = None
    smtp_host: SmtpHost = Field(
        description="Host name or IP; loopback and private addresses are allowed"
    )
    smtp_port: SmtpPort = 587
    smtp_tls: SmtpTls = Field("starttls", description="`tls` is implicit TLS (usually port 465)")
    smtp_username: SmtpUsername = None
    smtp_password: SmtpPassword = Field(
        None, description="Write-only: stored encrypted, never returned"
    )
    hourly_limit: HourlyLimit = Field(200, description="Messages per hour at most")
    daily_limit: DailyLimit = Field(1000, description="Messages per day at most")
    min_spacing_seconds: MinSpacing = Field(30, description="Seconds between two messages")


class SenderPatch(BaseModel):
    """A partial change: absent fields stay, `null` clears an optional field."""

    model_config = ConfigDict(extra="forbid")

    from_email: FromEmail | None = None
    from_name: FromName = None
    smtp_host: SmtpHost | None = None
    smtp_port: SmtpPort | None = None
    smtp_tls: SmtpTls | None = None
    smtp_username: SmtpUsername = None
    smtp_password: SmtpPassword = Field(None, description="Write-only; `null` removes it")
    hourly_limit: HourlyLimit | None = None
    daily_limit: DailyLimit | None = None
    min_spacing_seconds: MinSpacing | None = None

    @field_validator(
        "from_email",
        "smtp_host",
        "smtp_port",
        "smtp_tls",
        "hourly_limit",
        "daily_limit",
        "min_spacing_seconds",
    )
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise PydanticCustomError("VALUE_REQUIRED", "This field cannot be cleared")
        return value


class SenderOut(BaseModel):
    id: uuid.UUID
    from_email: str
    from_name: str | None
    smtp_host: str
    smtp_port: int
    smtp_tls: SmtpTls
    smtp_username: str | None
    has_password: bool = Field(description="Whether an SMTP password is set (it is never shown)")
    hourly_limit: int
    daily_limit: int
    min_spacing_seconds: int
    created_at: datetime
    updated_at: datetime


class ConnectionCheckOut(BaseModel):
    ok: bool = Field(description="The server accepted the connection (and the login)")
    stage: Literal["connect", "login", "done"] = Field(description="How far the check got")
    detail: str = Field(description="The server's answer or the error")
