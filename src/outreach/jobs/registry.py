"""Jobs register where they are defined: each domain's `jobs.py` holds a `JOBS` list and
declares each of its jobs on it, `@JOBS.add(name, every=...)` for a job run at an interval and
`@JOBS.loop(name, idle=...)` for one that runs continuously; the scheduler collects the lists
(STYLE rule 17). A job's name is its APScheduler id or its task's, and its row in `job_runs`."""

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from outreach.config import Settings
from outreach.jobs.runs import JobReport

JobFunction = Callable[[Settings, async_sessionmaker[AsyncSession]], Awaitable[JobReport]]
Interval = Callable[[Settings], float]
Pass = Callable[[], Awaitable[JobReport]]
# Made once per process, given the event set when the process stops; answers one pass.
LoopStart = Callable[[Settings, async_sessionmaker[AsyncSession], asyncio.Event], Pass]


@dataclass(frozen=True)
class Job:
    name: str
    every: Interval  # seconds between runs, from the settings
    run: JobFunction


@dataclass(frozen=True)
class Loop:
    """A job that runs pass after pass: the next at once while a pass does something, after
    `idle` seconds (or the stop, whichever comes first) when one finds nothing to do."""

    name: str
    idle: Interval
    start: LoopStart


def seconds(value: float) -> Interval:
    """A fixed interval."""
    return lambda _settings: value


class JobList(list[Job | Loop]):
    """One domain's jobs."""

    def add(self, name: str, every: Interval) -> Callable[[JobFunction], JobFunction]:
        def register(run: JobFunction) -> JobFunction:
            self.append(Job(name, every, run))
            return run

        return register

    def loop(self, name: str, idle: Interval) -> Callable[[LoopStart], LoopStart]:
        def register(start: LoopStart) -> LoopStart:
            self.append(Loop(name, idle, start))
            return start

        return register
