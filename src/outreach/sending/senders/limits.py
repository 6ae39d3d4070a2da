"""How many messages a sender may send now: hourly and daily limits, warm-up, spacing, jitter."""

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from outreach.models import Sender


def effective_daily_limit(
    daily_limit: int,
    warmup_start_per_day: int | None,
    warmup_increment_per_day: int,
    warmup_started_on: date | None,
    today: date,
) -> int:
    """start + increment for each day since warm-up began, never above daily_limit; without
    warm-up, daily_limit. Before its first day a warm-up allows its start figure."""
    if warmup_start_per_day is None:
        return daily_limit
    days = max(0, (today - warmup_started_on).days) if warmup_started_on else 0
    return min(daily_limit, warmup_start_per_day + warmup_increment_per_day * days)


@dataclass(frozen=True)
class SenderLimits:
    hourly_limit: int
    daily_limit: int
    min_spacing_seconds: int
    warmup_start_per_day: int | None = None
    warmup_increment_per_day: int = 0
    warmup_started_on: date | None = None

    def daily_limit_on(self, today: date) -> int:
        return effective_daily_limit(
            self.daily_limit,
            self.warmup_start_per_day,
            self.warmup_increment_per_day,
            self.warmup_started_on,
            today,
        )

    def allowance(self, *, used_last_hour: int, used_last_day: int, today: date, batch: int) -> int:
        """Messages that may be claimed now; with a spacing, one at a time."""
        room = min(
            self.hourly_limit - used_last_hour, self.daily_limit_on(today) - used_last_day, batch
        )
        if self.min_spacing_seconds > 0:
            room = min(room, 1)
        return max(0, room)

    def next_send_at(self, now: datetime, jitter_fraction: float, rng: random.Random) -> datetime:
        """The spacing plus a random extra of up to `jitter_fraction` of it, so sends do not
        tick like a clock."""
        spacing = self.min_spacing_seconds * (1 + rng.uniform(0, jitter_fraction))
        return now + timedelta(seconds=spacing)


def limits_of(sender: Sender) -> SenderLimits:
    return SenderLimits(
        hourly_limit=sender.hourly_limit,
        daily_limit=sender.daily_limit,
        min_spacing_seconds=sender.min_spacing_seconds,
        warmup_start_per_day=sender.warmup_start_per_day,
        warmup_increment_per_day=sender.warmup_increment_per_day,
        warmup_started_on=sender.warmup_started_on,
    )


# Soft failures are retried after these delays: three retries, the last 48 hours after the first
# attempt, then the message counts as bounced.
RETRY_DELAYS = (timedelta(hours=2), timedelta(hours=12), timedelta(hours=34))
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
