"""GET /metrics over HTTP against the app, read with prometheus_client's own parser: the
requests, hits, events, sends and job runs the test makes move their series, labelled by
route template (never the raw path), and the database facts follow the outbox."""

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from outreach.config import Settings
from outreach.db import DatabaseUrls
from outreach.jobs.runs import JobReport, run_recorded
from outreach.main import create_app
from outreach.tracking.tokens import TokenKind, TrackingSigner, TrackingToken
from tests.factories import (
    Engine,
    MailSink,
    Org,
    add_contacts,
    create_campaign,
    create_sender,
    eventually,
    ready_campaign,
    run_job,
)

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
METRICS_TOKEN = "a-metrics-token-for-the-test"


def scrape(client: TestClient, **headers: str) -> Samples:
    answer = client.get("/metrics", headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def series_of(samples: Samples, name: str) -> list[dict[str, str]]:
    return [dict(labels) for sample_name, labels in samples if sample_name == name]


@pytest.fixture(scope="module")
def fresh_facts(settings: Settings, database_urls: DatabaseUrls) -> Iterator[TestClient]:
    """An app whose database facts are read again a second after the last reading, and that
    asks for a metrics token."""
    changed = settings.model_copy(update={"metrics_db_seconds": 1, "metrics_token": METRICS_TOKEN})
    with TestClient(create_app(changed, database_urls)) as client:
        yield client


def test_requests_count_by_route_template_and_status(client: TestClient, org: Org) -> None:
    first, second = create_campaign(client, org), create_campaign(client, org)
    route = "/api/v1/campaigns/{campaign_id}"
    before = scrape(client)
    for campaign in (first, second):
        assert client.get(f"/api/v1/campaigns/{campaign['id']}", headers=org.headers()).is_success
    missing = client.get(f"/api/v1/campaigns/{uuid.uuid4()}", headers=org.headers())
    assert missing.status_code == 404
    after = scrape(client)

    counted = "outreach_http_requests_total"
    assert (
        value(after, counted, method="GET", route=route, status="200")
        - value(before, counted, method="GET", route=route, status="200")
        == 2
    )
    assert (
        value(after, counted, method="GET", route=route, status="404")
        - value(before, counted, method="GET", route=route, status="404")
        == 1
    )
    timed = "outreach_http_request_duration_seconds_count"
    assert (
        value(after, timed, method="GET", route=route)
        - value(before, timed, method="GET", route=route)
        == 3
    )
    assert not [s for s in series_of(after, counted) if first["id"] in s["route"]]


def test_paths_and_methods_a_client_makes_up_make_no_new_series(client: TestClient) -> None:
    before = scrape(client)
    for n in range(3):
        assert client.get(f"/no/such/path/{n}").status_code == 404
    assert client.request("BREW", "/healthz").status_code == 405
    after = scrape(client)

    counted = "outreach_http_requests_total"
    unmatched = {"method": "GET", "route": "unmatched", "status": "404"}
    assert value(after, counted, **unmatched) - value(before, counted, **unmatched) == 3
    assert value(after, counted, method="other", route="/healthz", status="405") == 1 + value(
        before, counted, method="other", route="/healthz", status="405"
    )
    routes = {labels["route"] for labels in series_of(after, counted)}
    assert not [route for route in routes if "no/such" in route]
    assert "BREW" not in {labels["method"] for labels in series_of(after, counted)}


def test_pixels_count_as_tracking_hits_and_their_events_as_written(
    client: TestClient, org: Org
) -> None:
    campaign = create_campaign(client, org)
    member = add_contacts(client, org, campaign["id"], 1)["results"][0]["campaign_contact_id"]
    signer: TrackingSigner = client.app.state.tracking_signer  # type: ignore[attr-defined]
    opened = TrackingToken(TokenKind.OPEN, org.id, uuid.UUID(campaign["id"]), uuid.UUID(member))
    before = scrape(client)
    assert client.get(f"/t/o/{signer.sign(opened)}.gif").status_code == 200
    assert client.get("/t/o/not-a-token.gif").status_code == 200

    hits = "outreach_tracking_hits_total"
    written = "outreach_event_writer_written_total"
    after = scrape(client)
    assert (
        value(after, hits, kind="open", token="valid")
        - value(before, hits, kind="open", token="valid")
        == 1
    )
    assert (
        value(after, hits, kind="open", token="invalid")
        - value(before, hits, kind="open", token="invalid")
        == 1
    )
    pixel = {"method": "GET", "route": "/t/o/{token}.gif", "status": "200"}
    counted = "outreach_http_requests_total"
    assert value(after, counted, **pixel) - value(before, counted, **pixel) == 2
    assert eventually(
        lambda: (
            value(scrape(client), written, type="opened")
            == value(before, written, type="opened") + 1
        )
    )
    assert ("outreach_event_writer_queue", frozenset()) in after


def test_a_job_run_is_counted_and_timed_by_job(
    client: TestClient, database_urls: DatabaseUrls
) -> None:
    async def job() -> JobReport:
        await asyncio.sleep(0.01)
        return JobReport(1, "did one thing")

    before = scrape(client)
    run_job(database_urls, lambda sessionmaker: run_recorded(sessionmaker, "metrics_test_job", job))
    after = scrape(client)
    assert value(
        after, "outreach_job_runs_total", job="metrics_test_job", outcome="ok"
    ) == 1 + value(before, "outreach_job_runs_total", job="metrics_test_job", outcome="ok")
    assert value(after, "outreach_job_duration_seconds_sum", job="metrics_test_job") >= 0.01


def test_the_outbox_depth_and_the_sends_follow_what_the_database_holds(
    fresh_facts: TestClient,
    org: Org,
    as_owner: psycopg.Connection,
    engine: Engine,
    mail_sink: MailSink,
) -> None:
    client = fresh_facts
    auth = {"Authorization": f"Bearer {METRICS_TOKEN}"}
    sender = create_sender(client, org, mail_sink.port)
    ready_campaign(client, org, as_owner, sender, contacts=3)
    before = scrape(client, **auth)
    assert value(before, "outreach_db_facts_up") == 1

    assert engine.plan(org) == 3
    # The facts are read again once a second has passed since the last reading.
    assert eventually(
        lambda: (
            value(scrape(client, **auth), "outreach_outbox_messages", status="queued")
            == value(before, "outreach_outbox_messages", status="queued") + 3
        ),
        seconds=5,
    )
    planned = scrape(client, **auth)
    assert value(planned, "outreach_outbox_due_messages") >= 3
    assert value(planned, "outreach_outbox_due_organizations") >= 1
    assert value(planned, "outreach_outbox_lag_seconds") >= 0
    assert value(planned, "outreach_db_facts_organizations", scope="counted") >= 1

    sent = {"outcome": "sent", "channel": "email", "transport": "smtp"}
    assert engine.send(org) == 3
    after_send = scrape(client, **auth)
    assert value(after_send, "outreach_sends_total", **sent) == 3 + value(
        planned, "outreach_sends_total", **sent
    )
    assert eventually(
        lambda: (
            value(scrape(client, **auth), "outreach_outbox_messages", status="queued")
            == value(before, "outreach_outbox_messages", status="queued")
        ),
        seconds=5,
    )


@pytest.mark.parametrize("given", [None, "Bearer not-the-token", "Basic a-metrics-token"])
def test_with_a_metrics_token_metrics_are_refused_without_it(
    fresh_facts: TestClient, given: str | None
) -> None:
    headers: dict[str, Any] = {"Authorization": given} if given else {}
    answer = fresh_facts.get("/metrics", headers=headers)
    assert answer.status_code == 401
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["code"] == "UNAUTHORIZED"


def test_metrics_turned_off_answer_404(settings: Settings, database_urls: DatabaseUrls) -> None:
    with TestClient(
        create_app(settings.model_copy(update={"metrics": False}), database_urls)
    ) as off:
        assert off.get("/metrics").status_code == 404
