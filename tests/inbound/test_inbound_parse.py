"""One entry point parses any provider's body by the provider's name."""

from collections.abc import Callable

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
