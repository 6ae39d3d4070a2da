"""Amazon SES bounce, complaint and delivery notifications, posted by SNS to an HTTP/S endpoint.

Both SES formats are read: identity notifications (`notificationType`) and configuration-set
event publishing (`eventType`). The SNS message signature (RSA, SigningCertURL) is NOT verified
here: that needs the signing certificate fetched from AWS over the network. These requests are
authenticated by the org's inbound URL token instead (see `signature.py`).
"""

import re
import uuid
from datetime import datetime
from urllib.parse import urlsplit

from pydantic import BaseModel, Field

from outreach.inbound.events import (
    CAMPAIGN_CONTACT_HEADER,
    CAMPAIGN_CONTACT_KEY,
    BounceType,
    InboundEvent,
    InboundEventType,
    InboundFormatError,
    ParsedInbound,
    load_object,
    normalize_email,
    parse_uuid,
    short_reason,
    strip_message_id,
    validate,
)
from outreach.kit.times import UtcDatetime

PROVIDER = "ses"
_SNS_HOST = re.compile(r"sns\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?")
_EVENT_TYPES: dict[str, InboundEventType] = {
    "Bounce": "bounced",
    "Complaint": "spam_reported",
    "Delivery": "delivered",
}


class _Envelope(BaseModel):
    type: str = Field(alias="Type")
    message_id: str = Field(alias="MessageId", min_length=1)
    message: str = Field(alias="Message")
    subscribe_url: str | None = Field(None, alias="SubscribeURL")


class _Header(BaseModel):
    name: str
    value: str


class _CommonHeaders(BaseModel):
    message_id: str | None = Field(None, alias="messageId")


class _Mail(BaseModel):
    timestamp: UtcDatetime
    message_id: str = Field(alias="messageId", min_length=1)
    headers: list[_Header] = []
    common_headers: _CommonHeaders | None = Field(None, alias="commonHeaders")
    tags: dict[str, list[str]] = {}


class _BouncedRecipient(BaseModel):
    email_address: str = Field(alias="emailAddress")
    diagnostic_code: str | None = Field(None, alias="diagnosticCode")


class _Bounce(BaseModel):
    bounce_type: str = Field(alias="bounceType")
    bounce_sub_type: str | None = Field(None, alias="bounceSubType")
    bounced_recipients: list[_BouncedRecipient] = Field(alias="bouncedRecipients", min_length=1)
    timestamp: UtcDatetime


class _ComplainedRecipient(BaseModel):
    email_address: str = Field(alias="emailAddress")


class _Complaint(BaseModel):
    complained_recipients: list[_ComplainedRecipient] = Field(
        alias="complainedRecipients", min_length=1
    )
    complaint_feedback_type: str | None = Field(None, alias="complaintFeedbackType")
    timestamp: UtcDatetime


class _Delivery(BaseModel):
    recipients: list[str] = Field(min_length=1)
    timestamp: UtcDatetime


class _BounceMessage(BaseModel):
    mail: _Mail
    bounce: _Bounce


class _ComplaintMessage(BaseModel):
    mail: _Mail
    complaint: _Complaint


class _DeliveryMessage(BaseModel):
    mail: _Mail
    delivery: _Delivery


def parse(body: bytes) -> ParsedInbound:
    data = load_object(body, "SES")
    if "Type" in data:
        return _parse_envelope(data)
    # SNS "raw message delivery": the SES message itself, with no SNS message id.
    return _parse_message(data, sns_message_id=None)


def _parse_envelope(data: dict[str, object]) -> ParsedInbound:
    envelope = validate(_Envelope, data, "SNS envelope")
    if envelope.type == "SubscriptionConfirmation":
        return ParsedInbound(subscribe_url=_checked_subscribe_url(envelope.subscribe_url))
    if envelope.type == "UnsubscribeConfirmation":
        # Its SubscribeURL would re-subscribe: somebody unsubscribed on purpose, so leave it.
        return ParsedInbound(ignored=["SNS UnsubscribeConfirmation: not re-subscribed"])
    if envelope.type != "Notification":
        raise InboundFormatError(f"SNS envelope: unknown Type {envelope.type!r}")
    message = load_object(envelope.message.encode(), "SNS Notification Message")
    return _parse_message(message, sns_message_id=envelope.message_id)


def _checked_subscribe_url(url: str | None) -> str:
    # The caller may fetch this URL: only ever an AWS SNS endpoint, never an address we were sent.
    parts = urlsplit(url or "")
    if url is None or parts.scheme != "https" or not _SNS_HOST.fullmatch(parts.hostname or ""):
        raise InboundFormatError(
            "SNS SubscriptionConfirmation: SubscribeURL must be an https URL "
            "on an sns.<region>.amazonaws.com host"
        )
    return url


def _parse_message(data: dict[str, object], sns_message_id: str | None) -> ParsedInbound:
    kind = data.get("eventType") or data.get("notificationType")
    if not isinstance(kind, str):
        raise InboundFormatError("SES message: it has neither eventType nor notificationType")
    if kind == "Bounce":
        return _bounces(validate(_BounceMessage, data, "SES Bounce"), sns_message_id)
    if kind == "Complaint":
        return _complaints(validate(_ComplaintMessage, data, "SES Complaint"), sns_message_id)
    if kind == "Delivery":
        return _deliveries(validate(_DeliveryMessage, data, "SES Delivery"), sns_message_id)
    return ParsedInbound(ignored=[f"SES {kind}: not a type we record from SES"])


def _bounces(message: _BounceMessage, sns_message_id: str | None) -> ParsedInbound:
    bounce = message.bounce
    bounce_type: BounceType = "hard" if bounce.bounce_type == "Permanent" else "soft"
    recipients = [normalize_email(r.email_address, "SES Bounce") for r in bounce.bounced_recipients]
    ids = _event_ids(sns_message_id, message.mail, "Bounce", bounce.timestamp, recipients)
    return ParsedInbound(
        events=[
            _event(
                message.mail,
                event_id,
                "Bounce",
                bounce.timestamp,
                recipient,
                bounce_type=bounce_type,
                reason=short_reason(bounced.diagnostic_code, bounce.bounce_sub_type),
            )
            for event_id, recipient, bounced in zip(
                ids, recipients, bounce.bounced_recipients, strict=True
            )
        ]
    )


def _complaints(message: _ComplaintMessage, sns_message_id: str | None) -> ParsedInbound:
    complaint = message.complaint
    if complaint.complaint_feedback_type == "not-spam":
        # A mailbox provider withdrawing an earlier complaint: nothing to record.
        return ParsedInbound(ignored=["SES Complaint with feedback type not-spam"])
    recipients = [
        normalize_email(r.email_address, "SES Complaint") for r in complaint.complained_recipients
    ]
    ids = _event_ids(sns_message_id, message.mail, "Complaint", complaint.timestamp, recipients)
    return ParsedInbound(
        events=[
            _event(
                message.mail,
                event_id,
                "Complaint",
                complaint.timestamp,
                recipient,
                reason=short_reason(complaint.complaint_feedback_type),
            )
            for event_id, recipient in zip(ids, recipients, strict=True)
        ]
    )


def _deliveries(message: _DeliveryMessage, sns_message_id: str | None) -> ParsedInbound:
    delivery = message.delivery
    recipients = [normalize_email(r, "SES Delivery") for r in delivery.recipients]
    ids = _event_ids(sns_message_id, message.mail, "Delivery", delivery.timestamp, recipients)
    return ParsedInbound(
        events=[
            _event(message.mail, event_id, "Delivery", delivery.timestamp, recipient)
            for event_id, recipient in zip(ids, recipients, strict=True)
        ]
    )


def _event_ids(
    sns_message_id: str | None,
    mail: _Mail,
    kind: str,
    occurred_at: datetime,
    recipients: list[str],
) -> list[str]:
    """SNS keeps its MessageId across retries, so it is the base of each event's id."""
    if sns_message_id is None:
        # Raw delivery has no SNS id: SES message id, type and time name the notification,
        # and the recipient always, as SES may also split one bounce into one message each.
        base = f"{mail.message_id}:{kind}:{occurred_at.isoformat()}"
        return [f"{base}:{recipient}" for recipient in recipients]
    if len(recipients) == 1:
        return [sns_message_id]
    return [f"{sns_message_id}:{recipient}" for recipient in recipients]


def _event(
    mail: _Mail,
    event_id: str,
    kind: str,
    occurred_at: datetime,
    recipient: str,
    *,
    bounce_type: BounceType | None = None,
    reason: str | None = None,
) -> InboundEvent:
    return InboundEvent(
        provider=PROVIDER,
        provider_event_id=event_id,
        event_type=_EVENT_TYPES[kind],
        occurred_at=occurred_at,
        recipient=recipient,
        message_id=_message_id(mail),
        campaign_contact_id=_campaign_contact_id(mail),
        bounce_type=bounce_type,
        reason=reason,
        raw_type=kind,
    )


def _header(mail: _Mail, name: str) -> str | None:
    wanted = name.lower()
    return next((h.value for h in mail.headers if h.name.lower() == wanted), None)


def _message_id(mail: _Mail) -> str | None:
    header = _header(mail, "Message-ID")
    if header is not None:
        return strip_message_id(header)
    common = mail.common_headers.message_id if mail.common_headers else None
    # Without a Message-ID header of ours, SES reports its own message id here.
    if common is not None and common != mail.message_id:
        return strip_message_id(common)
    return None


def _campaign_contact_id(mail: _Mail) -> uuid.UUID | None:
    for value in mail.tags.get(CAMPAIGN_CONTACT_KEY, []):
        found = parse_uuid(value)
        if found is not None:
            return found
    return parse_uuid(_header(mail, CAMPAIGN_CONTACT_HEADER))
