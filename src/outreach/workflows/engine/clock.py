"""The engine's clock: every workflow decision (due, waited long enough, timed out) reads the
time from it, and SQL gets its value as a parameter, so tests move time instead of sleeping."""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class MovableClock:
    """A clock that stands still until moved (tests, the benchmark)."""

    moment: datetime = field(default_factory=lambda: datetime.now(UTC))

    def now(self) -> datetime:
        return self.moment

    def advance(self, by: timedelta) -> datetime:
        self.moment += by
        return self.moment
