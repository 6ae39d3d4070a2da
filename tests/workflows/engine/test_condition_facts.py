"""The facts conditions read, loaded from the database for a batch of campaign contacts."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from fastapi.testclient import TestClient

from outreach.db import DatabaseUrls
from outreach.workflows.engine.conditions import Facts
from outreach.workflows.engine.facts import EVENTS_KEPT, facts_for
from outreach.workflows.graph.default import default_canvas
from tests.factories import (
    Org,
    create_campaign,
    enrollment_row,
    in_org,
    insert_row,
    post_contacts,
    publish_canvas,
)

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def members(client: TestClient, org: Org, rows: list[dict[str, Any]], **campaign: Any) -> list[str]:
    campaign_id = create_campaign(client, org, **campaign)["id"]
    answer = post_contacts(client, org, campaign_id, rows)
    assert answer.status_code == 200, answer.text
    return [campaign_id, *(row["campaign_contact_id"] for row in answer.json()["results"])]


def load(
    database_urls: DatabaseUrls, org: Org, campaign_id: str, ids: list[str]
) -> dict[uuid.UUID, Facts]:
    return in_org(
        database_urls,
        org,
        lambda session: facts_for(
            session, uuid.UUID(campaign_id), [uuid.UUID(i) for i in ids], NOW
        ),
    )


def event(
    as_owner: psycopg.Connection,
    org: Org,
    campaign_id: str,
    member: str,
    event_type: str,
    at: datetime,
    *,
    machine: bool = False,
) -> None:
    insert_row(
        as_owner,
        "engagement_events",
        org,
        campaign_id=campaign_id,
        campaign_contact_id=member,
        event_type=event_type,
        event_timestamp=at,
        is_machine=machine,
    )


def test_facts_hold_the_persons_fields_custom_fields_tags_and_score(
    client: TestClient, org: Org, database_urls: DatabaseUrls, as_owner: psycopg.Connection
) -> None:
    person = {
        "email": "ada@example.com",
        "first_name": "Ada",
        "title": "CTO",
        "tags": ["hot", "cto"],
        "custom_fields": {"team": "data", "employees": 120},
    }
    campaign_id, member = members(client, org, [person])
    as_owner.execute(
        "UPDATE contacts SET score = 42 WHERE email = 'ada@example.com' AND org_id = %s", (org.id,)
    )
    facts = load(database_urls, org, campaign_id, [member])[uuid.UUID(member)]
    assert facts.fields["first_name"] == "Ada"
    assert facts.fields["title"] == "CTO"
    assert facts.fields["phone"] is None
    assert facts.fields["custom.team"] == "data"
    assert facts.fields["custom.employees"] == 120
    assert facts.tags == {"hot", "cto"}
    assert facts.score == 42
    assert facts.now == NOW


def test_the_zone_is_the_contacts_else_the_campaigns_else_utc(
    client: TestClient, org: Org, database_urls: DatabaseUrls
) -> None:
    rows = [
        {"email": "tokyo@example.com", "timezone": "Asia/Tokyo"},
        {"email": "nowhere@example.com"},
    ]
    campaign_id, tokyo, nowhere = members(client, org, rows, timezone="Europe/Paris")
    facts = load(database_urls, org, campaign_id, [tokyo, nowhere])
    assert str(facts[uuid.UUID(tokyo)].zone) == "Asia/Tokyo"
    assert str(facts[uuid.UUID(nowhere)].zone) == "Europe/Paris"
    plain_campaign, plain = members(client, org, [{"email": "utc@example.com"}])
    assert str(load(database_urls, org, plain_campaign, [plain])[uuid.UUID(plain)].zone) == "UTC"


def test_events_are_the_human_ones_of_this_campaign_by_condition_name_newest_first(
    client: TestClient, org: Org, database_urls: DatabaseUrls, as_owner: psycopg.Connection
) -> None:
    campaign_id, member = members(client, org, [{"email": "a@example.com"}])
    other_campaign, elsewhere = members(client, org, [{"email": "a@example.com"}])
    hour = timedelta(hours=1)
    event(as_owner, org, campaign_id, member, "opened", NOW - 3 * hour)
    event(as_owner, org, campaign_id, member, "opened", NOW - hour)
    event(as_owner, org, campaign_id, member, "opened", NOW - 2 * hour, machine=True)
    event(as_owner, org, campaign_id, member, "response_received", NOW - hour)
    event(as_owner, org, campaign_id, member, "email_sent", NOW - 5 * hour)
    event(as_owner, org, campaign_id, member, "linkedin_sent", NOW - 4 * hour)
    event(as_owner, org, other_campaign, elsewhere, "clicked", NOW - hour)
    facts = load(database_urls, org, campaign_id, [member])[uuid.UUID(member)]
    assert dict(facts.events) == {
        "opened": [NOW - hour, NOW - 3 * hour],
        "replied": [NOW - hour],
        "sent": [NOW - 4 * hour, NOW - 5 * hour],
    }


def test_events_kept_per_contact_and_kind_are_bounded_to_the_newest(
    client: TestClient, org: Org, database_urls: DatabaseUrls, as_owner: psycopg.Connection
) -> None:
    campaign_id, member = members(client, org, [{"email": "a@example.com"}])
    as_owner.execute(
        "INSERT INTO engagement_events (org_id, campaign_id, campaign_contact_id, event_type, "
        "event_timestamp) SELECT %s, %s, %s, 'opened', %s - n * interval '1 minute' "
        "FROM generate_series(0, %s) AS n",
        (org.id, campaign_id, member, NOW, EVENTS_KEPT + 20),
    )
    opened = load(database_urls, org, campaign_id, [member])[uuid.UUID(member)].events["opened"]
    assert len(opened) == EVENTS_KEPT
    assert opened[0] == NOW
    assert opened[-1] == NOW - timedelta(minutes=EVENTS_KEPT - 1)


def test_the_enrollment_time_is_the_states_start_else_now(
    client: TestClient, org: Org, database_urls: DatabaseUrls, as_owner: psycopg.Connection
) -> None:
    campaign_id, enrolled, waiting = members(
        client, org, [{"email": "a@example.com"}, {"email": "b@example.com"}]
    )
    publish_canvas(database_urls, org, campaign_id, default_canvas().model_dump(mode="json"))
    enrollment_row(as_owner, org, campaign_id, enrolled, started_at=NOW - timedelta(days=2))
    facts = load(database_urls, org, campaign_id, [enrolled, waiting])
    assert facts[uuid.UUID(enrolled)].enrolled_at == NOW - timedelta(days=2)
    assert facts[uuid.UUID(waiting)].enrolled_at == NOW


def test_contacts_of_another_campaign_or_org_are_left_out(
    client: TestClient, org: Org, other_org: Org, database_urls: DatabaseUrls
) -> None:
    campaign_id, member = members(client, org, [{"email": "a@example.com"}])
    _, elsewhere = members(client, org, [{"email": "b@example.com"}])
    foreign_campaign, foreign = members(client, other_org, [{"email": "c@example.com"}])
    assert set(load(database_urls, org, campaign_id, [member, elsewhere, foreign])) == {
        uuid.UUID(member)
    }
    assert load(database_urls, org, foreign_campaign, [foreign]) == {}
