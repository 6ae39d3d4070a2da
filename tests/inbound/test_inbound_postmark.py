"""Postmark webhooks and inbound replies, from Postmark's documented examples."""

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from outreach.inbound.events import REPLY_TEXT_MAX_CHARS, InboundFormatError
from outreach.inbound.postmark import parse

CC = uuid.UUID("6f1c2a4e-3b7d-4c8e-9a10-2b3c4d5e6f70")
RECORDED = [
    "postmark_delivery.json",
    "postmark_bounce_hard.json",
    "postmark_bounce_soft.json",
    "postmark_spam_complaint.json",
    "postmark_subscription_change_unsubscribe.json",
    "postmark_inbound.json",
    "postmark_inbound_out_of_office.json",
]

Payload = Callable[[str], bytes]
PayloadJson = Callable[[str], Any]


def encoded(data: object) -> bytes:
    return json.dumps(data).encode()


def test_delivery_is_delivered_with_our_campaign_contact(payload: Payload) -> None:
    [event] = parse(payload("postmark_delivery.json")).events

    assert event.provider == "postmark"
    assert event.event_type == "delivered"
    assert event.recipient == "john@example.com"
    # Postmark writes seven fractional digits; the seventh is below a microsecond.
    assert event.occurred_at == datetime(2019, 11, 5, 16, 33, 54, 907025, tzinfo=UTC)
    assert event.campaign_contact_id == CC
    assert event.message_id is None
    assert event.provider_event_id == (
        "883953f4-6105-42a2-a16a-77a8eac79483:Delivery:john@example.com"
        ":2019-11-05T16:33:54.907025+00:00"
    )
    assert event.raw_type == "Delivery"


def test_hard_bounce_is_hard_with_postmarks_bounce_id(payload: Payload) -> None:
    [event] = parse(payload("postmark_bounce_hard.json")).events

    assert event.event_type == "bounced"
    assert event.bounce_type == "hard"
    assert event.provider_event_id == "4323372036854775807"
    assert event.reason == "Test bounce details"
    assert event.recipient == "john@example.com"
    assert event.campaign_contact_id == CC
    assert event.raw_type == "HardBounce"


def test_soft_bounce_is_soft(payload: Payload) -> None:
    [event] = parse(payload("postmark_bounce_soft.json")).events

    assert event.bounce_type == "soft"
    assert event.reason == "smtp;452 4.2.2 The email account that you tried to reach is over quota."


@pytest.mark.parametrize(
    ("bounce_type", "event_type", "hard_or_soft"),
    [
        ("HardBounce", "bounced", "hard"),
        ("BadEmailAddress", "bounced", "hard"),
        ("ManuallyDeactivated", "bounced", "hard"),
        ("SpamNotification", "bounced", "hard"),
        ("SoftBounce", "bounced", "soft"),
        ("Transient", "bounced", "soft"),
        ("DnsError", "bounced", "soft"),
        ("Blocked", "bounced", "soft"),
        ("DMARCPolicy", "bounced", "soft"),
        ("Unknown", "bounced", "soft"),
        ("ATypePostmarkAddsLater", "bounced", "soft"),
        ("SpamComplaint", "spam_reported", None),
        ("Unsubscribe", "unsubscribed", None),
    ],
)
def test_postmark_bounce_types_map_to_our_events(
    payload_json: PayloadJson, bounce_type: str, event_type: str, hard_or_soft: str | None
) -> None:
    body = {**payload_json("postmark_bounce_hard.json"), "Type": bounce_type}

    [event] = parse(encoded(body)).events

    assert (event.event_type, event.bounce_type) == (event_type, hard_or_soft)
    assert event.raw_type == bounce_type


def test_an_auto_responder_bounce_is_an_auto_reply_not_a_response(
    payload_json: PayloadJson,
) -> None:
    body = {**payload_json("postmark_bounce_hard.json"), "Type": "AutoResponder"}

    [event] = parse(encoded(body)).events

    assert event.event_type == "response_received"
    assert event.is_auto_reply
    assert event.bounce_type is None


@pytest.mark.parametrize("bounce_type", ["Subscribe", "OpenRelayTest", "InboundError"])
def test_bounce_records_that_are_no_delivery_failure_are_ignored(
    payload_json: PayloadJson, bounce_type: str
) -> None:
    body = {**payload_json("postmark_bounce_hard.json"), "Type": bounce_type}

    result = parse(encoded(body))

    assert result.events == []
    assert result.ignored == [f"Postmark Bounce of type {bounce_type}: not a failure"]


def test_spam_complaint_is_spam_reported(payload: Payload) -> None:
    [event] = parse(payload("postmark_spam_complaint.json")).events

    assert event.event_type == "spam_reported"
    assert event.provider_event_id == "42"
    assert event.reason == "Test spam complaint details"
    assert event.raw_type == "SpamComplaint"


def test_manual_suppression_by_the_recipient_is_an_unsubscribe(payload: Payload) -> None:
    [event] = parse(payload("postmark_subscription_change_unsubscribe.json")).events

    assert event.event_type == "unsubscribed"
    assert event.recipient == "john@example.com"
    assert event.occurred_at == datetime(2022, 6, 5, 17, 17, 32, tzinfo=UTC)
    assert event.campaign_contact_id == CC
    assert event.reason == "ManualSuppression by Recipient"


def test_a_hard_bounce_suppression_is_left_to_the_bounce_webhook(payload: Payload) -> None:
    result = parse(payload("postmark_subscription_change_hard_bounce.json"))

    assert result.events == []
    assert result.ignored == ["Postmark SubscriptionChange: HardBounce suppression"]


def test_a_reactivation_records_nothing(payload_json: PayloadJson) -> None:
    body = {
        **payload_json("postmark_subscription_change_unsubscribe.json"),
        "SuppressSending": False,
        "SuppressionReason": None,
    }

    result = parse(encoded(body))

    assert result.events == []
    assert result.ignored == ["Postmark SubscriptionChange: sending reactivated"]


def test_open_webhooks_are_ignored_and_said_so(payload: Payload) -> None:
    result = parse(payload("postmark_open.json"))

    assert result.events == []
    assert result.ignored == ["Postmark Open: not a type we record from Postmark"]


def test_inbound_reply_is_a_response_to_the_email_it_replies_to(payload: Payload) -> None:
    [event] = parse(payload("postmark_inbound.json")).events

    assert event.event_type == "response_received"
    assert event.provider_event_id == "73e6d360-66eb-11e1-8e72-a8904824019b"
    assert event.recipient == "support@postmarkapp.com"
    assert event.message_id == "20140801.a1b2c3@mail.outreach.example"
    assert event.reply_text == "This is the reply text"
    assert not event.is_auto_reply
    # "-04:00" is read as the offset it is.
    assert event.occurred_at == datetime(2014, 8, 1, 20, 45, 32, tzinfo=UTC)
    # "SampleHash" is no campaign contact id.
    assert event.campaign_contact_id is None
    assert event.raw_type == "Inbound"


def test_an_out_of_office_reply_is_recorded_as_an_auto_reply(payload: Payload) -> None:
    [event] = parse(payload("postmark_inbound_out_of_office.json")).events

    assert event.event_type == "response_received"
    assert event.is_auto_reply
    # No stripped reply: the whole text body.
    assert event.reply_text == "I am out of the office until Monday."
    assert event.campaign_contact_id == CC
    assert event.occurred_at == datetime(2015, 4, 6, 18, 57, 14, tzinfo=UTC)


def test_an_inbound_with_record_type_inbound_is_a_reply(payload_json: PayloadJson) -> None:
    body = payload_json("postmark_inbound.json")
    del body["FromFull"]
    body["RecordType"] = "Inbound"

    [event] = parse(encoded(body)).events

    assert event.event_type == "response_received"
    assert event.recipient == "support@postmarkapp.com"


def test_without_in_reply_to_the_last_reference_is_the_email_replied_to(
    payload_json: PayloadJson,
) -> None:
    body = payload_json("postmark_inbound.json")
    body["Headers"] = [
        {"Name": "References", "Value": "<first@mail.outreach.example>\r\n <second@x.example>"}
    ]

    [event] = parse(encoded(body)).events

    assert event.message_id == "second@x.example"


def test_an_unreadable_date_is_the_time_of_receipt(payload_json: PayloadJson) -> None:
    body = {**payload_json("postmark_inbound.json"), "Date": "sometime last week"}

    [event] = parse(encoded(body)).events

    assert abs(datetime.now(UTC) - event.occurred_at) < timedelta(minutes=1)
    assert event.provider_event_id == "73e6d360-66eb-11e1-8e72-a8904824019b"


def test_reply_text_is_trimmed(payload_json: PayloadJson) -> None:
    body = {**payload_json("postmark_inbound.json"), "StrippedTextReply": "x" * 50_000}

    [event] = parse(encoded(body)).events

    assert event.reply_text == "x" * REPLY_TEXT_MAX_CHARS


@pytest.mark.parametrize("name", RECORDED)
def test_the_same_webhook_parsed_twice_gives_the_same_event_ids(
    payload: Payload, name: str
) -> None:
    first = parse(payload(name)).events
    again = parse(payload(name)).events

    assert len(first) == 1
    assert first[0].provider_event_id == again[0].provider_event_id


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        (b"", "not valid JSON"),
        (b'"Bounce"', "must be a JSON object"),
        (encoded({"MessageID": "x"}), "RecordType is missing"),
        (encoded({"RecordType": "Bounce", "ID": 1, "Type": "HardBounce"}), "Email"),
        (
            encoded(
                {
                    "RecordType": "Delivery",
                    "MessageID": "m",
                    "Recipient": "a@example.com",
                    "DeliveredAt": "yesterday",
                }
            ),
            "DeliveredAt",
        ),
        (
            encoded(
                {
                    "RecordType": "Delivery",
                    "MessageID": "m",
                    "Recipient": "nobody",
                    "DeliveredAt": "2019-11-05T16:33:54Z",
                }
            ),
            "not an email address",
        ),
        (encoded({"FromFull": {"Email": "a@example.com"}}), "MessageID"),
    ],
)
def test_malformed_bodies_raise_a_format_error(body: bytes, complaint: str) -> None:
    with pytest.raises(InboundFormatError, match=complaint):
        parse(body)
