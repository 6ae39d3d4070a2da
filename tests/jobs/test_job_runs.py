"""Job bookkeeping: each run is logged and recorded in job_runs, and /readyz shows them."""

import logging
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from outreach.db import DatabaseUrls
from outreach.jobs.runs import JobReport, run_recorded
from tests.factories import run_job


def job_name() -> str:
    return f"test_job_{uuid.uuid4().hex[:8]}"


def recorded(database_urls: DatabaseUrls, name: str, job: Any) -> JobReport:
    async def run(sessionmaker: async_sessionmaker[AsyncSession]) -> JobReport:
        return await run_recorded(sessionmaker, name, job)

    return run_job(database_urls, run)


def readyz_jobs(client: TestClient) -> dict[str, dict[str, Any]]:
    answer = client.get("/readyz")
    assert answer.status_code == 200, answer.text
    return {run["job"]: run for run in answer.json()["jobs"]}


def test_a_run_is_recorded_and_shown_by_readyz(
    client: TestClient, database_urls: DatabaseUrls, caplog: pytest.LogCaptureFixture
) -> None:
    name = job_name()

    async def job() -> JobReport:
        return JobReport(2, "activated 2 campaigns")

    with caplog.at_level(logging.INFO, logger="outreach.jobs.runs"):
        recorded(database_urls, name, job)
        recorded(database_urls, name, job)
    run = readyz_jobs(client)[name]
    assert run["last_outcome"] == "ok"
    assert run["last_detail"] == "activated 2 campaigns"
    assert run["last_started_at"] <= run["last_finished_at"]
    assert f"job {name}: activated 2 campaigns" in caplog.text


def test_runs_are_counted(client: TestClient, database_urls: DatabaseUrls, as_owner: Any) -> None:
    name = job_name()

    async def job() -> JobReport:
        return JobReport(0, "nothing to do")

    for _ in range(3):
        recorded(database_urls, name, job)
    row = as_owner.execute("SELECT runs FROM job_runs WHERE job = %s", (name,)).fetchone()
    assert row == (3,)


def test_a_run_that_did_nothing_logs_at_debug_only(
    database_urls: DatabaseUrls, caplog: pytest.LogCaptureFixture
) -> None:
    name = job_name()

    async def job() -> JobReport:
        return JobReport(0, "activated 0 campaigns")

    with caplog.at_level(logging.INFO, logger="outreach.jobs.runs"):
        recorded(database_urls, name, job)
    assert name not in caplog.text
    with caplog.at_level(logging.DEBUG, logger="outreach.jobs.runs"):
        recorded(database_urls, name, job)
    assert f"job {name}: activated 0 campaigns" in caplog.text


def test_a_failing_job_is_recorded_as_failed_and_the_service_stays_ready(
    client: TestClient, database_urls: DatabaseUrls, caplog: pytest.LogCaptureFixture
) -> None:
    name = job_name()

    async def job() -> JobReport:
        raise RuntimeError("the relay is down\nsecond line")

    with caplog.at_level(logging.ERROR, logger="outreach.jobs.runs"):
        report = recorded(database_urls, name, job)
    assert not report.ok
    run = readyz_jobs(client)[name]  # readyz answers 200 all the same
    assert run["last_outcome"] == "failed"
    assert run["last_detail"] == "RuntimeError: the relay is down second line"
    assert f"job {name} failed" in caplog.text


def test_a_job_reporting_partial_failure_is_recorded_as_failed(
    client: TestClient, database_urls: DatabaseUrls
) -> None:
    name = job_name()

    async def job() -> JobReport:
        return JobReport(1, "activated 1 campaigns; 1 organizations failed", ok=False)

    recorded(database_urls, name, job)
    assert readyz_jobs(client)[name]["last_outcome"] == "failed"
