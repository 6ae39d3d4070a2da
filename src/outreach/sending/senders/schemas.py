"""Sender bodies and answers. The SMTP password is write-only: answers say only whether one
is set."""

import uuid
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
)
from pydantic.networks import validate_email
from pydantic_core import PydanticCustomError

from outreach.kit.numbers import Percentage
from outreach.kit.text import OneLine

SmtpTls = Literal["none", "starttls", "tls"]
Transport = Literal["smtp", "system"]

HOST_MAX_LENGTH = 253  # the longest DNS name
WARMUP_MAX = 10_000_000  # the largest daily_limit
CENT = Decimal("0.01")


def _email(value: str) -> str:
    try:
        _, email = validate_email(value)
    except PydanticCustomError as exc:
        raise PydanticCustomError(
            "SENDER_EMAIL_INVALID", "Not a valid email address: {reason}", {"reason": str(exc)}
        ) from exc
    return email


def host_codes(code_prefix: str) -> list[str]:
    """The codes of host_check's errors."""
    return [f"{code_prefix}_HOST_{problem}" for problem in ("INVALID", "REQUIRED", "TOO_LONG")]


def host_check(code_prefix: str, what: str) -> Callable[[str], str]:
    """A host name's check, its errors coded `<code_prefix>_HOST_REQUIRED / _TOO_LONG /
    _INVALID` and worded for `what` ("SMTP host")."""

    def check(value: str) -> str:
        host = value.strip()
        if not host:
            raise PydanticCustomError(f"{code_prefix}_HOST_REQUIRED", f"{what} is required")
        if len(host) > HOST_MAX_LENGTH:
            raise PydanticCustomError(
                f"{code_prefix}_HOST_TOO_LONG", f"{what} must be at most 253 characters"
            )
        if any(char.isspace() or not char.isprintable() for char in host):
            raise PydanticCustomError(
                f"{code_prefix}_HOST_INVALID", f"{what} cannot contain spaces or control characters"
            )
        return host

    return check


def _blank_to_none(value: str | None) -> str | None:
    return value if value and value.strip() else None


def _warmup_count(minimum: int) -> Callable[[object], int]:
    def check(value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise PydanticCustomError("SENDER_WARMUP_INVALID", "Must be a whole number")
        if not minimum <= value <= WARMUP_MAX:
            raise PydanticCustomError(
                "SENDER_WARMUP_INVALID",
                "Must be from {minimum} to {maximum}",
                {"minimum": minimum, "maximum": WARMUP_MAX},
            )
        return value

    return check


def _threshold(value: object) -> Decimal:
    invalid = PydanticCustomError(
        "SENDER_THRESHOLD_INVALID",
        "A threshold is a percentage above 0 and at most 100, with at most two decimals",
    )
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise invalid
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise invalid from None
    if not number.is_finite() or not 0 < number <= 100 or number != number.quantize(CENT):
        raise invalid
    return number.quantize(CENT)


FromEmail = Annotated[str, Field(max_length=320), AfterValidator(_email), OneLine]
# These go into mail headers or the SMTP dialogue: a line break would inject one of its own.
FromName = Annotated[str | None, Field(max_length=200), AfterValidator(_blank_to_none), OneLine]
SmtpHost = Annotated[str, AfterValidator(host_check("SENDER", "SMTP host"))]
SmtpPort = Annotated[int, Field(ge=1, le=65535)]
SmtpUsername = Annotated[str | None, Field(max_length=320), AfterValidator(_blank_to_none), OneLine]
SmtpPassword = Annotated[str | None, Field(min_length=1, max_length=1000)]
HourlyLimit = Annotated[int, Field(ge=1, le=1_000_000)]
DailyLimit = Annotated[int, Field(ge=1, le=10_000_000)]
MinSpacing = Annotated[int, Field(ge=0, le=86_400)]
WarmupStart = Annotated[int, BeforeValidator(_warmup_count(1))]
WarmupIncrement = Annotated[int, BeforeValidator(_warmup_count(0))]
Threshold = Annotated[
    Decimal,
    BeforeValidator(_threshold),
    WithJsonSchema({"type": "number", "exclusiveMinimum": 0, "maximum": 100, "multipleOf": 0.01}),
]

WARMUP_START = "Warm-up: messages allowed on its first day; null: no warm-up, daily_limit applies"
WARMUP_INCREMENT = "Warm-up: messages added to the allowance each day, up to daily_limit"
WARMUP_STARTED_ON = "Warm-up's first day; today when warm-up is set up without it"
BOUNCE_THRESHOLD = "Bounce rate (%) at which the circuit breaker pauses the sender"
COMPLAINT_THRESHOLD = "Complaint rate (%) at which the circuit breaker pauses the sender"


class SenderIn(BaseModel):
    """A new sending mailbox."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "from_email": "recruiting@example.com",
                    "from_name": "Example Recruiting",
                    "smtp_host": "smtp.example.com",
                    "smtp_port": 587,
                    "smtp_tls": "starttls",
                    "smtp_username": "recruiting@example.com",
                    "smtp_password": "app-password",
                    "daily_limit": 500,
                    "warmup_start_per_day": 20,
                    "warmup_increment_per_day": 10,
                }
            ]
        },
    )

    from_email: FromEmail
    from_name: FromName = None
    smtp_host: SmtpHost = Field(
        description="Host name or IP. Link-local and cloud metadata addresses are refused "
        "(TARGET_NOT_ALLOWED), and in production loopback, private and CGNAT ones unless the "
        "operator allows them"
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
    warmup_start_per_day: WarmupStart | None = Field(None, description=WARMUP_START)
    warmup_increment_per_day: WarmupIncrement = Field(0, description=WARMUP_INCREMENT)
    warmup_started_on: date | None = Field(None, description=WARMUP_STARTED_ON)
    # The schema's default is the number a client sends, not pydantic's text form of a Decimal.
    bounce_rate_threshold: Threshold = Field(
        Decimal("5.00"), description=BOUNCE_THRESHOLD, json_schema_extra={"default": 5.0}
    )
    complaint_rate_threshold: Threshold = Field(
        Decimal("0.30"), description=COMPLAINT_THRESHOLD, json_schema_extra={"default": 0.3}
    )


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
    warmup_start_per_day: WarmupStart | None = Field(
        None, description="`null` ends the warm-up: daily_limit applies"
    )
    warmup_increment_per_day: WarmupIncrement | None = None
    warmup_started_on: date | None = Field(
        None, description="`null` while warm-up is on starts it again today"
    )
    bounce_rate_threshold: Threshold | None = None
    complaint_rate_threshold: Threshold | None = None

    @field_validator(
        "from_email",
        "smtp_host",
        "smtp_port",
        "smtp_tls",
        "hourly_limit",
        "daily_limit",
        "min_spacing_seconds",
        "warmup_increment_per_day",
        "bounce_rate_threshold",
        "complaint_rate_threshold",
    )
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise PydanticCustomError("VALUE_REQUIRED", "This field cannot be cleared")
        return value


class MailboxOut(BaseModel):
    """The sender's own IMAP mailbox, read for replies, auto-replies and bounces; its secret
    (password or OAuth2 token) is never shown."""

    model_config = ConfigDict(from_attributes=True)

    imap_host: str
    imap_port: int
    imap_tls: SmtpTls
    imap_username: str
    auth: Literal["password", "oauth2"] = Field(
        description="`password`: LOGIN; `oauth2`: an access token through SASL XOAUTH2"
    )
    last_sync_at: datetime | None = Field(description="When its last sync ended")
    last_uid: int = Field(description="The last message read (its IMAP UID)")
    last_error: str | None = Field(description="Why the last sync or test failed, if it did")


class SenderOut(BaseModel):
    id: uuid.UUID
    from_email: str
    from_name: str | None
    transport: Transport = Field(
        description="`smtp`: its own server; `system`: the service's relay, set up by the "
        "service (its SMTP fields are null and cannot be changed)"
    )
    smtp_host: str | None
    smtp_port: int | None
    smtp_tls: SmtpTls | None
    smtp_username: str | None
    has_password: bool = Field(description="Whether an SMTP password is set (it is never shown)")
    hourly_limit: int
    daily_limit: int
    min_spacing_seconds: int
    warmup_start_per_day: int | None
    warmup_increment_per_day: int
    warmup_started_on: date | None
    effective_daily_limit: int = Field(
        description="Messages allowed today: daily_limit, or less while warming up"
    )
    bounce_rate_threshold: Percentage
    complaint_rate_threshold: Percentage
    paused_at: datetime | None = Field(description="When the circuit breaker paused it")
    paused_reason: str | None
    breaker_reset_at: datetime | None = Field(
        description="Last resume: the breaker counts only sends after it"
    )
    mailbox: MailboxOut | None = Field(
        description="Its IMAP mailbox (`PUT /senders/{id}/mailbox`), null when it has none"
    )
    created_at: datetime
    updated_at: datetime


class ConnectionCheckOut(BaseModel):
    ok: bool = Field(description="The server accepted the connection (and the login)")
    stage: Literal["connect", "login", "done"] = Field(description="How far the check got")
    detail: str = Field(description="The server's answer or the error")
