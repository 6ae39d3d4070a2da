"""One campaign never blocks the rest of its organization's sending: a time zone the database
does not know (stored before zones were checked, or gone from the server's tz database) counts
as no zone, and a campaign whose planning fails is logged and retried while the others go on."""

import uuid
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from outreach.config import Settings
from outreach.db import DatabaseUrls
from outreach.sending.planner.service import plan_all
from tests.factories import (
    Engine,
    MailSink,
    Org,
    add_contacts,
    create_sender,
    failing_writes,
    outbox_rows,
    ready_campaign,
    run_job,
)

UNKNOWN_ZONE = "Mars/Olympus_Mons"  # the API refuses it: written straight into the database


def campaigns(
    client: TestClient, org: Org, as_owner: psycopg.Connection, sender: dict[str, Any], count: int
) -> list[dict[str, Any]]:
    """`count` active campaigns of two contacts each, all different people."""
    made = []
    for n in range(count):
        campaign = ready_campaign(client, org, as_owner, sender, contacts=0, activate=False)
        add_contacts(client, org, campaign["id"], 2, start=2 * n)
        answer = client.post(f"/api/v1/campaigns/{campaign['id']}/activate", headers=org.headers())
        assert answer.status_code == 200, answer.text
        made.append(campaign)
    return made


def test_a_zone_the_database_does_not_know_stops_neither_planning_nor_sending(
    client: TestClient, org: Org, as_owner: psycopg.Connection, engine: Engine, mail_sink: MailSink
) -> None:
    sender = create_sender(client, org, mail_sink.port)
    unknown = campaigns(client, org, as_owner, sender, 3)[1]
    as_owner.execute(
        "UPDATE campaigns SET timezone = %s WHERE id = %s", (UNKNOWN_ZONE, unknown["id"])
    )
    as_owner.execute(
        "UPDATE contacts SET timezone = %s WHERE org_id = %s AND email = 'person4@example.com'",
        (UNKNOWN_ZONE, org.id),
    )

    assert engine.plan(org) == 6  # the unknown zones count as none: the window in UTC
    assert engine.send(org) == 6
    assert sorted(m["To"].addresses[0].addr_spec for m in mail_sink.messages) == [
        f"person{n}@example.com" for n in range(6)
    ]


def test_a_campaign_whose_planning_fails_is_logged_and_the_others_are_planned(
    client: TestClient,
    org: Org,
    as_owner: psycopg.Connection,
    engine: Engine,
    mail_sink: MailSink,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sender = create_sender(client, org, mail_sink.port)
    first, failing, last = campaigns(client, org, as_owner, sender, 3)
    with failing_writes(as_owner, "outbox_messages", f"NEW.campaign_id = '{failing['id']}'"):
        assert engine.plan(org) == 4
    assert [len(outbox_rows(as_owner, c["id"])) for c in (first, failing, last)] == [2, 0, 2]
    assert f"planning failed for campaign {failing['id']}" in caplog.text
    assert "injected failure" in caplog.text  # the reason, with the campaign
    assert engine.plan(org) == 2  # the next run plans it


def test_the_planning_job_reports_the_campaigns_that_failed(
    client: TestClient,
    org: Org,
    as_owner: psycopg.Connection,
    mail_sink: MailSink,
    settings: Settings,
    database_urls: DatabaseUrls,
) -> None:
    sender = create_sender(client, org, mail_sink.port)
    (failing,) = campaigns(client, org, as_owner, sender, 1)
    with failing_writes(as_owner, "outbox_messages", f"NEW.campaign_id = '{failing['id']}'"):
        run = run_job(database_urls, lambda sessionmaker: plan_all(sessionmaker, settings))
    assert uuid.UUID(failing["id"]) in run.failed
    report = run.report()
    assert not report.ok
    assert f"{len(run.failed)} campaigns failed" in report.detail
