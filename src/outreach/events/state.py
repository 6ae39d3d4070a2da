"""A campaign contact's engagement, advanced by events in any order, and what it adds to counters.

Each event only ever moves a first-time timestamp earlier (or sets it), and the status is a
function of those timestamps alone. So the same events give the same contact whatever order
they arrive in: a click before its open, a provider's delivery after the open, a retry.
"""

import uuid
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from outreach.models.campaign_contact import ContactStatus


class EventType(StrEnum):
    EMAIL_SENT = "email_sent"
    DELIVERED = "delivered"
    OPENED = "opened"
    CLICKED = "clicked"
    BOUNCED = "bounced"
    UNSUBSCRIBED = "unsubscribed"
    SPAM_REPORTED = "spam_reported"
    RESPONSE_RECEIVED = "response_received"
    AUTO_REPLIED = "auto_replied"
    CONVERTED = "converted"
    LINKEDIN_SENT = "linkedin_sent"
    LINKEDIN_VIEWED = "linkedin_viewed"
    SMS_SENT = "sms_sent"
    CALL_COMPLETED = "call_completed"  # a call made, whatever its outcome: the attempt is a touch
    LETTER_SENT = "letter_sent"
    # An unsubscribe undone from its own link. It changes no state (an unsubscribe stays in
    # the campaign's figures and its contact's timeline): it lifts the suppression it made.
    RESUBSCRIBED = "resubscribed"


# Touches on channels without their own timestamps: they only say the contact was reached.
OTHER_TOUCHES = frozenset({EventType.SMS_SENT, EventType.CALL_COMPLETED, EventType.LETTER_SENT})


@dataclass(frozen=True)
class Engagement:
    """The engagement fields of one campaign contact."""

    sent_at: datetime | None = None
    email_sent_at: datetime | None = None
    linkedin_sent_at: datetime | None = None
    delivered_at: datetime | None = None
    opened_at: datetime | None = None
    clicked_at: datetime | None = None
    responded_at: datetime | None = None
    converted_at: datetime | None = None
    bounced_at: datetime | None = None
    unsubscribed_at: datetime | None = None
    complained_at: datetime | None = None
    bounce_type: str | None = None
    response_text: str | None = None
    conversion_type: str | None = None
    conversion_entity_id: uuid.UUID | None = None
    error_message: str | None = None

    @property
    def status(self) -> ContactStatus:
        """Converted beats everything; an unsubscribe beats a reply; any human engagement
        proves the message arrived, so it beats a bounce."""
        if self.converted_at:
            return "converted"
        if self.unsubscribed_at:
            return "unsubscribed"
        if self.responded_at:
            return "responded"
        if self.opened_at:
            return "opened"
        if self.bounced_at:
            return "bounced"
        if self.sent_at:
            return "sent"
        return "pending"

    @property
    def reached(self) -> bool:
        """Counted as reached once contacted or engaged; a later bounce does not undo it."""
        return any((self.sent_at, self.opened_at, self.responded_at, self.converted_at))


ENGAGEMENT_FIELDS = tuple(f.name for f in fields(Engagement))


@dataclass(frozen=True)
class Occurrence:
    """One event as it applies to a contact."""

    event_type: EventType
    at: datetime
    is_machine: bool = False
    bounce_type: str | None = None
    final: bool = False  # the last of a message's soft failures: no more retries
    reason: str | None = None
    response_text: str | None = None
    conversion_type: str | None = None
    conversion_entity_id: uuid.UUID | None = None
    event_id: uuid.UUID | None = None


def _first(current: datetime | None, at: datetime) -> datetime:
    return at if current is None or at < current else current


def advance(contact: Engagement, event: Occurrence) -> Engagement:
    """The contact after `event`. Machine opens and clicks change nothing here: they are
    kept as events and counted apart, never as a person's engagement."""
    at, kind = event.at, event.event_type
    if event.is_machine and kind in (EventType.OPENED, EventType.CLICKED):
        return contact
    changes: dict[str, Any] = {}
    if kind is EventType.EMAIL_SENT:
        changes = {
            "sent_at": _first(contact.sent_at, at),
            "email_sent_at": _first(contact.email_sent_at, at),
        }
    elif kind is EventType.LINKEDIN_SENT:
        changes = {
            "sent_at": _first(contact.sent_at, at),
            "linkedin_sent_at": _first(contact.linkedin_sent_at, at),
        }
    elif kind in OTHER_TOUCHES:
        changes = {"sent_at": _first(contact.sent_at, at)}
    elif kind is EventType.DELIVERED:
        changes = {
            "sent_at": _first(contact.sent_at, at),
            "delivered_at": _first(contact.delivered_at, at),
        }
    elif kind is EventType.OPENED:
        changes = {"opened_at": _first(contact.opened_at, at)}
    elif kind is EventType.CLICKED:  # a click implies the message was opened
        changes = {
            "clicked_at": _first(contact.clicked_at, at),
            "opened_at": _first(contact.opened_at, at),
        }
    elif kind is EventType.RESPONSE_RECEIVED:
        changes = {"responded_at": _first(contact.responded_at, at)}
        if contact.responded_at is None or at < contact.responded_at:
            changes["response_text"] = event.response_text
    elif kind is EventType.CONVERTED:
        changes = {"converted_at": _first(contact.converted_at, at)}
        if contact.converted_at is None or at < contact.converted_at:
            changes |= {
                "conversion_type": event.conversion_type,
                "conversion_entity_id": event.conversion_entity_id,
            }
    elif kind is EventType.BOUNCED:
        changes = {"error_message": event.reason or contact.error_message}
        if event.bounce_type == "hard":
            changes |= {"bounced_at": _first(contact.bounced_at, at), "bounce_type": "hard"}
        elif event.final:  # soft failures until the retries ran out: bounced, but not hard
            changes["bounced_at"] = _first(contact.bounced_at, at)
            if contact.bounce_type is None:
                changes["bounce_type"] = "soft"
        elif contact.bounce_type is None:
            changes["bounce_type"] = "soft"
    elif kind is EventType.UNSUBSCRIBED:
        changes = {"unsubscribed_at": _first(contact.unsubscribed_at, at)}
    elif kind is EventType.SPAM_REPORTED:  # a complaint is the strongest unsubscribe
        changes = {
            "complained_at": _first(contact.complained_at, at),
            "unsubscribed_at": _first(contact.unsubscribed_at, at),
        }
    return replace(contact, **changes) if changes else contact


# Counters that count contacts: each is true or false for one contact.
CONTACT_COUNTERS: dict[str, Callable[[Engagement], bool]] = {
    "contacts_reached": lambda c: c.reached,
    "emails_sent": lambda c: c.email_sent_at is not None,
    "linkedin_messages_sent": lambda c: c.linkedin_sent_at is not None,
    "responses_received": lambda c: c.responded_at is not None,
    "conversions": lambda c: c.converted_at is not None,
    "emails_delivered": lambda c: c.delivered_at is not None,
    "emails_bounced": lambda c: c.bounced_at is not None,
    "opens_unique": lambda c: c.opened_at is not None,
    "clicks_unique": lambda c: c.clicked_at is not None,
    "unsubscribes": lambda c: c.unsubscribed_at is not None,
    "complaints": lambda c: c.complained_at is not None,
}
# Counters that count events.
EVENT_COUNTERS = {
    (EventType.OPENED, False): "opens_total",
    (EventType.OPENED, True): "machine_opens",
    (EventType.CLICKED, False): "clicks_total",
    (EventType.CLICKED, True): "machine_clicks",
}


def contact_deltas(before: Engagement, after: Engagement) -> dict[str, int]:
    """How the contact-counting counters move when `before` becomes `after`."""
    deltas = {}
    for counter, holds in CONTACT_COUNTERS.items():
        change = int(holds(after)) - int(holds(before))
        if change:
            deltas[counter] = change
    return deltas


def event_counter(event: Occurrence) -> str | None:
    return EVENT_COUNTERS.get((event.event_type, event.is_machine))
