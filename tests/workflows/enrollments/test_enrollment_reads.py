"""GET /campaigns/{id}/enrollments and /enrollments/{id}: the walks in pages, filtered, and one
walk with its step log."""

from datetime import timedelta

import psycopg
from fastapi.testclient import TestClient

from outreach.auth.tokens import Role
from outreach.db import DatabaseUrls
from tests.factories import (
    T0,
    Org,
    enrollment_row,
    insert_row,
    listed,
    ok,
    triggered_campaign,
)


def test_enrollments_are_listed_newest_first_in_pages_and_filtered(
    client: TestClient, org: Org, database_urls: DatabaseUrls, as_owner: psycopg.Connection
) -> None:
    people = [{"email": f"p{i}@example.com"} for i in range(3)]
    campaign = triggered_campaign(
        client, org, database_urls, as_owner, {"type": "manual"}, contacts=people
    )
    ids = [
        enrollment_row(as_owner, org, campaign.id, member, node=node)
        for member, node in zip(campaign.members, ("start", "message", "message"), strict=True)
    ]
    as_owner.execute(
        "UPDATE campaign_workflow_states SET workflow_status = 'exited', exit_reason = 'replied' "
        "WHERE id = %s",
        (ids[2],),
    )
    path = f"/api/v1/campaigns/{campaign.id}/enrollments"

    first = listed(client, org, path, limit=2)
    second = listed(client, org, path, limit=2, cursor=first["next_cursor"])
    assert [e["id"] for e in first["items"] + second["items"]] == ids[::-1]
    assert second["next_cursor"] is None
    assert first["items"][0]["contact_id"] == campaign.members[2]
    assert first["items"][0]["exit_reason"] == "replied"

    waiting = listed(client, org, path, current_node_id="message", workflow_status="running")
    assert [e["id"] for e in waiting["items"]] == [ids[1]]
    both = listed(client, org, path, workflow_status=["running", "exited"])
    assert len(both["items"]) == 3
    bad = client.get(path, params={"workflow_status": "asleep"}, headers=org.headers())
    assert bad.status_code == 422


def test_one_enrollment_shows_its_latest_steps_oldest_first(
    client: TestClient, org: Org, database_urls: DatabaseUrls, as_owner: psycopg.Connection
) -> None:
    campaign = triggered_campaign(
        client,
        org,
        database_urls,
        as_owner,
        {"type": "manual"},
        contacts=[{"email": "ada@example.com"}],
    )
    member = campaign.members[0]
    enrollment = enrollment_row(as_owner, org, campaign.id, member)
    as_owner.execute(
        "INSERT INTO engagement_events (org_id, campaign_id, campaign_contact_id, event_type, "
        "event_data, node_id, enrollment_id, event_timestamp, created_at) "
        "SELECT %s, %s, %s, 'wait_started', jsonb_build_object('n', n), 'wait', %s, "
        "%s + n * interval '1 minute', %s + n * interval '1 minute' "
        "FROM generate_series(1, 502) AS n",
        (org.id, campaign.id, member, enrollment, T0, T0),
    )
    insert_row(  # another enrollment's step is not in this log
        as_owner,
        "engagement_events",
        org,
        campaign_id=campaign.id,
        campaign_contact_id=member,
        event_type="email_sent",
    )

    detail = ok(
        client.get(
            f"/api/v1/campaigns/{campaign.id}/enrollments/{enrollment}",
            headers=org.headers(Role.VIEWER),
        )
    )

    assert detail["id"] == enrollment
    assert detail["steps_truncated"] is True
    steps = detail["steps"]
    assert len(steps) == 500
    assert [s["event_data"]["n"] for s in steps[:2]] == [3, 4]
    assert steps[-1]["event_data"]["n"] == 502
    assert steps[-1]["node_id"] == "wait"
    assert steps[-1]["event_timestamp"].startswith(
        (T0 + timedelta(minutes=502)).strftime("%Y-%m-%dT%H:%M")
    )


def test_an_enrollment_of_another_campaign_is_not_found(
    client: TestClient, org: Org, database_urls: DatabaseUrls, as_owner: psycopg.Connection
) -> None:
    one = triggered_campaign(
        client,
        org,
        database_urls,
        as_owner,
        {"type": "manual"},
        contacts=[{"email": "ada@example.com"}],
    )
    other = triggered_campaign(client, org, database_urls, as_owner, {"type": "manual"})
    enrollment = enrollment_row(as_owner, org, one.id, one.members[0])
    answer = client.get(
        f"/api/v1/campaigns/{other.id}/enrollments/{enrollment}", headers=org.headers()
    )
    assert (answer.status_code, answer.json()["code"]) == (404, "NOT_FOUND")
