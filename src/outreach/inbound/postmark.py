"""Postmark webhooks: Delivery, Bounce, SpamComplaint and SubscriptionChange of the emails we
sent, and Inbound (a contact's reply, posted by Postmark's inbound stream)."""

from datetime import UTC, datetime

from pydantic import BaseModel, Field

from outreach.inbound.autoreply import is_auto_reply
from outreach.inbound.events import (
    CAMPAIGN_CONTACT_KEY,
    BounceType,
    InboundEvent,
    InboundEventType,
    InboundFormatError,
    ParsedInbound,
    load_object,
    normalize_email,
    parse_mail_date,
    parse_uuid,
    short_reason,
    strip_message_id,
    trim_reply,
    validate,
)
from outreach.kit.times import UtcDatetime

PROVIDER = "postmark"

# Postmark's bounce types (developer/api/bounce-api, "Bounce types") that are not soft bounces.
# Every other type, and any type Postmark adds later, is a soft bounce: nobody is suppressed on
# a guess.
_BOUNCE_OUTCOMES: dict[str, tuple[InboundEventType, BounceType | None]] = {
    "HardBounce": ("bounced", "hard"),
    "BadEmailAddress": ("bounced", "hard"),
    "ManuallyDeactivated": ("bounced", "hard"),
    "SpamNotification": ("bounced", "hard"),
    "SpamComplaint": ("spam_reported", None),
    "Unsubscribe": ("unsubscribed", None),
    "AutoResponder": ("response_received", None),
}
_NOT_DELIVERY_FAILURES = {"Subscribe", "OpenRelayTest", "InboundError"}


class _Delivery(BaseModel):
    message_id: str = Field(alias="MessageID", min_length=1)
    recipient: str = Field(alias="Recipient")
    delivered_at: UtcDatetime = Field(alias="DeliveredAt")
    metadata: dict[str, object] = Field({}, alias="Metadata")


class _Bounce(BaseModel):
    """A Bounce or a SpamComplaint record: Postmark posts both in the same shape."""

    id: int | str = Field(alias="ID")
    type: str = Field(alias="Type")
    email: str = Field(alias="Email")
    bounced_at: UtcDatetime = Field(alias="BouncedAt")
    description: str | None = Field(None, alias="Description")
    details: str | None = Field(None, alias="Details")
    metadata: dict[str, object] = Field({}, alias="Metadata")


class _SubscriptionChange(BaseModel):
    message_id: str | None = Field(None, alias="MessageID")
    recipient: str = Field(alias="Recipient")
    changed_at: UtcDatetime = Field(alias="ChangedAt")
    suppress_sending: bool = Field(alias="SuppressSending")
    suppression_reason: str | None = Field(None, alias="SuppressionReason")
    origin: str | None = Field(None, alias="Origin")
    metadata: dict[str, object] = Field({}, alias="Metadata")


class _Address(BaseModel):
    email: str = Field(alias="Email")


class _Header(BaseModel):
    name: str = Field(alias="Name")
    value: str = Field(alias="Value")


class _Inbound(BaseModel):
    message_id: str = Field(alias="MessageID", min_length=1)
    from_: str = Field("", alias="From")
    from_full: _Address | None = Field(None, alias="FromFull")
    subject: str | None = Field(None, alias="Subject")
    date: str | None = Field(None, alias="Date")
    text_body: str | None = Field(None, alias="TextBody")
    stripped_text_reply: str | None = Field(None, alias="StrippedTextReply")
    mailbox_hash: str | None = Field(None, alias="MailboxHash")
    headers: list[_Header] = Field([], alias="Headers")


def parse(body: bytes) -> ParsedInbound:
    data = load_object(body, "Postmark")
    record_type = data.get("RecordType")
    # Postmark's documented inbound payload carries no RecordType; FromFull marks it.
    if record_type == "Inbound" or (record_type is None and "FromFull" in data):
        return _inbound(validate(_Inbound, data, "Postmark Inbound"))
    if not isinstance(record_type, str):
        raise InboundFormatError("Postmark: RecordType is missing")
    if record_type == "Delivery":
        return _delivery(validate(_Delivery, data, "Postmark Delivery"))
    if record_type in ("Bounce", "SpamComplaint"):
        return _bounce(validate(_Bounce, data, f"Postmark {record_type}"), record_type)
    if record_type == "SubscriptionChange":
        change = validate(_SubscriptionChange, data, "Postmark SubscriptionChange")
        return _subscription_change(change)
    return ParsedInbound(ignored=[f"Postmark {record_type}: not a type we record from Postmark"])


def _delivery(record: _Delivery) -> ParsedInbound:
    recipient = normalize_email(record.recipient, "Postmark Delivery")
    delivered_at = record.delivered_at
    # Postmark gives a delivery no id of its own: one per message and recipient.
    event_id = f"{record.message_id}:Delivery:{recipient}:{delivered_at.isoformat()}"
    event = InboundEvent(
        provider=PROVIDER,
        provider_event_id=event_id,
        event_type="delivered",
        occurred_at=delivered_at,
        recipient=recipient,
        campaign_contact_id=parse_uuid(record.metadata.get(CAMPAIGN_CONTACT_KEY)),
        raw_type="Delivery",
    )
    return ParsedInbound(events=[event])


def _bounce(record: _Bounce, record_type: str) -> ParsedInbound:
    if record_type == "Bounce" and record.type in _NOT_DELIVERY_FAILURES:
        return ParsedInbound(ignored=[f"Postmark Bounce of type {record.type}: not a failure"])
    event_type, bounce_type = _BOUNCE_OUTCOMES.get(record.type, ("bounced", "soft"))
    if record_type == "SpamComplaint":
        event_type, bounce_type = "spam_reported", None
    auto_reply = event_type == "response_received"
    event = InboundEvent(
        provider=PROVIDER,
        provider_event_id=str(record.id),
        event_type=event_type,
        occurred_at=record.bounced_at,
        recipient=normalize_email(record.email, f"Postmark {record_type}"),
        campaign_contact_id=parse_uuid(record.metadata.get(CAMPAIGN_CONTACT_KEY)),
        bounce_type=bounce_type,
        reason=None if auto_reply else short_reason(record.details, record.description),
        is_auto_reply=auto_reply,
        raw_type=record.type if record_type == "Bounce" else record_type,
    )
    return ParsedInbound(events=[event])


def _subscription_change(record: _SubscriptionChange) -> ParsedInbound:
    if not record.suppress_sending:
        return ParsedInbound(ignored=["Postmark SubscriptionChange: sending reactivated"])
    if record.suppression_reason != "ManualSuppression":
        # HardBounce and SpamComplaint suppressions arrive as their own Bounce/SpamComplaint.
        return ParsedInbound(
            ignored=[f"Postmark SubscriptionChange: {record.suppression_reason} suppression"]
        )
    recipient = normalize_email(record.recipient, "Postmark SubscriptionChange")
    changed_at = record.changed_at
    event_id = f"{record.message_id or '-'}:SubscriptionChange:{recipient}:{changed_at.isoformat()}"
    event = InboundEvent(
        provider=PROVIDER,
        provider_event_id=event_id,
        event_type="unsubscribed",
        occurred_at=changed_at,
        recipient=recipient,
        campaign_contact_id=parse_uuid(record.metadata.get(CAMPAIGN_CONTACT_KEY)),
        reason=short_reason(f"ManualSuppression by {record.origin or 'unknown origin'}"),
        raw_type="SubscriptionChange",
    )
    return ParsedInbound(events=[event])


def _inbound(record: _Inbound) -> ParsedInbound:
    sender = record.from_full.email if record.from_full else record.from_
    headers = {header.name: header.value for header in record.headers}
    lowered = {name.lower(): value for name, value in headers.items()}
    event = InboundEvent(
        provider=PROVIDER,
        provider_event_id=record.message_id,
        event_type="response_received",
        # A Date header we cannot read is the time we got the reply: the id stays stable.
        occurred_at=parse_mail_date(record.date or lowered.get("date")) or datetime.now(UTC),
        recipient=normalize_email(sender, "Postmark Inbound From"),
        message_id=_replied_to(lowered.get("in-reply-to"), lowered.get("references")),
        # Replies come back to reply+<campaign contact id>@ our inbound domain, when so sent.
        campaign_contact_id=parse_uuid(record.mailbox_hash),
        is_auto_reply=is_auto_reply(headers, record.subject),
        reply_text=trim_reply(record.stripped_text_reply or record.text_body),
        raw_type="Inbound",
    )
    return ParsedInbound(events=[event])


def _replied_to(in_reply_to: str | None, references: str | None) -> str | None:
    if in_reply_to and in_reply_to.strip():
        return strip_message_id(in_reply_to.split()[0])
    ids = references.split() if references else []
    return strip_message_id(ids[-1]) if ids else None
