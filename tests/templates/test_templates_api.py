"""Template routes: reading, paging, changing, deleting, idempotency, roles and tenancy."""

import uuid
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from outreach.auth.tokens import Role
from outreach.kit.tenancy import set_org
from tests.factories import Org, create_template, patch

TEMPLATES = "/api/v1/templates"
SMS = {"name": "Reminder", "channel": "sms", "subject": None, "body_text": "Hi {{first_name}}"}


def as_recruiter(client: TestClient, org: Org, user_id: uuid.UUID) -> dict[str, Any]:
    answer = client.post(TEMPLATES, json=SMS, headers=org.headers(Role.RECRUITER, user_id=user_id))
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def owner_insert(conn: psycopg.Connection, org: Org, sql: str, *params: object) -> uuid.UUID:
    """A row written behind the API's back, the way other domains will write it."""
    with conn.transaction():
        set_org(conn, org.id)
        row = conn.execute(sql, params).fetchone()
    assert row is not None
    return uuid.UUID(str(row[0]))


def insert_campaign(
    conn: psycopg.Connection, org: Org, template_id: str | None = None
) -> uuid.UUID:
    return owner_insert(
        conn,
        org,
        "INSERT INTO campaigns (org_id, name, owner_id, template_id) "
        "VALUES (%s, 'Uses a template', %s, %s) RETURNING id",
        org.id,
        org.user(),
        template_id,
    )


def test_get_returns_the_template(client: TestClient, org: Org) -> None:
    template = create_template(client, org)
    answer = client.get(f"{TEMPLATES}/{template['id']}", headers=org.headers(Role.VIEWER))
    assert answer.status_code == 200
    assert answer.json() == template


def test_list_pages_newest_first(client: TestClient, org: Org) -> None:
    created = [create_template(client, org, name=f"Template {i}")["id"] for i in range(5)]
    seen: list[str] = []
    cursor = None
    for expected_size in (2, 2, 1):
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = client.get(TEMPLATES, params=params, headers=org.headers()).json()
        assert len(page["items"]) == expected_size
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
    assert cursor is None
    assert seen == created[::-1]


def test_list_filters_by_channel(client: TestClient, org: Org) -> None:
    create_template(client, org)
    sms = create_template(client, org, **SMS)
    page = client.get(TEMPLATES, params={"channel": "sms"}, headers=org.headers()).json()
    assert [item["id"] for item in page["items"]] == [sms["id"]]


def test_list_searches_names_in_any_case(client: TestClient, org: Org) -> None:
    found = create_template(client, org, name="Java follow-up")
    create_template(client, org, name="Python intro")
    create_template(client, org, name="100% match")
    page = client.get(TEMPLATES, params={"q": "FOLLOW"}, headers=org.headers()).json()
    assert [item["id"] for item in page["items"]] == [found["id"]]
    wildcard = client.get(TEMPLATES, params={"q": "_"}, headers=org.headers()).json()
    assert wildcard["items"] == []


def test_list_refuses_a_forged_cursor(client: TestClient, org: Org) -> None:
    answer = client.get(TEMPLATES, params={"cursor": "WyJ4IiwieSJd"}, headers=org.headers())
    assert answer.status_code == 422
    assert answer.json()["code"] == "CURSOR_INVALID"


def test_list_never_shows_another_orgs_templates(
    client: TestClient, org: Org, other_org: Org
) -> None:
    create_template(client, other_org)
    assert client.get(TEMPLATES, headers=org.headers()).json()["items"] == []


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("GET", "", None),
        ("PATCH", "", {"name": "Mine now"}),
        ("DELETE", "", None),
        ("POST", "/preview", {}),
    ],
)
def test_another_orgs_template_is_not_found(
    client: TestClient,
    org: Org,
    other_org: Org,
    method: str,
    suffix: str,
    body: dict[str, Any] | None,
) -> None:
    template = create_template(client, other_org)
    answer = client.request(
        method, f"{TEMPLATES}/{template['id']}{suffix}", json=body, headers=org.headers()
    )
    assert answer.status_code == 404
    assert answer.json()["code"] == "NOT_FOUND"
    unchanged = client.get(f"{TEMPLATES}/{template['id']}", headers=other_org.headers())
    assert unchanged.json() == template


def test_patch_changes_only_the_given_fields(client: TestClient, org: Org) -> None:
    template = create_template(client, org)
    answer = patch(client, org, f"{TEMPLATES}/{template['id']}", {"name": "Second touch"})
    assert answer.status_code == 200
    changed = answer.json()
    assert changed["name"] == "Second touch"
    assert changed["subject"] == template["subject"]
    assert changed["updated_at"] > template["updated_at"]


def test_patch_null_clears_an_optional_field(client: TestClient, org: Org) -> None:
    template = create_template(client, org, body_html="<p>Hi</p>")
    answer = patch(client, org, f"{TEMPLATES}/{template['id']}", {"body_html": None})
    assert answer.status_code == 200
    assert answer.json()["body_html"] is None


def test_patch_cannot_clear_the_name(client: TestClient, org: Org) -> None:
    template = create_template(client, org)
    answer = patch(client, org, f"{TEMPLATES}/{template['id']}", {"name": None})
    assert answer.status_code == 422
    assert answer.json()["code"] == "VALUE_REQUIRED"


def test_patch_checks_the_whole_resulting_template(client: TestClient, org: Org) -> None:
    template = create_template(client, org, body_html=None)
    answer = patch(client, org, f"{TEMPLATES}/{template['id']}", {"body_text": None})
    assert answer.status_code == 422
    assert answer.json()["code"] == "TEMPLATE_BODY_REQUIRED"
    switched = patch(client, org, f"{TEMPLATES}/{template['id']}", {"channel": "linkedin"})
    assert switched.status_code == 422
    assert {e["code"] for e in switched.json()["errors"]} >= {"TEMPLATE_LINKEDIN_KIND_REQUIRED"}


def test_patch_to_another_channel_with_its_fields_is_accepted(client: TestClient, org: Org) -> None:
    template = create_template(client, org)
    body = {"channel": "linkedin", "linkedin_kind": "connection_request", "subject": None}
    answer = patch(client, org, f"{TEMPLATES}/{template['id']}", body)
    assert answer.status_code == 200, answer.text
    assert answer.json()["linkedin_kind"] == "connection_request"


def test_delete_removes_the_template(client: TestClient, org: Org) -> None:
    template = create_template(client, org)
    answer = client.delete(f"{TEMPLATES}/{template['id']}", headers=org.headers())
    assert answer.status_code == 204
    assert client.get(f"{TEMPLATES}/{template['id']}", headers=org.headers()).status_code == 404


def test_template_used_by_a_campaign_cannot_be_deleted(
    client: TestClient, org: Org, as_owner: psycopg.Connection
) -> None:
    template = create_template(client, org)
    insert_campaign(as_owner, org, template["id"])
    answer = client.delete(f"{TEMPLATES}/{template['id']}", headers=org.headers())
    assert answer.status_code == 409
    assert answer.json()["code"] == "TEMPLATE_IN_USE"
    assert client.get(f"{TEMPLATES}/{template['id']}", headers=org.headers()).status_code == 200


def test_template_used_by_a_campaign_contact_cannot_be_deleted(
    client: TestClient, org: Org, as_owner: psycopg.Connection
) -> None:
    template = create_template(client, org)
    campaign_id = insert_campaign(as_owner, org)
    contact_id = owner_insert(
        as_owner,
        org,
        "INSERT INTO contacts (org_id, email) VALUES (%s, 'ada@example.com') RETURNING id",
        org.id,
    )
    owner_insert(
        as_owner,
        org,
        "INSERT INTO campaign_contacts (org_id, campaign_id, contact_id, template_used_id) "
        "VALUES (%s, %s, %s, %s) RETURNING id",
        org.id,
        campaign_id,
        contact_id,
        template["id"],
    )
    answer = client.delete(f"{TEMPLATES}/{template['id']}", headers=org.headers())
    assert answer.status_code == 409
    assert answer.json()["code"] == "TEMPLATE_IN_USE"


def test_create_replays_the_first_answer_for_the_same_idempotency_key(
    client: TestClient, org: Org
) -> None:
    headers = org.headers() | {"Idempotency-Key": "template-1"}
    first = client.post(TEMPLATES, json=SMS, headers=headers)
    again = client.post(TEMPLATES, json=SMS, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(client.get(TEMPLATES, headers=org.headers()).json()["items"]) == 1


def test_idempotency_key_reused_with_another_body_is_refused(client: TestClient, org: Org) -> None:
    headers = org.headers() | {"Idempotency-Key": "template-2"}
    assert client.post(TEMPLATES, json=SMS, headers=headers).status_code == 201
    answer = client.post(TEMPLATES, json={**SMS, "name": "Other"}, headers=headers)
    assert answer.status_code == 422
    assert answer.json()["code"] == "IDEMPOTENCY_KEY_REUSED"


def test_viewer_cannot_create_templates(client: TestClient, org: Org) -> None:
    answer = client.post(TEMPLATES, json=SMS, headers=org.headers(Role.VIEWER))
    assert answer.status_code == 403
    assert answer.json()["code"] == "FORBIDDEN"


@pytest.mark.parametrize(("method", "body"), [("PATCH", {"name": "Viewed"}), ("DELETE", None)])
def test_viewer_cannot_change_templates(
    client: TestClient, org: Org, method: str, body: dict[str, Any] | None
) -> None:
    template = create_template(client, org)
    answer = client.request(
        method, f"{TEMPLATES}/{template['id']}", json=body, headers=org.headers(Role.VIEWER)
    )
    assert answer.status_code == 403


def test_recruiter_changes_and_deletes_its_own_template(client: TestClient, org: Org) -> None:
    recruiter = org.user(Role.RECRUITER)
    template = as_recruiter(client, org, recruiter)
    assert template["created_by"] == str(recruiter)
    assert (
        patch(
            client, org, f"{TEMPLATES}/{template['id']}", {"name": "Mine"}, Role.RECRUITER
        ).status_code
        == 200
    )
    answer = client.delete(f"{TEMPLATES}/{template['id']}", headers=org.headers(Role.RECRUITER))
    assert answer.status_code == 204


@pytest.mark.parametrize(("method", "body"), [("PATCH", {"name": "Taken"}), ("DELETE", None)])
def test_recruiter_cannot_change_another_users_template(
    client: TestClient, org: Org, method: str, body: dict[str, Any] | None
) -> None:
    template = as_recruiter(client, org, uuid.uuid4())
    answer = client.request(
        method, f"{TEMPLATES}/{template['id']}", json=body, headers=org.headers(Role.RECRUITER)
    )
    assert answer.status_code == 403
    assert answer.json()["code"] == "FORBIDDEN"


@pytest.mark.parametrize("role", [Role.ADMIN, Role.TA_MANAGER])
def test_managers_change_any_template(client: TestClient, org: Org, role: Role) -> None:
    template = as_recruiter(client, org, org.user(Role.RECRUITER))
    assert (
        patch(client, org, f"{TEMPLATES}/{template['id']}", {"name": "Reviewed"}, role).status_code
        == 200
    )
