"""The webhook trigger: a campaign's signed URL enrolls the contact its JSON body names, with no
user token; a forged or another campaign's token finds nothing."""

import uuid
from typing import Any
from urllib.parse import urlsplit

import psycopg
from fastapi.testclient import TestClient

from outreach.auth.tokens import Role
from outreach.config import Settings
from outreach.db import DatabaseUrls
from outreach.main import create_app
from outreach.workflows.versions import keys
from tests.factories import Org, RunningCampaign, insert_row, ok, triggered_campaign

WEBHOOK = {"type": "webhook"}


def trigger_path(client: TestClient, org: Org, campaign_id: str) -> str:
    answer = ok(client.get(f"/api/v1/campaigns/{campaign_id}/trigger", headers=org.headers()))
    return urlsplit(answer["url"]).path


def webhook_campaign(
    client: TestClient, org: Org, urls: DatabaseUrls, as_owner: psycopg.Connection, **kw: Any
) -> RunningCampaign:
    return triggered_campaign(client, org, urls, as_owner, kw.pop("trigger", WEBHOOK), **kw)


def states(as_owner: psycopg.Connection, campaign_id: str) -> list[tuple[str, str]]:
    rows = as_owner.execute(
        "SELECT s.id::text, p.email FROM campaign_workflow_states s "
        "JOIN campaign_contacts cc ON cc.id = s.campaign_contact_id "
        "JOIN contacts p ON p.id = cc.contact_id WHERE s.campaign_id = %s",
        (campaign_id,),
    ).fetchall()
    return [(row[0], row[1]) for row in rows]


def test_a_valid_token_enrolls_the_person_named_by_email_created_as_the_contacts_api_would(
    client: TestClient, org: Org, database_urls: DatabaseUrls, as_owner: psycopg.Connection
) -> None:
    campaign = webhook_campaign(client, org, database_urls, as_owner)
    path = trigger_path(client, org, campaign.id)
    body = {"email": "New.Person@example.com", "first_name": "New", "tags": ["inbound"]}

    first = client.post(path, json=body)
    again = client.post(path, json=body)

    assert first.status_code == 202, first.text
    assert first.json()["status"] == "enrolled"
    assert (again.status_code, again.json()["status"]) == (202, "already_enrolled")
    assert again.json()["enrollment_id"] == first.json()["enrollment_id"]
    assert states(as_owner, campaign.id) == [
        (first.json()["enrollment_id"], "New.Person@example.com")
    ]
    person = as_owner.execute(
        "SELECT first_name, tags FROM contacts WHERE org_id = %s", (org.id,)
    ).fetchone()
    assert person == ("New", ["inbound"])


def test_a_valid_token_enrolls_a_campaign_contact_named_by_id(
    client: TestClient, org: Org, database_urls: DatabaseUrls, as_owner: psycopg.Connection
) -> None:
    campaign = webhook_campaign(
        client, org, database_urls, as_owner, contacts=[{"email": "ada@example.com"}]
    )
    path = trigger_path(client, org, campaign.id)
    answer = client.post(path, json={"contact_id": campaign.members[0]})
    assert answer.status_code == 202, answer.text
    assert answer.json()["contact_id"] == campaign.members[0]
    unknown = client.post(path, json={"contact_id": str(uuid.uuid4())})
    assert (unknown.status_code, unknown.json()["code"]) == (404, "CONTACT_NOT_FOUND")


def test_a_forged_or_another_campaigns_token_is_not_found_and_enrolls_nobody(
    client: TestClient, org: Org, database_urls: DatabaseUrls, as_owner: psycopg.Connection
) -> None:
    campaign = webhook_campaign(client, org, database_urls, as_owner)
    other = webhook_campaign(client, org, database_urls, as_owner)
    token = trigger_path(client, org, campaign.id).rsplit("/", 1)[1]
    forged = [
        keys.mint("a-guessed-key", org.id, uuid.UUID(campaign.id)),
        token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
        "not-a-token",
    ]
    body = {"email": "mallory@example.com"}
    for bad in forged:
        answer = client.post(f"/api/v1/triggers/{campaign.id}/{bad}", json=body)
        assert (answer.status_code, answer.json()["code"]) == (404, "NOT_FOUND"), bad
    moved = client.post(f"/api/v1/triggers/{other.id}/{token}", json=body)
    assert moved.status_code == 404
    assert states(as_owner, campaign.id) == states(as_owner, other.id) == []
    people = as_owner.execute("SELECT count(*) FROM contacts WHERE org_id = %s", (org.id,))
    assert people.fetchone() == (0,)


def test_the_url_enrolls_only_while_the_published_trigger_is_a_webhook(
    client: TestClient, org: Org, database_urls: DatabaseUrls, as_owner: psycopg.Connection
) -> None:
    campaign = webhook_campaign(client, org, database_urls, as_owner, trigger={"type": "manual"})
    answer = client.get(f"/api/v1/campaigns/{campaign.id}/trigger", headers=org.headers())
    assert ok(answer)["trigger_type"] == "manual"
    refused = client.post(trigger_path(client, org, campaign.id), json={"email": "a@example.com"})
    assert (refused.status_code, refused.json()["code"]) == (409, "TRIGGER_NOT_WEBHOOK")


def test_a_person_who_may_not_be_contacted_or_a_bad_body_is_refused_with_its_code(
    client: TestClient, org: Org, database_urls: DatabaseUrls, as_owner: psycopg.Connection
) -> None:
    campaign = webhook_campaign(client, org, database_urls, as_owner)
    insert_row(as_owner, "suppressions", org, email="gone@example.com", reason="unsubscribed")
    path = trigger_path(client, org, campaign.id)
    cases = [
        ({"email": "gone@example.com"}, 409, "CONTACT_UNSUBSCRIBED"),
        ({"email": "not-an-email"}, 422, "CONTACT_EMAIL_INVALID"),
        ({}, 422, "TRIGGER_CONTACT_REQUIRED"),
        (
            {"contact_id": str(uuid.uuid4()), "first_name": "X"},
            422,
            "TRIGGER_CONTACT_FIELDS_WITH_ID",
        ),
        ({"email": "a@example.com", "shoe_size": 44}, 422, "FIELD_UNKNOWN"),
    ]
    for body, status, code in cases:
        answer = client.post(path, json=body)
        assert (answer.status_code, answer.json()["code"]) == (status, code), body
    assert states(as_owner, campaign.id) == []


def test_the_trigger_url_is_given_to_those_who_may_change_the_campaign(
    client: TestClient,
    org: Org,
    other_org: Org,
    database_urls: DatabaseUrls,
    as_owner: psycopg.Connection,
) -> None:
    campaign = webhook_campaign(client, org, database_urls, as_owner)
    path = f"/api/v1/campaigns/{campaign.id}/trigger"
    assert client.get(path, headers=org.headers(Role.VIEWER)).status_code == 403
    assert client.get(path, headers=other_org.headers()).status_code == 404
    assert client.get(path, headers=org.headers(Role.RECRUITER)).status_code == 200


def test_webhook_calls_are_limited_per_campaign(
    settings: Settings, org: Org, database_urls: DatabaseUrls, as_owner: psycopg.Connection
) -> None:
    limited = settings.model_copy(update={"trigger_webhooks_per_minute": 2})
    with TestClient(create_app(limited, database_urls)) as client:
        campaign = webhook_campaign(client, org, database_urls, as_owner)
        path = trigger_path(client, org, campaign.id)
        # At most 2 per window: five calls meet the limit even if a window ends among them.
        answers = [client.post(path, json={"email": f"p{i}@example.com"}) for i in range(5)]
    refused = [a for a in answers if a.status_code == 429]
    assert refused, [a.status_code for a in answers]
    assert refused[0].json()["code"] == "RATE_LIMITED"
    assert int(refused[0].headers["Retry-After"]) >= 1
