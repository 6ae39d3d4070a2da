"""When waits end: plain durations, business days in the campaign's sending window, and the
return date of an out-of-office answer."""

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from outreach.workflows.engine.timing import Window, return_moment, wait_end
from outreach.workflows.graph.schemas import DurationWait, EventWait, TimeSpan

PARIS = ZoneInfo("Europe/Paris")
WEEKDAYS = Window(PARIS, [1, 2, 3, 4, 5], time(9), time(17))
FRIDAY_10 = datetime(2026, 11, 27, 10, 0, tzinfo=PARIS)


def days(value: int, business: bool) -> DurationWait:
    return DurationWait(type="duration", value=value, unit="days", business_days=business)


def test_a_business_day_wait_counts_sending_days_only() -> None:
    assert wait_end(days(1, True), FRIDAY_10, WEEKDAYS) == datetime(2026, 11, 30, 10, tzinfo=PARIS)
    assert wait_end(days(3, True), FRIDAY_10, WEEKDAYS) == datetime(2026, 12, 2, 10, tzinfo=PARIS)


def test_a_business_wait_that_ends_outside_the_window_ends_at_its_next_opening() -> None:
    late_friday = datetime(2026, 11, 27, 16, 30, tzinfo=PARIS)
    two_hours = DurationWait(type="duration", value=2, unit="hours", business_days=True)
    assert wait_end(two_hours, late_friday, WEEKDAYS) == datetime(2026, 11, 30, 9, tzinfo=PARIS)


def test_a_plain_wait_ignores_the_sending_window() -> None:
    assert wait_end(days(1, False), FRIDAY_10, WEEKDAYS) == datetime(2026, 11, 28, 10, tzinfo=PARIS)


def test_an_event_wait_times_out_after_its_timeout_in_business_days() -> None:
    on_click = EventWait(
        type="until_event",
        event="clicked",
        timeout=TimeSpan(value=1, unit="days"),
        business_days=True,
    )
    assert wait_end(on_click, FRIDAY_10, WEEKDAYS) == datetime(2026, 11, 30, 10, tzinfo=PARIS)


def test_a_return_date_is_the_start_of_that_day_in_the_campaign_zone() -> None:
    assert return_moment({"return_date": "2026-12-07"}, PARIS) == datetime(
        2026, 12, 7, tzinfo=PARIS
    )
    assert return_moment({"return_date": "2026-12-07T08:00:00+00:00"}, PARIS) == datetime(
        2026, 12, 7, 8, tzinfo=UTC
    )


def test_an_unreadable_return_date_gives_none() -> None:
    assert return_moment({"return_date": "next Monday"}, PARIS) is None
    assert return_moment({}, PARIS) is None
