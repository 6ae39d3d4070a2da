"""Tags added and scores raised are noted in the database for the trigger job, whatever wrote
them, but only while the organization has a live campaign started by such a trigger."""

import psycopg
from fastapi.testclient import TestClient

from outreach.db import DatabaseUrls
from tests.factories import Org, ok, patch, post_contacts, triggered_campaign

TAG_TRIGGER = {"type": "tag", "tag": "vip"}
SCORE_TRIGGER = {"type": "score", "threshold": 50}


def signals(as_owner: psycopg.Connection, org: Org) -> list[tuple[str, list[str], int | None]]:
    rows = as_owner.execute(
        "SELECT p.email, s.added_tags, s.score_after FROM contact_trigger_signals s "
        "JOIN contacts p ON p.id = s.contact_id WHERE s.org_id = %s ORDER BY s.id",
        (org.id,),
    ).fetchall()
    return [(row[0], row[1], row[2]) for row in rows]


def test_a_tag_added_to_a_contact_is_noted_with_the_tags_it_did_not_have(
    client: TestClient, org: Org, database_urls: DatabaseUrls, as_owner: psycopg.Connection
) -> None:
    campaign = triggered_campaign(client, org, database_urls, as_owner, TAG_TRIGGER)
    added = ok(
        post_contacts(client, org, campaign.id, [{"email": "ada@example.com", "tags": ["a"]}])
    )
    path = f"/api/v1/campaigns/{campaign.id}/contacts/{added['results'][0]['campaign_contact_id']}"
    ok(patch(client, org, path, {"tags": ["a", "vip"]}))
    ok(patch(client, org, path, {"tags": ["vip"]}))  # one removed, none added
    assert signals(as_owner, org) == [
        ("ada@example.com", ["a"], None),
        ("ada@example.com", ["vip"], None),
    ]


def test_nothing_is_noted_without_a_live_campaign_started_by_a_tag(
    client: TestClient, org: Org, database_urls: DatabaseUrls, as_owner: psycopg.Connection
) -> None:
    triggered_campaign(
        client,
        org,
        database_urls,
        as_owner,
        {"type": "manual"},
        contacts=[{"email": "ada@example.com", "tags": ["vip"]}],
    )
    triggered_campaign(
        client,
        org,
        database_urls,
        as_owner,
        TAG_TRIGGER,
        status="completed",
        contacts=[{"email": "bob@example.com", "tags": ["vip"]}],
    )
    assert signals(as_owner, org) == []


def test_a_score_raised_is_noted_and_a_score_lowered_is_not(
    client: TestClient, org: Org, database_urls: DatabaseUrls, as_owner: psycopg.Connection
) -> None:
    triggered_campaign(
        client,
        org,
        database_urls,
        as_owner,
        SCORE_TRIGGER,
        contacts=[{"email": "ada@example.com"}],
    )
    as_owner.execute("UPDATE contacts SET score = 60 WHERE org_id = %s", (org.id,))
    as_owner.execute("UPDATE contacts SET score = 10 WHERE org_id = %s", (org.id,))
    assert signals(as_owner, org) == [("ada@example.com", [], 60)]
