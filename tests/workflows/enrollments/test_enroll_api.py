"""POST /campaigns/{id}/enrollments: campaign contacts enrolled in the sequence, each id with
its result; who may enroll, and in which campaigns."""

import uuid
from typing import Any

import psycopg
from fastapi.testclient import TestClient

from outreach.auth.tokens import Role
from outreach.db import DatabaseUrls
from tests.factories import Org, RunningCampaign, insert_row, ok, post, triggered_campaign

MANUAL = {"type": "manual"}
PEOPLE = [{"email": f"p{i}@example.com"} for i in range(5)]


def enroll(
    client: TestClient, org: Org, campaign_id: str, body: dict[str, Any], role: Role = Role.ADMIN
) -> Any:
    return post(client, org, f"/api/v1/campaigns/{campaign_id}/enrollments", body, role)


def states(as_owner: psycopg.Connection, campaign_id: str) -> dict[str, tuple[Any, ...]]:
    rows = as_owner.execute(
        "SELECT campaign_contact_id::text, id::text, version, current_node_id, workflow_status "
        "FROM campaign_workflow_states WHERE campaign_id = %s",
        (campaign_id,),
    ).fetchall()
    return {row[0]: tuple(row[1:]) for row in rows}


def campaign_of(
    client: TestClient,
    org: Org,
    urls: DatabaseUrls,
    as_owner: psycopg.Connection,
    status: str = "active",
) -> RunningCampaign:
    return triggered_campaign(client, org, urls, as_owner, MANUAL, contacts=PEOPLE, status=status)


def test_each_id_is_enrolled_or_answered_with_why_not(
    client: TestClient, org: Org, database_urls: DatabaseUrls, as_owner: psycopg.Connection
) -> None:
    campaign = campaign_of(client, org, database_urls, as_owner)
    fine, unsubscribed, bounced, suppressed, later = campaign.members
    as_owner.execute(
        "UPDATE campaign_contacts SET status = 'unsubscribed' WHERE id = %s", (unsubscribed,)
    )
    as_owner.execute("UPDATE campaign_contacts SET status = 'bounced' WHERE id = %s", (bounced,))
    insert_row(as_owner, "suppressions", org, email="P3@example.com", reason="manual")
    stranger = str(uuid.uuid4())

    answer = ok(
        enroll(
            client,
            org,
            campaign.id,
            {"contact_ids": [fine, unsubscribed, bounced, suppressed, stranger, fine]},
        )
    )

    codes = [(r["contact_id"], r["status"], r["code"]) for r in answer["results"]]
    assert codes == [
        (fine, "enrolled", None),
        (unsubscribed, "not_enrollable", "CONTACT_UNSUBSCRIBED"),
        (bounced, "not_enrollable", "CONTACT_BOUNCED"),
        (suppressed, "not_enrollable", "CONTACT_SUPPRESSED"),
        (stranger, "not_found", "CONTACT_NOT_FOUND"),
    ]
    assert answer["summary"] == {
        "enrolled": 1,
        "already_enrolled": 0,
        "not_found": 1,
        "not_enrollable": 3,
    }
    enrolled = states(as_owner, campaign.id)
    # started as the planner starts contacts, and walked at once to its first message
    assert enrolled == {fine: (answer["results"][0]["enrollment_id"], 1, "message", "waiting")}

    again = ok(enroll(client, org, campaign.id, {"contact_ids": [fine, later]}))
    assert [(r["status"], r["code"]) for r in again["results"]] == [
        ("already_enrolled", "ENROLLMENT_EXISTS"),
        ("enrolled", None),
    ]
    assert again["results"][0]["enrollment_id"] == answer["results"][0]["enrollment_id"]


def test_all_enrolls_every_contact_not_yet_enrolled_and_lists_those_it_could_not(
    client: TestClient, org: Org, database_urls: DatabaseUrls, as_owner: psycopg.Connection
) -> None:
    campaign = campaign_of(client, org, database_urls, as_owner)
    as_owner.execute(
        "UPDATE campaign_contacts SET status = 'bounced' WHERE id = %s", (campaign.members[4],)
    )
    ok(enroll(client, org, campaign.id, {"contact_ids": [campaign.members[0]]}))

    answer = ok(enroll(client, org, campaign.id, {"all": True}))

    assert answer["summary"] == {
        "enrolled": 3,
        "already_enrolled": 0,
        "not_found": 0,
        "not_enrollable": 1,
    }
    assert [(r["contact_id"], r["code"]) for r in answer["results"]] == [
        (campaign.members[4], "CONTACT_BOUNCED")
    ]
    assert set(states(as_owner, campaign.id)) == set(campaign.members[:4])


def test_only_an_active_or_paused_campaign_takes_enrollments(
    client: TestClient, org: Org, database_urls: DatabaseUrls, as_owner: psycopg.Connection
) -> None:
    for status in ("draft", "completed", "archived"):
        campaign = campaign_of(client, org, database_urls, as_owner, status)
        answer = enroll(client, org, campaign.id, {"all": True})
        assert (answer.status_code, answer.json()["code"]) == (409, "CAMPAIGN_NOT_ACTIVE"), status
        assert states(as_owner, campaign.id) == {}


def test_contacts_enrolled_in_a_paused_campaign_wait_paused(
    client: TestClient, org: Org, database_urls: DatabaseUrls, as_owner: psycopg.Connection
) -> None:
    campaign = campaign_of(client, org, database_urls, as_owner, "paused")
    ok(enroll(client, org, campaign.id, {"contact_ids": campaign.members[:1]}))
    row = as_owner.execute(
        "SELECT workflow_status, paused_status FROM campaign_workflow_states "
        "WHERE campaign_id = %s",
        (campaign.id,),
    ).fetchone()
    assert row is not None
    assert row[0] == "paused"


def test_enrolling_takes_the_right_to_change_the_campaign(
    client: TestClient, org: Org, database_urls: DatabaseUrls, as_owner: psycopg.Connection
) -> None:
    campaign = campaign_of(client, org, database_urls, as_owner)  # a recruiter's
    body = {"contact_ids": campaign.members[:1]}
    other_recruiter = org.headers(Role.RECRUITER, user_id=uuid.uuid4())
    for headers in (org.headers(Role.VIEWER), other_recruiter):
        answer = client.post(
            f"/api/v1/campaigns/{campaign.id}/enrollments", json=body, headers=headers
        )
        assert (answer.status_code, answer.json()["code"]) == (403, "FORBIDDEN")
    ok(enroll(client, org, campaign.id, body, Role.RECRUITER))  # the owner
    ok(enroll(client, org, campaign.id, {"contact_ids": campaign.members[1:2]}, Role.TA_MANAGER))


def test_another_organizations_campaign_and_enrollments_are_not_found(
    client: TestClient,
    org: Org,
    other_org: Org,
    database_urls: DatabaseUrls,
    as_owner: psycopg.Connection,
) -> None:
    campaign = campaign_of(client, org, database_urls, as_owner)
    [result] = ok(enroll(client, org, campaign.id, {"contact_ids": campaign.members[:1]}))[
        "results"
    ]
    base = f"/api/v1/campaigns/{campaign.id}/enrollments"
    headers = other_org.headers()
    for answer in (
        client.post(base, json={"all": True}, headers=headers),
        client.get(base, headers=headers),
        client.get(f"{base}/{result['enrollment_id']}", headers=headers),
    ):
        assert (answer.status_code, answer.json()["code"]) == (404, "NOT_FOUND")
    assert len(states(as_owner, campaign.id)) == 1


def test_the_body_names_ids_or_all(
    client: TestClient, org: Org, database_urls: DatabaseUrls, as_owner: psycopg.Connection
) -> None:
    campaign = campaign_of(client, org, database_urls, as_owner)
    cases = [
        ({}, "ENROLLMENT_TARGET_INVALID"),
        ({"contact_ids": campaign.members, "all": True}, "ENROLLMENT_TARGET_INVALID"),
        ({"all": False}, "ENROLLMENT_TARGET_INVALID"),
        ({"contact_ids": []}, "ENROLLMENT_BATCH_EMPTY"),
        ({"contact_ids": [str(uuid.uuid4()) for _ in range(1001)]}, "ENROLLMENT_BATCH_TOO_LARGE"),
        ({"contact_ids": ["nope"]}, "UUID_INVALID"),
        ({"all": True, "segment": 1}, "FIELD_UNKNOWN"),
    ]
    for body, code in cases:
        answer = enroll(client, org, campaign.id, body)
        assert (answer.status_code, answer.json()["code"]) == (422, code), body


def test_a_repeated_idempotency_key_answers_the_first_enrollment_again(
    client: TestClient, org: Org, database_urls: DatabaseUrls, as_owner: psycopg.Connection
) -> None:
    campaign = campaign_of(client, org, database_urls, as_owner)
    path = f"/api/v1/campaigns/{campaign.id}/enrollments"
    headers = {**org.headers(), "Idempotency-Key": "enroll-1"}
    body = {"contact_ids": campaign.members[:2]}
    first = client.post(path, json=body, headers=headers)
    second = client.post(path, json=body, headers=headers)
    assert first.status_code == second.status_code == 200
    assert second.json() == first.json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert [r["status"] for r in second.json()["results"]] == ["enrolled", "enrolled"]


def test_enrollment_keeps_the_campaigns_lead_limits(
    client: TestClient, org: Org, database_urls: DatabaseUrls, as_owner: psycopg.Connection
) -> None:
    campaign = campaign_of(client, org, database_urls, as_owner)
    as_owner.execute("UPDATE campaigns SET daily_lead_limit = 2 WHERE id = %s", (campaign.id,))

    first = ok(enroll(client, org, campaign.id, {"contact_ids": campaign.members[:3]}))
    second = ok(enroll(client, org, campaign.id, {"contact_ids": campaign.members[3:4]}))

    # which two of the three go first is the planner's order
    assert sorted((r["status"], r["code"] or "") for r in first["results"]) == [
        ("enrolled", ""),
        ("enrolled", ""),
        ("not_enrollable", "ENROLLMENT_DEFERRED"),
    ]
    assert [(r["status"], r["code"]) for r in second["results"]] == [
        ("not_enrollable", "CAMPAIGN_LEAD_LIMIT_REACHED")
    ]
    assert len(states(as_owner, campaign.id)) == 2


def test_a_contact_no_allocated_channel_reaches_is_not_enrollable(
    client: TestClient, org: Org, database_urls: DatabaseUrls, as_owner: psycopg.Connection
) -> None:
    campaign = campaign_of(client, org, database_urls, as_owner)
    as_owner.execute(  # every contact goes to LinkedIn, and these have no LinkedIn URL
        "UPDATE campaigns SET channel = 'combined', email_allocation = 0, "
        "linkedin_allocation = 100 WHERE id = %s",
        (campaign.id,),
    )
    body = {"contact_ids": campaign.members[:1]}
    for _ in range(2):  # refused by the planner, then known as unreachable
        [result] = ok(enroll(client, org, campaign.id, body))["results"]
        assert (result["status"], result["code"]) == ("not_enrollable", "CONTACT_UNREACHABLE")
    assert states(as_owner, campaign.id) == {}
