"""One entry point parses any provider's body by the provider's name."""

import json
from collections.abc import Callable
from typing import Any

import pytest

from outreach.inbound.parse import InboundFormatError, parse

Payload = Callable[[str], bytes]


@pytest.mark.parametrize(
    ("provider", "name", "event_type"),
    [
        ("ses", "ses_event_bounce.json", "bounced"),
        ("postmark", "postmark_spam_complaint.json", "spam_reported"),
        ("generic", "generic_events.json", "delivered"),
    ],
)
def test_the_provider_name_picks_the_parser(
    payload: Payload, provider: str, name: str, event_type: str
) -> None:
    result = parse(provider, payload(name))

    assert result.events[0].provider == provider
    assert result.events[0].event_type == event_type


def test_an_unknown_provider_is_a_format_error() -> None:
    with pytest.raises(InboundFormatError, match="unknown provider 'mailgun'"):
        parse("mailgun", b"{}")


def test_another_providers_body_is_a_format_error(payload: Payload) -> None:
    with pytest.raises(InboundFormatError):
        parse("generic", payload("postmark_delivery.json"))


def test_a_well_formed_record_we_do_not_record_is_ignored_not_an_error(payload: Payload) -> None:
    result = parse("postmark", payload("postmark_open.json"))

    assert result.events == []
    assert result.ignored
    assert result.subscribe_url is None


def test_format_errors_are_value_errors() -> None:
    assert issubclass(InboundFormatError, ValueError)


DEEP = b"[" * 100_000 + b"]" * 100_000


@pytest.mark.parametrize("provider", ["ses", "postmark", "generic"])
@pytest.mark.parametrize(
    "body",
    [
        DEEP,
        b'{"events": ' + DEEP + b"}",
        b'{"Metadata": ' + b'{"a": ' * 1000 + b"1" + b"}" * 1001,
    ],
    ids=["deep-array", "deep-value", "deep-objects"],
)
def test_deeply_nested_json_is_a_format_error(provider: str, body: bytes) -> None:
    with pytest.raises(InboundFormatError, match="nested deeper than"):
        parse(provider, body)


def test_nesting_inside_strings_does_not_count() -> None:
    body = b'{"RecordType": "Open", "Note": "' + b"[{" * 10_000 + b'"}'
    assert parse("postmark", body).ignored


OUT_OF_RANGE = ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59"]


@pytest.mark.parametrize("moment", OUT_OF_RANGE)
def test_a_time_beyond_the_representable_range_in_utc_is_a_format_error(
    payload_json: Callable[[str], Any], moment: str
) -> None:
    bodies = {
        "generic": {"events": [{**payload_json("generic_events.json")["events"][0]}]},
        "postmark": {**payload_json("postmark_delivery.json"), "DeliveredAt": moment},
        # SNS raw message delivery: the SES message itself
        "ses": json.loads(payload_json("ses_event_delivery.json")["Message"]),
    }
    bodies["generic"]["events"][0]["occurred_at"] = moment
    bodies["ses"]["delivery"]["timestamp"] = moment
    for provider, body in bodies.items():
        with pytest.raises(InboundFormatError, match="out of range"):
            parse(provider, json.dumps(body).encode())


def test_a_reply_dated_beyond_the_range_is_dated_when_received(
    payload_json: Callable[[str], Any],
) -> None:
    body = {**payload_json("postmark_inbound.json"), "Date": "Fri, 31 Dec 9999 23:59:59 -2359"}
    assert parse("postmark", json.dumps(body).encode()).events[0].occurred_at.year == 2026
