"""Sender rules that need no database: the daily allowance while a sender warms up."""

from datetime import date


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
