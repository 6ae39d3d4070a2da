"""Jobs register where they are defined: each domain's `jobs.py` holds a `JOBS` list and
declares each of its jobs on it with `@JOBS.add(name, every=...)`; the scheduler collects the
lists (STYLE rule 17). A job's name is its APScheduler id and its row in `job_runs`."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from outreach.config import Settings
from outreach.jobs.runs import JobReport

JobFunction = Callable[[Settings, async_sessionmaker[AsyncSession]], Awaitable[JobReport]]
Interval = Callable[[Settings], float]


@dataclass(frozen=True)
class Job:
    name: str
    every: Interval  # seconds between runs, from the settings
    run: JobFunction


def seconds(value: float) -> Interval:
    """A fixed interval."""
    return lambda _settings: value


class JobList(list[Job]):
    """One domain's jobs."""

    def add(self, name: str, every: Interval) -> Callable[[JobFunction], JobFunction]:
        def register(run: JobFunction) -> JobFunction:
            self.append(Job(name, every, run))
            return run

        return register
