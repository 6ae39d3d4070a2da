"""A contact's engagement is the same whatever order its events arrive in."""

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from outreach.events.repository import CONTACT_COUNTER_SQL, EVENT_COUNTER_SQL
from outreach.events.state import (
    CONTACT_COUNTERS,
    EVENT_COUNTERS,
    Engagement,
    EventType,
    Occurrence,
    advance,
    contact_deltas,
    event_counter,
)

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def fold(events: list[Occurrence]) -> Engagement:
    contact = Engagement()
    for event in events:
        contact = advance(contact, event)
    return contact


def test_every_order_of_the_same_events_gives_the_same_contact() -> None:
    events = [
        Occurrence(EventType.EMAIL_SENT, at(0)),
        Occurrence(EventType.DELIVERED, at(1)),
        Occurrence(EventType.OPENED, at(5)),
        Occurrence(EventType.CLICKED, at(6)),
        Occurrence(EventType.OPENED, at(30)),
        Occurrence(EventType.RESPONSE_RECEIVED, at(60), response_text="Interested"),
    ]
    results = {fold(list(order)) for order in itertools.permutations(events)}
    assert len(results) == 1
    [contact] = results
    assert contact.status == "responded"
    assert (contact.opened_at, contact.clicked_at, contact.responded_at) == (at(5), at(6), at(60))
    assert contact.response_text == "Interested"


def test_every_order_of_touches_on_every_channel_gives_the_same_contact() -> None:
    events = [
        Occurrence(EventType.SMS_SENT, at(3)),
        Occurrence(EventType.CALL_COMPLETED, at(-2)),
        Occurrence(EventType.LETTER_SENT, at(10)),
        Occurrence(EventType.LINKEDIN_SENT, at(1)),
        Occurrence(EventType.EMAIL_SENT, at(0)),
        Occurrence(EventType.RESPONSE_RECEIVED, at(60), response_text="Call me back"),
    ]
    results = {fold(list(order)) for order in itertools.permutations(events)}
    assert len(results) == 1
    [contact] = results
    assert (contact.sent_at, contact.email_sent_at, contact.linkedin_sent_at) == (
        at(-2),
        at(0),
        at(1),
    )
    assert contact.status == "responded"


@pytest.mark.parametrize(
    "kind", [EventType.SMS_SENT, EventType.CALL_COMPLETED, EventType.LETTER_SENT]
)
def test_an_sms_call_or_letter_reaches_the_contact_without_an_email_or_linkedin_send(
    kind: EventType,
) -> None:
    contact = fold([Occurrence(kind, at(5)), Occurrence(kind, at(2))])
    assert (contact.sent_at, contact.status, contact.reached) == (at(2), "sent", True)
    assert (contact.email_sent_at, contact.linkedin_sent_at, contact.delivered_at) == (
        None,
        None,
        None,
    )
    assert contact_deltas(Engagement(), contact) == {"contacts_reached": 1}
    assert event_counter(Occurrence(kind, at(5))) is None


def test_a_touch_after_a_reply_leaves_the_contact_responded() -> None:
    replied = fold([Occurrence(EventType.RESPONSE_RECEIVED, at(1))])
    called = advance(replied, Occurrence(EventType.CALL_COMPLETED, at(2)))
    assert (called.status, called.sent_at) == ("responded", at(2))
    assert contact_deltas(replied, called) == {}


def test_a_click_implies_an_open() -> None:
    contact = fold([Occurrence(EventType.EMAIL_SENT, at(0)), Occurrence(EventType.CLICKED, at(3))])
    assert contact.opened_at == at(3)
    assert contact.status == "opened"


def test_first_time_timestamps_are_kept() -> None:
    contact = fold([Occurrence(EventType.OPENED, at(10)), Occurrence(EventType.OPENED, at(20))])
    assert contact.opened_at == at(10)
    earlier = advance(contact, Occurrence(EventType.OPENED, at(5)))  # arrived late
    assert earlier.opened_at == at(5)


def test_a_delivery_after_the_open_leaves_the_contact_opened() -> None:
    contact = fold([Occurrence(EventType.OPENED, at(5)), Occurrence(EventType.DELIVERED, at(1))])
    assert contact.status == "opened"
    assert contact.sent_at == at(1)


@pytest.mark.parametrize("kind", [EventType.OPENED, EventType.CLICKED])
def test_machine_opens_and_clicks_change_nothing(kind: EventType) -> None:
    sent = fold([Occurrence(EventType.EMAIL_SENT, at(0))])
    assert advance(sent, Occurrence(kind, at(1), is_machine=True)) == sent


def test_a_hard_bounce_marks_the_contact_bounced_and_a_soft_one_does_not() -> None:
    sent = fold([Occurrence(EventType.EMAIL_SENT, at(0))])
    soft = advance(sent, Occurrence(EventType.BOUNCED, at(1), bounce_type="soft", reason="451"))
    assert (soft.status, soft.bounce_type, soft.error_message) == ("sent", "soft", "451")
    hard = advance(soft, Occurrence(EventType.BOUNCED, at(2), bounce_type="hard", reason="550"))
    assert (hard.status, hard.bounce_type, hard.error_message) == ("bounced", "hard", "550")


def test_engagement_proves_delivery_over_a_bounce() -> None:
    contact = fold(
        [
            Occurrence(EventType.BOUNCED, at(1), bounce_type="hard"),
            Occurrence(EventType.OPENED, at(2)),
        ]
    )
    assert contact.status == "opened"


def test_an_unsubscribe_outranks_a_reply_but_not_a_conversion() -> None:
    replied = fold([Occurrence(EventType.RESPONSE_RECEIVED, at(1))])
    unsubscribed = advance(replied, Occurrence(EventType.UNSUBSCRIBED, at(2)))
    assert unsubscribed.status == "unsubscribed"
    converted = advance(
        unsubscribed, Occurrence(EventType.CONVERTED, at(3), conversion_type="deal")
    )
    assert converted.status == "converted"


def test_a_complaint_is_also_an_unsubscribe() -> None:
    contact = fold([Occurrence(EventType.SPAM_REPORTED, at(4))])
    assert (contact.complained_at, contact.unsubscribed_at, contact.status) == (
        at(4),
        at(4),
        "unsubscribed",
    )


def test_an_auto_reply_is_not_a_response() -> None:
    contact = fold([Occurrence(EventType.AUTO_REPLIED, at(1))])
    assert contact.responded_at is None
    assert contact.status == "pending"


def test_a_reached_contact_stays_reached_after_a_bounce() -> None:
    sent = fold([Occurrence(EventType.EMAIL_SENT, at(0))])
    bounced = advance(sent, Occurrence(EventType.BOUNCED, at(1), bounce_type="hard"))
    assert contact_deltas(sent, bounced) == {"emails_bounced": 1}
    assert bounced.reached


def test_counter_deltas_of_a_first_reply() -> None:
    sent = fold([Occurrence(EventType.EMAIL_SENT, at(0))])
    replied = advance(sent, Occurrence(EventType.RESPONSE_RECEIVED, at(1)))
    assert contact_deltas(Engagement(), sent) == {"contacts_reached": 1, "emails_sent": 1}
    assert contact_deltas(sent, replied) == {"responses_received": 1}


def test_event_counters_keep_human_and_machine_apart() -> None:
    assert event_counter(Occurrence(EventType.OPENED, at(0))) == "opens_total"
    assert event_counter(Occurrence(EventType.OPENED, at(0), is_machine=True)) == "machine_opens"
    assert event_counter(Occurrence(EventType.CLICKED, at(0), is_machine=True)) == "machine_clicks"
    assert event_counter(Occurrence(EventType.DELIVERED, at(0))) is None


def test_the_recount_defines_every_counter_the_recorder_moves() -> None:
    assert set(CONTACT_COUNTER_SQL) == set(CONTACT_COUNTERS)
    assert set(EVENT_COUNTER_SQL) == set(EVENT_COUNTERS.values())
