"""The do-not-contact list: adding, reading, paging, removing, roles and tenancy."""

from typing import Any

import pytest
from fastapi.testclient import TestClient

from outreach.auth.tokens import Role
from tests.factories import Org, listed_items, post

SUPPRESSIONS = "/api/v1/suppressions"


def suppress(client: TestClient, org: Org, email: str, **body: Any) -> dict[str, Any]:
    answer = post(client, org, SUPPRESSIONS, dict(email=email, **body))
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def emails(suppressions: list[dict[str, Any]]) -> list[str]:
    return [suppression["email"] for suppression in suppressions]


def test_suppression_is_stored_lowercased_as_manual(client: TestClient, org: Org) -> None:
    suppression = suppress(client, org, "Ada.Lovelace@Example.COM")
    assert suppression["email"] == "ada.lovelace@example.com"
    assert suppression["reason"] == "manual"
    assert suppression["note"] is None
    assert suppression["created_by"] == str(org.user())


def test_suppression_keeps_its_reason_and_note(client: TestClient, org: Org) -> None:
    suppression = suppress(client, org, "bo@example.com", reason="complaint", note="Phoned us")
    assert (suppression["reason"], suppression["note"]) == ("complaint", "Phoned us")


@pytest.mark.parametrize("email", ["not-an-email", "a b@example.com", "ada@", ""])
def test_invalid_email_is_refused(client: TestClient, org: Org, email: str) -> None:
    answer = post(client, org, SUPPRESSIONS, dict(email=email))
    assert answer.status_code == 422
    assert answer.json()["code"] == "CONTACT_EMAIL_INVALID"
    assert answer.json()["errors"][0]["field"] == "email"


def test_unknown_reason_is_refused(client: TestClient, org: Org) -> None:
    answer = post(client, org, SUPPRESSIONS, dict(email="ada@example.com", reason="annoyed"))
    assert answer.json()["code"] == "VALUE_NOT_ALLOWED"


def test_note_over_1000_characters_is_refused(client: TestClient, org: Org) -> None:
    answer = post(client, org, SUPPRESSIONS, dict(email="ada@example.com", note="x" * 1001))
    assert answer.json()["code"] == "VALUE_TOO_LONG"


def test_unknown_body_field_is_refused(client: TestClient, org: Org) -> None:
    answer = post(client, org, SUPPRESSIONS, dict(email="ada@example.com", campaign_id=None))
    assert answer.json()["code"] == "FIELD_UNKNOWN"


def test_an_email_already_suppressed_is_refused_in_any_case(client: TestClient, org: Org) -> None:
    suppress(client, org, "ada@example.com")
    answer = post(client, org, SUPPRESSIONS, dict(email="ADA@example.com", reason="hard_bounce"))
    assert answer.status_code == 409
    assert answer.json()["code"] == "SUPPRESSION_EXISTS"


def test_an_email_may_be_suppressed_in_each_organization(
    client: TestClient, org: Org, other_org: Org
) -> None:
    suppress(client, other_org, "ada@example.com")
    suppress(client, org, "ada@example.com")


def test_add_replays_the_first_answer_for_the_same_idempotency_key(
    client: TestClient, org: Org
) -> None:
    headers = org.headers() | {"Idempotency-Key": "suppress-1"}
    body = {"email": "ada@example.com"}
    first = client.post(SUPPRESSIONS, json=body, headers=headers)
    again = client.post(SUPPRESSIONS, json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"


def test_idempotency_key_reused_with_another_body_is_refused(client: TestClient, org: Org) -> None:
    headers = org.headers() | {"Idempotency-Key": "suppress-2"}
    assert client.post(SUPPRESSIONS, json={"email": "a@x.io"}, headers=headers).status_code == 201
    answer = client.post(SUPPRESSIONS, json={"email": "b@x.io"}, headers=headers)
    assert answer.status_code == 422
    assert answer.json()["code"] == "IDEMPOTENCY_KEY_REUSED"


def test_get_returns_the_suppression(client: TestClient, org: Org) -> None:
    suppression = suppress(client, org, "ada@example.com")
    answer = client.get(f"{SUPPRESSIONS}/{suppression['id']}", headers=org.headers(Role.VIEWER))
    assert answer.status_code == 200
    assert answer.json() == suppression


def test_list_pages_newest_first(client: TestClient, org: Org) -> None:
    emails = [suppress(client, org, f"p{i}@example.com")["email"] for i in range(5)]
    seen: list[str] = []
    cursor = None
    for expected_size in (2, 2, 1):
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = client.get(SUPPRESSIONS, params=params, headers=org.headers()).json()
        assert len(page["items"]) == expected_size
        seen += [item["email"] for item in page["items"]]
        cursor = page["next_cursor"]
    assert cursor is None
    assert seen == emails[::-1]


def test_list_filters_by_reason(client: TestClient, org: Org) -> None:
    suppress(client, org, "ada@example.com", reason="hard_bounce")
    suppress(client, org, "bo@example.com")
    assert emails(listed_items(client, org, SUPPRESSIONS, Role.ADMIN, reason="hard_bounce")) == [
        "ada@example.com"
    ]


def test_list_searches_by_email_prefix_in_any_case(client: TestClient, org: Org) -> None:
    suppress(client, org, "ada@example.com")
    suppress(client, org, "bo.ada@example.com")
    suppress(client, org, "a_x@example.com")
    assert emails(listed_items(client, org, SUPPRESSIONS, Role.ADMIN, q="ADA")) == [
        "ada@example.com"
    ]
    assert emails(listed_items(client, org, SUPPRESSIONS, Role.ADMIN, q="a_")) == [
        "a_x@example.com"
    ]


def test_list_never_shows_another_orgs_suppressions(
    client: TestClient, org: Org, other_org: Org
) -> None:
    suppress(client, other_org, "ada@example.com")
    assert emails(listed_items(client, org, SUPPRESSIONS, Role.ADMIN)) == []


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_another_orgs_suppression_is_not_found(
    client: TestClient, org: Org, other_org: Org, method: str
) -> None:
    suppression = suppress(client, other_org, "ada@example.com")
    answer = client.request(method, f"{SUPPRESSIONS}/{suppression['id']}", headers=org.headers())
    assert answer.status_code == 404
    assert answer.json()["code"] == "NOT_FOUND"
    assert emails(listed_items(client, other_org, SUPPRESSIONS, Role.ADMIN)) == ["ada@example.com"]


def test_viewer_cannot_add_suppressions(client: TestClient, org: Org) -> None:
    answer = post(client, org, SUPPRESSIONS, dict(email="ada@example.com"), Role.VIEWER)
    assert answer.status_code == 403
    assert answer.json()["code"] == "FORBIDDEN"


def test_recruiter_may_add_suppressions(client: TestClient, org: Org) -> None:
    assert (
        post(client, org, SUPPRESSIONS, dict(email="ada@example.com"), Role.RECRUITER).status_code
        == 201
    )


@pytest.mark.parametrize("role", [Role.RECRUITER, Role.VIEWER])
def test_only_managers_remove_suppressions(client: TestClient, org: Org, role: Role) -> None:
    suppression = suppress(client, org, "ada@example.com")
    answer = client.delete(f"{SUPPRESSIONS}/{suppression['id']}", headers=org.headers(role))
    assert answer.status_code == 403
    assert emails(listed_items(client, org, SUPPRESSIONS, Role.ADMIN)) == ["ada@example.com"]


@pytest.mark.parametrize("role", [Role.ADMIN, Role.TA_MANAGER])
def test_manager_removes_a_suppression(client: TestClient, org: Org, role: Role) -> None:
    suppression = suppress(client, org, "ada@example.com")
    answer = client.delete(f"{SUPPRESSIONS}/{suppression['id']}", headers=org.headers(role))
    assert answer.status_code == 204
    assert emails(listed_items(client, org, SUPPRESSIONS, Role.ADMIN)) == []
