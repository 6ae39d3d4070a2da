"""The scheduled trigger's cron: five fields, read in the campaign's time zone."""

from datetime import UTC, datetime

import pytest

from outreach.workflows.graph.cron import is_valid, last_fire


@pytest.mark.parametrize(
    ("cron", "valid"),
    [
        ("0 9 * * 1-5", True),
        ("*/15 * * * *", True),
        ("0 9 * * * 30", False),
        ("61 * * * *", False),
        ("soon", False),
    ],
)
def test_a_cron_has_five_fields_croniter_can_read(cron: str, valid: bool) -> None:
    assert is_valid(cron) is valid


def test_the_last_fire_is_at_or_before_now_in_the_campaigns_time_zone() -> None:
    nine_in_paris = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)  # UTC+1 in winter
    assert last_fire("0 9 * * *", "Europe/Paris", nine_in_paris) == nine_in_paris
    a_minute_before = datetime(2026, 11, 30, 7, 59, 59, tzinfo=UTC)
    assert last_fire("0 9 * * *", "Europe/Paris", a_minute_before) == datetime(
        2026, 11, 29, 8, 0, tzinfo=UTC
    )
    assert last_fire("0 9 * * *", "UTC", nine_in_paris) == datetime(2026, 11, 29, 9, 0, tzinfo=UTC)


def test_the_weekdays_are_crons_own_monday_1_to_sunday_0_or_7() -> None:
    sunday_noon = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    nine = sunday_noon.replace(hour=9)
    assert last_fire("0 9 * * 0", "UTC", sunday_noon) == nine
    assert last_fire("0 9 * * 7", "UTC", sunday_noon) == nine
    assert last_fire("0 9 * * 1-5", "UTC", sunday_noon) == datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
