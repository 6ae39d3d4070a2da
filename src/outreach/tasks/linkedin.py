"""LinkedIn's limits for a person's account: 100 connection requests a week, 50 InMails a month,
15 minutes between two messages. Each LinkedIn task (the planner's and the sequences') gets the
first slot these allow, counting the owner's tasks already planned; a slot too far ahead is not
planned yet."""

import bisect
from collections.abc import Iterable
from datetime import datetime, timedelta

SPACING = timedelta(minutes=15)
WINDOWS = {
    "connection_request": (timedelta(days=7), 100),
    "inmail": (timedelta(days=30), 50),
}
HORIZON = timedelta(hours=24)


class LinkedInSlots:
    def __init__(self, planned: Iterable[tuple[str, datetime]], now: datetime) -> None:
        self.now = now
        self.all: list[datetime] = []
        self.by_kind: dict[str, list[datetime]] = {kind: [] for kind in WINDOWS}
        for kind, due_at in planned:
            self._add(kind, due_at)

    def _add(self, kind: str, due_at: datetime) -> None:
        bisect.insort(self.all, due_at)
        bisect.insort(self.by_kind[kind], due_at)

    def take(self, kind: str) -> datetime | None:
        """The next allowed moment for a `kind` message within the horizon, reserved; or None."""
        period, limit = WINDOWS[kind]
        dues = self.by_kind[kind]
        at = self.now if not self.all else max(self.now, self.all[-1] + SPACING)
        while True:
            in_window = len(dues) - bisect.bisect_right(dues, at - period)
            if in_window < limit:
                break
            # wait until the oldest message of the window leaves it
            at = dues[len(dues) - in_window] + period
        if at > self.now + HORIZON:
            return None
        self._add(kind, at)
        return at
