"""When a wait ends: a plain duration, or one counted in the campaign's sending days that ends
inside its sending window (`business_days`); and when an out-of-office pause ends."""

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from outreach.workflows.graph.schemas import DurationWait, EventWait

UTC_ZONE = ZoneInfo("UTC")


def zone_of(name: str | None) -> ZoneInfo:
    """The zone of that name; UTC for none, or for one Python's tz database does not know."""
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return UTC_ZONE


@dataclass(frozen=True)
class Window:
    """A campaign's sending window: ISO weekdays (1 = Monday), local start and end times."""

    zone: ZoneInfo
    days: Collection[int]
    start: time
    end: time

    def next_open(self, at: datetime) -> datetime:
        """`at` when it is inside the window, else the window's next opening (the SQL function
        next_in_window of migration 0004_sending, in Python)."""
        local = at.astimezone(self.zone)
        for offset in range(8):
            day = local.date() + timedelta(days=offset)
            if day.isoweekday() not in self.days:
                continue
            if offset > 0 or local.time() < self.start:
                return datetime.combine(day, self.start, self.zone)
            if local.time() < self.end:
                return at
        return at

    def add_days(self, at: datetime, days: int) -> datetime:
        """`days` sending days after `at`, at the same local time."""
        local = at.astimezone(self.zone)
        day, counted = local.date(), 0
        for _ in range(days * 7 + 7):  # a window has at least one day a week
            if counted == days:
                break
            day += timedelta(days=1)
            if day.isoweekday() in self.days:
                counted += 1
        return datetime.combine(day, local.timetz().replace(tzinfo=None), self.zone)


def wait_end(config: DurationWait | EventWait, start: datetime, window: Window) -> datetime:
    """When a wait that starts at `start` ends (an event wait: when it times out)."""
    if isinstance(config, DurationWait):
        value, unit, seconds = config.value, config.unit, config.seconds
    else:
        value, unit, seconds = config.timeout.value, config.timeout.unit, config.timeout.seconds
    if not config.business_days or not window.days:
        return start + timedelta(seconds=seconds)
    if unit == "days":
        return window.next_open(window.add_days(start, value))
    return window.next_open(start + timedelta(seconds=seconds))


def return_moment(data: dict[str, Any], zone: ZoneInfo) -> datetime | None:
    """The return date an auto-reply states (`return_date` in its event data: a date, the
    start of that day in `zone`, or a moment), or None when there is none to read."""
    given = data.get("return_date")
    if not isinstance(given, str):
        return None
    try:
        if len(given) <= 10:
            return datetime.combine(date.fromisoformat(given), time(), zone)
        moment = datetime.fromisoformat(given)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)
