"""The scheduled trigger's `cron`: five fields (minute hour day month weekday, 0 or 7 Sunday),
read in the campaign's time zone, so that `0 9 * * 1-5` is nine in the morning where the campaign
runs. One reader (croniter) for the graph's validation and the trigger job alike."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter

FIELDS = 5


def is_valid(cron: str) -> bool:
    """Five fields croniter can read (no seconds field: the schedule job runs every minute; no
    `@daily` names)."""
    return len(cron.split()) == FIELDS and bool(croniter.is_valid(cron))


def last_fire(cron: str, timezone: str, now: datetime) -> datetime:
    """The latest time at or before `now` at which the schedule fired."""
    local = now.astimezone(ZoneInfo(timezone)).replace(second=0, microsecond=0)
    # get_prev answers a time strictly before its start: start at the next minute, so that a
    # fire in the current minute counts.
    fired: datetime = croniter(cron, local + timedelta(minutes=1)).get_prev(datetime)
    return fired
