"""Segments: saved filters with a live count equal to a direct count, their people, edits,
tenancy and roles; a segment enrolled into a campaign, and followed by the enroll_segments job."""

import threading
from typing import Any

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient

from outreach.auth.tokens import Role
from outreach.config import Settings
from outreach.db import DatabaseUrls
from outreach.kit.dburls import libpq_url
from outreach.workflows.triggers.jobs import enroll_segments
from tests.factories import (
    Org,
    create_campaign,
    eventually,
    listed,
    ok,
    patch,
    post,
    post_contacts,
    run_job,
    someone_waits_for_a_lock,
    triggered_campaign,
)

URL = "/api/v1/segments"
PEOPLE = [
    {"email": f"dev{i}@example.com", "first_name": f"Dev{i}",
     "last_name": "Smith" if i % 2 else "Jones",
     "tags": ["java"] if i % 3 == 0 else ["go"], "lead_tier": ["hot", "warm", "cold"][i % 3]}
    for i in range(12)
]  # fmt: skip


def create(client: TestClient, org: Org, filters: dict[str, Any], **fields: Any) -> Any:
    body = {"name": fields.pop("name", "Segment"), "filters": filters, **fields}
    return ok(post(client, org, URL, body), 201)


@pytest.fixture
def campaign(client: TestClient, org: Org) -> dict[str, Any]:
    campaign = create_campaign(client, org)
    ok(post_contacts(client, org, campaign["id"], PEOPLE))
    return campaign


@pytest.mark.parametrize(
    ("filters", "where"),
    [
        ({}, "true"),
        ({"q": "smith"}, "last_name = 'Smith'"),
        ({"tag": ["java"]}, "'java' = ANY (tags)"),
        ({"lead_tier": "warm", "q": "jones"}, "lead_tier = 'warm' AND last_name = 'Jones'"),
        ({"score_min": 5}, "score >= 5"),
        ({"status": "responded"}, "email IN ('dev1@example.com', 'dev2@example.com')"),
    ],
)
def test_the_count_equals_a_direct_count(
    client: TestClient,
    org: Org,
    campaign: dict[str, Any],
    as_owner: psycopg.Connection,
    filters: dict[str, Any],
    where: str,
) -> None:
    as_owner.execute("UPDATE contacts SET score = 7 WHERE email LIKE 'dev1%%'")
    as_owner.execute(
        "UPDATE campaign_contacts SET status = 'responded' FROM contacts c "
        "WHERE c.id = contact_id AND c.email IN ('dev1@example.com', 'dev2@example.com')"
    )
    segment = create(client, org, filters)
    row = as_owner.execute(
        f"SELECT count(*) FROM contacts WHERE org_id = %s AND {where}", [org.id]
    ).fetchone()
    assert row is not None
    assert segment["count"] == row[0] > 0
    assert listed(client, org, f"{URL}/{segment['id']}")["count"] == row[0]
    people = listed(client, org, f"{URL}/{segment['id']}/contacts", limit=200)["items"]
    assert len(people) == row[0]


def test_the_count_is_live(client: TestClient, org: Org, campaign: dict[str, Any]) -> None:
    segment = create(client, org, {"q": "newcomer"})
    assert segment["count"] == 0
    ok(post_contacts(client, org, campaign["id"], [{"email": "newcomer@example.com"}]))
    assert listed(client, org, URL)["items"][0]["count"] == 1


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"name": "x", "filters": {"score_min": 3, "score_max": 1}}, "CONTACT_FILTER_SCORE_RANGE"),
        ({"name": "x", "filters": {"colour": "red"}}, "FIELD_UNKNOWN"),
        ({"name": "x", "filters": {"lead_tier": "lukewarm"}}, "VALUE_NOT_ALLOWED"),
        ({"name": "", "filters": {}}, "VALUE_TOO_SHORT"),
        ({"name": "x"}, "FIELD_REQUIRED"),
        ({"name": "a\nb", "filters": {}}, "TEXT_CONTROL_CHARACTERS"),
    ],
)
def test_bad_segments_are_refused_with_their_code(
    client: TestClient, org: Org, body: dict[str, Any], code: str
) -> None:
    answer = post(client, org, URL, body)
    assert (answer.status_code, answer.json()["code"]) == (422, code)


def test_names_are_unique_in_any_case(client: TestClient, org: Org) -> None:
    create(client, org, {}, name="Java devs")
    answer = post(client, org, URL, {"name": "JAVA DEVS", "filters": {}})
    assert (answer.status_code, answer.json()["code"]) == (409, "SEGMENT_NAME_TAKEN")


def test_a_name_taken_by_a_create_at_the_same_moment_is_refused_as_taken(
    client: TestClient, org: Org, database_urls: DatabaseUrls, as_owner: psycopg.Connection
) -> None:
    create(client, org, {}, name="Go devs")  # the organization exists from its first call
    answers: list[httpx.Response] = []
    with psycopg.connect(libpq_url(database_urls.owner)) as other:  # another create, not done
        other.execute(
            "INSERT INTO segments (org_id, name, filters) VALUES (%s, 'Rust devs', '{}')",
            (org.id,),
        )
        creating = threading.Thread(
            target=lambda: answers.append(
                post(client, org, URL, {"name": "rust devs", "filters": {}})
            )
        )
        creating.start()
        assert eventually(lambda: someone_waits_for_a_lock(as_owner, "segments"), 10)
        other.commit()
    creating.join(10)
    [answer] = answers
    assert (answer.status_code, answer.json()["code"]) == (409, "SEGMENT_NAME_TAKEN")


def test_edit_and_delete(client: TestClient, org: Org, campaign: dict[str, Any]) -> None:
    segment = create(client, org, {"tag": ["java"]})
    path = f"{URL}/{segment['id']}"
    changed = ok(patch(client, org, path, {"name": "Gophers", "filters": {"tag": ["go"]}}))
    assert (changed["name"], changed["filters"], changed["count"]) == (
        "Gophers",
        {"tag": ["go"]},
        8,
    )
    assert client.delete(path, headers=org.headers()).status_code == 204
    assert client.get(path, headers=org.headers()).status_code == 404


def test_another_orgs_segment_is_not_found(client: TestClient, org: Org, other_org: Org) -> None:
    path = f"{URL}/{create(client, org, {})['id']}"
    headers = other_org.headers()
    assert client.get(path, headers=headers).status_code == 404
    assert client.get(f"{path}/contacts", headers=headers).status_code == 404
    assert client.patch(path, json={"name": "x"}, headers=headers).status_code == 404
    assert client.delete(path, headers=headers).status_code == 404
    assert listed(client, other_org, URL)["items"] == []


def test_viewers_read_recruiters_change_their_own(client: TestClient, org: Org) -> None:
    assert post(client, org, URL, {"name": "v", "filters": {}}, Role.VIEWER).status_code == 403
    mine = ok(post(client, org, URL, {"name": "mine", "filters": {}}, Role.RECRUITER), 201)
    theirs = create(client, org, {}, name="theirs")
    assert (
        patch(client, org, f"{URL}/{mine['id']}", {"name": "m"}, Role.RECRUITER).status_code == 200
    )
    assert (
        patch(client, org, f"{URL}/{theirs['id']}", {"name": "t"}, Role.RECRUITER).status_code
        == 403
    )
    assert client.get(f"{URL}/{theirs['id']}", headers=org.headers(Role.VIEWER)).status_code == 200


def members(as_owner: psycopg.Connection, campaign_id: str) -> dict[str, bool]:
    """Email of each member of the campaign to whether it is enrolled."""
    rows = as_owner.execute(
        "SELECT c.email, s.id IS NOT NULL FROM campaign_contacts cc "
        "JOIN contacts c ON c.id = cc.contact_id "
        "LEFT JOIN campaign_workflow_states s ON s.campaign_contact_id = cc.id "
        "WHERE cc.campaign_id = %s",
        [campaign_id],
    ).fetchall()
    return {row[0]: row[1] for row in rows}


def test_a_segment_is_added_and_enrolled_and_followed(
    client: TestClient,
    org: Org,
    campaign: dict[str, Any],
    database_urls: DatabaseUrls,
    as_owner: psycopg.Connection,
    settings: Settings,
) -> None:
    running = triggered_campaign(client, org, database_urls, as_owner, {"type": "manual"})
    segment = create(client, org, {"tag": ["java"]})
    path = f"/api/v1/campaigns/{running.id}/enrollments"
    answer = ok(post(client, org, path, {"segment_id": segment["id"], "follow": True}))
    assert answer["segment"] == {
        "segment_id": segment["id"], "follow": True, "added": 4, "caught_up": True
    }  # fmt: skip
    assert answer["summary"]["enrolled"] == 4
    java = {f"dev{i}@example.com" for i in (0, 3, 6, 9)}
    assert members(as_owner, running.id) == dict.fromkeys(java, True)

    ok(
        post_contacts(
            client, org, campaign["id"], [{"email": "late@example.com", "tags": ["java"]}]
        )
    )
    ok(post_contacts(client, org, campaign["id"], [{"email": "other@example.com"}]))
    run_job(
        database_urls, lambda sessionmaker: enroll_segments(client.app.state.settings, sessionmaker)
    )  # type: ignore[attr-defined]
    assert members(as_owner, running.id) == dict.fromkeys(java | {"late@example.com"}, True)


def test_without_follow_later_matches_stay_out(
    client: TestClient,
    org: Org,
    campaign: dict[str, Any],
    database_urls: DatabaseUrls,
    as_owner: psycopg.Connection,
    settings: Settings,
) -> None:
    running = triggered_campaign(client, org, database_urls, as_owner, {"type": "manual"})
    segment = create(client, org, {"q": "dev1"})
    path = f"/api/v1/campaigns/{running.id}/enrollments"
    assert ok(post(client, org, path, {"segment_id": segment["id"]}))["segment"]["added"] == 3
    ok(post_contacts(client, org, campaign["id"], [{"email": "dev100@example.com"}]))
    run_job(
        database_urls, lambda sessionmaker: enroll_segments(client.app.state.settings, sessionmaker)
    )  # type: ignore[attr-defined]
    assert "dev100@example.com" not in members(as_owner, running.id)


def test_segment_enrollment_codes(client: TestClient, org: Org, other_org: Org) -> None:
    draft = create_campaign(client, org)
    segment = create(client, org, {})
    path = f"/api/v1/campaigns/{draft['id']}/enrollments"
    for body, status, code in [
        ({"segment_id": segment["id"], "all": True}, 422, "ENROLLMENT_TARGET_INVALID"),
        ({"all": True, "follow": True}, 422, "ENROLLMENT_FOLLOW_WITHOUT_SEGMENT"),
        ({"segment_id": segment["id"]}, 409, "CAMPAIGN_NOT_ACTIVE"),
    ]:
        answer = post(client, org, path, body)
        assert (answer.status_code, answer.json()["code"]) == (status, code), body
