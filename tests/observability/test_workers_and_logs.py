"""`outreach serve --workers 2` as real processes: /metrics adds up both workers whichever one
answers, keeps a killed worker's counters and drops its gauges; JSON log lines carry the
request id, the organization and the route; a job's lines carry its name."""

import asyncio
import io
import json
import logging
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from outreach.db import DatabaseUrls
from outreach.jobs.runs import JobReport, run_recorded
from outreach.observability.logs import ContextFields, json_formatter
from tests.factories import Org, eventually, run_job
from tests.served import Served, environment, serve

ROUTE = "/api/v1/campaigns"


def healthz_count(url: str) -> float:
    text = httpx.get(f"{url}/metrics", timeout=10).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "outreach_http_requests_total"
        and sample.labels == {"method": "GET", "route": "/healthz", "status": "200"}
    )


def json_lines(served: Served) -> list[dict[str, Any]]:
    lines = []
    for line in served.log_lines():
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines


@pytest.fixture(scope="module")
def two_workers(
    database_urls: DatabaseUrls, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Served, Path]]:
    folder = tmp_path_factory.mktemp("workers")
    metrics = folder / "metrics"
    env = environment(
        database_urls,
        folder / "data",
        OUTREACH_LOG_FORMAT="json",
        OUTREACH_RUN_JOBS="false",
        OUTREACH_SMTP_URL="smtp://127.0.0.1:25",  # no mail catcher: nothing is sent here
        PROMETHEUS_MULTIPROC_DIR=str(metrics),
    )
    with serve(env, folder, "--workers", "2") as served:
        yield served, metrics


def test_metrics_add_up_every_worker_and_keep_a_dead_ones_counts(
    two_workers: tuple[Served, Path],
) -> None:
    served, folder = two_workers
    before = healthz_count(served.url)
    for _ in range(30):  # a connection each: the workers take turns accepting them
        with httpx.Client() as fresh:
            assert fresh.get(f"{served.url}/healthz").status_code == 200
    assert eventually(
        lambda: (
            {
                line["process"] for line in json_lines(served) if line.get("route") == "/healthz"
            }.__len__()
            == 2
        ),
        seconds=5,
    ), "both workers answered"
    workers = {line["process"] for line in json_lines(served) if line.get("route") == "/healthz"}
    # Whichever worker answers the scrape, it counts both workers' requests.
    assert {healthz_count(served.url) - before for _ in range(6)} == {30.0}

    victim = min(workers)
    assert list(folder.glob(f"gauge_livesum_{victim}.db")), "the event queue gauge of a worker"
    os.kill(victim, signal.SIGKILL)
    assert eventually(lambda: _gone(victim), seconds=10)
    # uvicorn starts another worker; the counts of the one that died still count.
    assert eventually(lambda: healthz_count(served.url) - before >= 30, seconds=20)
    assert not list(folder.glob(f"gauge_livesum_{victim}.db")), "its gauge is swept"
    assert list(folder.glob(f"counter_{victim}.db")), "its counters stay"


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_json_log_lines_carry_the_request_id_the_org_and_the_route(
    two_workers: tuple[Served, Path], org: Org
) -> None:
    served, _ = two_workers
    answer = httpx.get(
        f"{served.url}{ROUTE}", headers={**org.headers(), "X-Request-ID": "observe-me-1"}
    )
    assert answer.status_code == 200, answer.text

    def access_line() -> dict[str, Any] | None:
        found = [line for line in json_lines(served) if line.get("request_id") == "observe-me-1"]
        return found[0] if found else None

    assert eventually(lambda: access_line() is not None, seconds=5)
    line = access_line()
    assert line is not None
    assert line["org"] == str(org.id)
    assert line["route"] == ROUTE
    assert line["logger"] == "outreach.access"
    assert line["status"] == 200
    assert line["level"] == "INFO"
    assert line["timestamp"].startswith(time.strftime("%Y-", time.gmtime()))
    # Every line is a JSON object: uvicorn's own lines too.
    assert [line for line in served.log_lines() if line.startswith("{")]
    started = [line for line in json_lines(served) if line["logger"].startswith("uvicorn")]
    assert started, "uvicorn's lines go through the same formatter"


def test_a_jobs_log_lines_carry_its_name(database_urls: DatabaseUrls) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(json_formatter())
    handler.addFilter(ContextFields())
    logger = logging.getLogger("outreach.jobs.runs")
    logger.addHandler(handler)
    previous = logger.level
    logger.setLevel(logging.INFO)

    async def job() -> JobReport:
        await asyncio.sleep(0)
        return JobReport(2, "sent 2 messages")

    try:
        run_job(database_urls, lambda sessionmaker: run_recorded(sessionmaker, "log_test_job", job))
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)
    (line,) = [json.loads(text) for text in stream.getvalue().splitlines()]
    assert line["job"] == "log_test_job"
    assert line["message"] == "job log_test_job: sent 2 messages"
    assert "timestamp" in line


def test_tracking_tokens_stay_out_of_the_access_log(two_workers: tuple[Served, Path]) -> None:
    """A tracking link's token names a contact, and the unsubscribe page's unsubscribes them:
    the pixel and the click are not access-logged (they are events, and counted), the other
    tracking routes are logged by their template."""
    served, _ = two_workers
    token = "a-token-no-log-may-hold"
    httpx.get(f"{served.url}/t/o/{token}.gif")
    httpx.get(f"{served.url}/t/c/{token}")
    httpx.get(f"{served.url}/t/u/{token}", headers={"X-Request-ID": "unsubscribe-page-1"})

    def page_line() -> list[dict[str, Any]]:
        return [
            line for line in json_lines(served) if line.get("request_id") == "unsubscribe-page-1"
        ]

    assert eventually(lambda: page_line() != [], seconds=5)
    assert "GET /t/u/{token} 404" in page_line()[0]["message"]
    assert [line for line in json_lines(served) if token in json.dumps(line)] == []
