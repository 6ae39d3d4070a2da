"""Our own documented inbound JSON format."""

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from outreach.inbound.events import InboundFormatError
from outreach.inbound.generic import MAX_EVENTS, parse

Payload = Callable[[str], bytes]


def one(**fields: Any) -> bytes:
    event = {
        "type": "delivered",
        "occurred_at": "2026-11-23T09:15:00Z",
        "recipient": "a@example.com",
    }
    return json.dumps({"events": [{**event, **fields}]}).encode()


def test_each_type_maps_to_our_event(payload: Payload) -> None:
    events = parse(payload("generic_events.json")).events

    assert [(e.provider_event_id, e.event_type) for e in events] == [
        ("evt-1001", "delivered"),
        ("evt-1002", "bounced"),
        ("evt-1003", "spam_reported"),
        ("evt-1004", "response_received"),
        ("evt-1005", "response_received"),
        ("evt-1006", "unsubscribed"),
    ]
    assert {e.provider for e in events} == {"generic"}


def test_fields_are_normalized(payload: Payload) -> None:
    delivered, bounced, _, replied, out_of_office, _ = parse(payload("generic_events.json")).events

    assert delivered.recipient == "ada@example.com"
    assert delivered.message_id == "c1.s1@mail.outreach.example"
    assert delivered.campaign_contact_id == uuid.UUID("6f1c2a4e-3b7d-4c8e-9a10-2b3c4d5e6f70")
    assert bounced.occurred_at == datetime(2026, 11, 23, 8, 16, tzinfo=UTC)
    assert (bounced.bounce_type, bounced.reason) == ("hard", "550 5.1.1 user unknown")
    assert replied.reply_text == "Sounds good, let's talk Tuesday."
    assert not replied.is_auto_reply
    # No auto_reply given: told from the subject.
    assert out_of_office.is_auto_reply


def test_a_given_auto_reply_flag_wins_over_detection() -> None:
    body = one(type="replied", subject="Out of Office: Hello", auto_reply=False, text="Hi")

    [event] = parse(body).events

    assert not event.is_auto_reply


def test_auto_reply_is_told_from_headers_too() -> None:
    [event] = parse(one(type="replied", headers={"Auto-Submitted": "auto-replied"})).events

    assert event.is_auto_reply


def test_without_an_id_a_stable_one_is_built_from_the_event() -> None:
    body = one(message_id="<m1@mail.outreach.example>")

    first = parse(body).events[0].provider_event_id
    again = parse(body).events[0].provider_event_id

    assert (
        first
        == again
        == ("m1@mail.outreach.example:delivered:a@example.com:2026-11-23T09:15:00+00:00")
    )
    assert parse(one()).events[0].provider_event_id != first


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        (b"not json", "not valid JSON"),
        (json.dumps({"events": []}).encode(), "events: List should have at least 1 item"),
        (json.dumps({"events": [], "extra": 1}).encode(), "extra: Extra inputs"),
        (one(colour="blue"), r"events\.0\.colour: Extra inputs are not permitted"),
        (one(type="opened"), r"events\.0\.type"),
        (one(recipient="not-an-address"), r"events\.0\.recipient"),
        (one(occurred_at="2026-11-23T09:15:00"), r"events\.0\.occurred_at"),
        (one(occurred_at=1_800_000_000), "RFC 3339"),
        (one(campaign_contact_id="cc-1"), r"events\.0\.campaign_contact_id"),
        (one(type="bounced"), "bounce_type \\(hard or soft\\) is required"),
        (one(type="bounced", bounce_type="medium"), r"events\.0\.bounce_type"),
        (one(bounce_type="hard"), "bounce_type is only allowed when type is bounced"),
        (one(text="hello"), "text only allowed when type is replied"),
        (one(id=""), r"events\.0\.id"),
    ],
)
def test_malformed_bodies_raise_a_clear_format_error(body: bytes, complaint: str) -> None:
    with pytest.raises(InboundFormatError, match=complaint):
        parse(body)


def test_too_many_events_in_one_request_are_refused() -> None:
    event = {"type": "delivered", "occurred_at": "2026-11-23T09:15:00Z", "recipient": "a@b.example"}
    body = json.dumps({"events": [event] * (MAX_EVENTS + 1)}).encode()

    with pytest.raises(InboundFormatError, match="events"):
        parse(body)
