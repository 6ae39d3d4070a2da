"""Amazon SES notifications through SNS, from AWS's documented examples."""

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from outreach.inbound.events import InboundFormatError
from outreach.inbound.ses import parse

CC = uuid.UUID("6f1c2a4e-3b7d-4c8e-9a10-2b3c4d5e6f70")
ALL_SES = [
    "ses_bounce_notification.json",
    "ses_bounce_two_recipients.json",
    "ses_complaint_notification.json",
    "ses_delivery_notification.json",
    "ses_event_bounce.json",
    "ses_event_complaint.json",
    "ses_event_delivery.json",
]

Payload = Callable[[str], bytes]
PayloadJson = Callable[[str], Any]


def rewrapped(envelope: dict[str, Any], change: Callable[[dict[str, Any]], None]) -> bytes:
    message = json.loads(envelope["Message"])
    change(message)
    return json.dumps({**envelope, "Message": json.dumps(message)}).encode()


def test_permanent_bounce_is_hard_with_its_diagnostic_as_reason(payload: Payload) -> None:
    [event] = parse(payload("ses_bounce_notification.json")).events

    assert event.provider == "ses"
    assert event.provider_event_id == "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324"
    assert event.event_type == "bounced"
    assert event.bounce_type == "hard"
    assert event.reason == "smtp; 550 5.1.1 <jane@example.com>... User"
    assert event.recipient == "jane@example.com"
    assert event.occurred_at == datetime(2016, 1, 27, 14, 59, 38, 237000, tzinfo=UTC)
    assert event.message_id == "custom-message-ID"
    assert event.campaign_contact_id == CC
    assert event.raw_type == "Bounce"
    assert not event.is_auto_reply
    assert event.reply_text is None


def test_one_bounce_for_two_recipients_gives_two_events_with_distinct_ids(
    payload: Payload,
) -> None:
    events = parse(payload("ses_bounce_two_recipients.json")).events

    assert [e.recipient for e in events] == ["jane@example.com", "richard@example.com"]
    assert {e.event_type for e in events} == {"bounced"}
    assert len({e.provider_event_id for e in events}) == 2
    assert all(
        e.provider_event_id.startswith("0d7a2c35-5b7f-4a2b-9f8e-1c2d3e4f5a6b:") for e in events
    )
    # No DSN: the bounce subtype is the reason; no header of ours: no campaign contact.
    assert {e.reason for e in events} == {"General"}
    assert {e.campaign_contact_id for e in events} == {None}


@pytest.mark.parametrize("name", ALL_SES)
def test_the_same_notification_parsed_twice_gives_the_same_event_ids(
    payload: Payload, name: str
) -> None:
    first = parse(payload(name)).events
    again = parse(payload(name)).events

    assert first
    assert [e.provider_event_id for e in first] == [e.provider_event_id for e in again]
    assert first == again


@pytest.mark.parametrize("bounce_type", ["Transient", "Undetermined"])
def test_transient_and_undetermined_bounces_are_soft(
    payload_json: PayloadJson, bounce_type: str
) -> None:
    def transient(message: dict[str, Any]) -> None:
        message["bounce"]["bounceType"] = bounce_type
        message["bounce"]["bounceSubType"] = "MailboxFull"

    body = rewrapped(payload_json("ses_event_bounce.json"), transient)

    [event] = parse(body).events
    assert event.bounce_type == "soft"


def test_complaint_is_spam_reported_for_the_complained_recipient_only(payload: Payload) -> None:
    [event] = parse(payload("ses_complaint_notification.json")).events

    assert event.event_type == "spam_reported"
    assert event.recipient == "richard@example.com"
    assert event.reason == "abuse"
    assert event.bounce_type is None
    assert event.campaign_contact_id == CC
    assert event.provider_event_id == "8f1e7a2b-0c3d-4e5f-a6b7-c8d9e0f1a2b3"


def test_delivery_is_delivered_at_the_delivery_time(payload: Payload) -> None:
    [event] = parse(payload("ses_delivery_notification.json")).events

    assert event.event_type == "delivered"
    assert event.recipient == "jane@example.com"
    assert event.occurred_at == datetime(2016, 1, 27, 14, 59, 38, 237000, tzinfo=UTC)
    assert event.message_id == "custom-message-ID"
    assert event.raw_type == "Delivery"


@pytest.mark.parametrize(
    ("name", "event_type"),
    [
        ("ses_event_bounce.json", "bounced"),
        ("ses_event_complaint.json", "spam_reported"),
        ("ses_event_delivery.json", "delivered"),
    ],
)
def test_event_publishing_records_are_read_by_their_event_type(
    payload: Payload, name: str, event_type: str
) -> None:
    [event] = parse(payload(name)).events

    assert event.event_type == event_type
    assert event.recipient == "recipient@example.com"
    # Our tag names the campaign contact; SES's own message id is not our Message-ID header.
    assert event.campaign_contact_id == CC
    assert event.message_id is None


def test_campaign_contact_tag_wins_over_the_header(payload_json: PayloadJson) -> None:
    other = uuid.uuid4()

    def both(message: dict[str, Any]) -> None:
        message["mail"]["headers"].append({"name": "x-outreach-cc", "value": str(other)})

    [event] = parse(rewrapped(payload_json("ses_event_delivery.json"), both)).events
    assert event.campaign_contact_id == CC


def test_a_campaign_contact_tag_that_is_no_uuid_names_no_contact(
    payload_json: PayloadJson,
) -> None:
    def garbled(message: dict[str, Any]) -> None:
        message["mail"]["tags"]["outreach_cc"] = ["not-a-uuid"]

    [event] = parse(rewrapped(payload_json("ses_event_bounce.json"), garbled)).events
    assert event.campaign_contact_id is None


def test_message_id_header_in_angle_brackets_is_stripped(payload_json: PayloadJson) -> None:
    def ours(message: dict[str, Any]) -> None:
        message["mail"]["headers"].append(
            {"name": "Message-ID", "value": "<c1.s2@mail.outreach.example>"}
        )

    [event] = parse(rewrapped(payload_json("ses_event_delivery.json"), ours)).events
    assert event.message_id == "c1.s2@mail.outreach.example"


def test_open_records_are_ignored_and_said_so(payload: Payload) -> None:
    result = parse(payload("ses_event_open.json"))

    assert result.events == []
    assert result.ignored == ["SES Open: not a type we record from SES"]


def test_not_spam_feedback_records_no_complaint(payload_json: PayloadJson) -> None:
    def not_spam(message: dict[str, Any]) -> None:
        message["complaint"]["complaintFeedbackType"] = "not-spam"

    result = parse(rewrapped(payload_json("ses_event_complaint.json"), not_spam))
    assert result.events == []
    assert result.ignored


def test_subscription_confirmation_gives_the_url_to_confirm_and_no_events(
    payload: Payload,
) -> None:
    result = parse(payload("sns_subscription_confirmation.json"))

    assert result.events == []
    assert result.subscribe_url is not None
    assert result.subscribe_url.startswith(
        "https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription&"
    )


@pytest.mark.parametrize(
    "url",
    [
        "http://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription",
        "https://sns.us-west-2.amazonaws.com.attacker.example/confirm",
        "https://169.254.169.254/latest/meta-data/",
        "https://user@evil.example/?sns.us-west-2.amazonaws.com",
        "",
    ],
)
def test_a_subscribe_url_off_aws_sns_is_refused(payload_json: PayloadJson, url: str) -> None:
    body = {**payload_json("sns_subscription_confirmation.json"), "SubscribeURL": url}

    with pytest.raises(InboundFormatError, match="SubscribeURL"):
        parse(json.dumps(body).encode())


def test_unsubscribe_confirmation_is_ignored_not_reconfirmed(payload: Payload) -> None:
    result = parse(payload("sns_unsubscribe_confirmation.json"))

    assert result.events == []
    assert result.subscribe_url is None
    assert result.ignored


def test_raw_message_delivery_builds_stable_ids_from_the_message(
    payload_json: PayloadJson,
) -> None:
    raw = payload_json("ses_bounce_two_recipients.json")["Message"].encode()

    events = parse(raw).events
    again = parse(raw).events

    assert [e.provider_event_id for e in events] == [e.provider_event_id for e in again]
    assert events[0].provider_event_id == (
        "00000137860315fd-34208509-5b74-41f3-95c5-22c1edc3c924-000000"
        ":Bounce:2016-01-27T14:59:38.237000+00:00:jane@example.com"
    )
    assert len({e.provider_event_id for e in events}) == 2


def envelope_of(message: object) -> bytes:
    return json.dumps({"Type": "Notification", "MessageId": "m-1", "Message": message}).encode()


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe", "not UTF-8"),
        (b"[]", "must be a JSON object"),
        (json.dumps({"Type": "Notification", "Message": "{}"}).encode(), "MessageId"),
        (json.dumps({"Type": "Surprise", "MessageId": "m", "Message": ""}).encode(), "Type"),
        (envelope_of("Hello world!"), "not valid JSON"),
        (envelope_of(json.dumps({"mail": {}})), "neither eventType nor notificationType"),
        (envelope_of(json.dumps({"eventType": "Bounce", "mail": {}})), "SES Bounce"),
    ],
)
def test_malformed_bodies_raise_a_format_error(body: bytes, complaint: str) -> None:
    with pytest.raises(InboundFormatError, match=complaint):
        parse(body)


def test_a_bounce_without_recipients_is_malformed(payload_json: PayloadJson) -> None:
    def empty(message: dict[str, Any]) -> None:
        message["bounce"]["bouncedRecipients"] = []

    with pytest.raises(InboundFormatError, match=r"bounce\.bouncedRecipients"):
        parse(rewrapped(payload_json("ses_event_bounce.json"), empty))


def test_a_naive_timestamp_is_malformed(payload_json: PayloadJson) -> None:
    def naive(message: dict[str, Any]) -> None:
        message["delivery"]["timestamp"] = "2016-10-19T23:21:04"

    with pytest.raises(InboundFormatError, match=r"delivery\.timestamp"):
        parse(rewrapped(payload_json("ses_event_delivery.json"), naive))
