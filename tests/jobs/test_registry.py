"""Jobs register where they are defined (STYLE rule 17): the scheduler collects each domain's
jobs and adds them under their names, which are the names of the README's job table."""

import asyncio
import logging
import re
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker

from outreach.config import Settings
from outreach.jobs.registry import Job, Loop
from outreach.scheduler import JOBS, _scheduler

README = Path(__file__).parents[2] / "README.md"


def readme_jobs() -> set[str]:
    """The names in the first column of the README's job table."""
    text = README.read_text()
    table = text[text.index("| job | every |") :].split("\n\n")[0]
    return set(re.findall(r"^\| `(\w+)` \|", table, re.MULTILINE))


def test_every_job_has_a_unique_name_in_the_readme_table() -> None:
    names = [job.name for job in JOBS]
    assert len(names) == len(set(names)), names
    assert readme_jobs() == set(names)


def test_the_scheduler_adds_each_job_under_its_name(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    async def added() -> dict[str, str]:
        scheduler = _scheduler(settings.model_copy(update={"run_jobs": True}), async_sessionmaker())
        scheduler.start(paused=True)
        try:
            return {job.id: job.name for job in scheduler.get_jobs()}
        finally:
            scheduler.shutdown(wait=False)

    with caplog.at_level(logging.INFO, logger="apscheduler"):
        jobs = asyncio.run(added())
    assert set(jobs) == {job.name for job in JOBS if isinstance(job, Job)}
    assert all(name == job_id for job_id, name in jobs.items()), jobs
    for name in jobs:
        assert f'Added job "{name}"' in caplog.text


def test_the_send_loop_is_declared_a_continuous_job_idle_for_the_poll_interval(
    settings: Settings,
) -> None:
    [loop] = [job for job in JOBS if isinstance(job, Loop) and job.name == "send_loop"]
    assert loop.idle(settings) == settings.send_poll_seconds


def test_the_workflow_engine_is_declared_a_continuous_job_idle_for_a_second(
    settings: Settings,
) -> None:
    [loop] = [job for job in JOBS if isinstance(job, Loop) and job.name == "workflow_engine"]
    assert loop.idle(settings) == 1.0
