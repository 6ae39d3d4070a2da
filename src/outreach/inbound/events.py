"""The normalized inbound event every provider format is parsed into, and shared helpers."""

import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parseaddr, parsedate_to_datetime
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ValidationError

from outreach.kit.jsondepth import JsonTooDeep, check_depth
from outreach.kit.times import to_utc

InboundEventType = Literal[
    "delivered", "bounced", "spam_reported", "response_received", "unsubscribed"
]
BounceType = Literal["hard", "soft"]
Model = TypeVar("Model", bound=BaseModel)

# Set on every email we send (provider metadata or tag, and a header), so events name their
# campaign contact even when the provider does not report our Message-ID.
CAMPAIGN_CONTACT_KEY = "outreach_cc"
CAMPAIGN_CONTACT_HEADER = "X-Outreach-CC"

REASON_MAX_CHARS = 300
REPLY_TEXT_MAX_CHARS = 10_000


class InboundFormatError(ValueError):
    """The body is not a well-formed payload of the named provider; the message says why."""


@dataclass(frozen=True)
class InboundEvent:
    provider: str
    # Unique per provider notification (and recipient), so a provider's retry is recorded once.
    provider_event_id: str
    event_type: InboundEventType
    occurred_at: datetime
    recipient: str
    message_id: str | None = None
    campaign_contact_id: uuid.UUID | None = None
    bounce_type: BounceType | None = None
    reason: str | None = None
    is_auto_reply: bool = False
    reply_text: str | None = None
    raw_type: str = ""


@dataclass(frozen=True)
class ParsedInbound:
    events: list[InboundEvent] = field(default_factory=list)
    # Set for an SNS SubscriptionConfirmation: the caller decides whether to visit it.
    subscribe_url: str | None = None
    # One human-readable line per record that was understood but deliberately not recorded.
    ignored: list[str] = field(default_factory=list)


def load_object(body: bytes, what: str) -> dict[str, Any]:
    try:
        check_depth(body)
        data = json.loads(body.decode("utf-8"))
    except JsonTooDeep as exc:
        raise InboundFormatError(f"{what}: {exc.detail}") from exc
    except UnicodeDecodeError as exc:
        raise InboundFormatError(f"{what}: the body is not UTF-8") from exc
    except json.JSONDecodeError as exc:
        raise InboundFormatError(f"{what}: the body is not valid JSON ({exc.msg})") from exc
    if not isinstance(data, dict):
        raise InboundFormatError(f"{what}: the body must be a JSON object")
    return data


def validate(model: type[Model], data: Any, what: str) -> Model:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or '(body)'}: {error['msg']}"
            for error in exc.errors(include_url=False)
        )
        raise InboundFormatError(f"{what}: {problems}") from exc


_COLON_OFFSET = re.compile(r"([+-]\d{2}):(\d{2})\s*$")


def parse_mail_date(value: str | None) -> datetime | None:
    """An RFC 5322 Date header as UTC, or None when it cannot be read."""
    if not value:
        return None
    # Postmark's own examples write the offset as "-04:00", which the stdlib parser drops.
    fixed = _COLON_OFFSET.sub(r"\1\2", value.strip())
    try:
        moment = parsedate_to_datetime(fixed)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        # RFC 5322 "-0000": the time is UTC, the sender's zone unknown.
        moment = moment.replace(tzinfo=UTC)
    try:
        return to_utc(moment)
    except ValueError:
        return None


def normalize_email(value: str, what: str) -> str:
    address = parseaddr(value)[1].strip().lower()
    if "@" not in address:
        raise InboundFormatError(f"{what}: {value!r} is not an email address")
    return address


def strip_message_id(value: str | None) -> str | None:
    if value is None:
        return None
    stripped = value.strip().removeprefix("<").removesuffix(">").strip()
    return stripped or None


def parse_uuid(value: object) -> uuid.UUID | None:
    """A campaign contact id we set when sending; anything else is no id, not an error."""
    if not isinstance(value, str):
        return None
    try:
        return uuid.UUID(value.strip())
    except ValueError:
        return None


def short_reason(*candidates: str | None) -> str | None:
    for candidate in candidates:
        if candidate and candidate.strip():
            text = " ".join(candidate.split())
            return text[:REASON_MAX_CHARS]
    return None


def trim_reply(text: str | None) -> str | None:
    if text is None or not text.strip():
        return None
    return text.strip()[:REPLY_TEXT_MAX_CHARS]
