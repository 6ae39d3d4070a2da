"""Senders: creating, reading, paging, changing, deleting, the write-only password, roles and
tenancy."""

from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from outreach.auth.tokens import Role
from outreach.config import Settings
from outreach.sending.secrets import SenderSecrets
from tests.factories import Org, add_sender, listed_items, patch, post

SENDERS = "/api/v1/senders"
BODY = {"from_email": "talent@example.com", "smtp_host": "smtp.example.com", "smtp_port": 587}


def stored_password(as_owner: psycopg.Connection, sender_id: str) -> str | None:
    row = as_owner.execute(
        "SELECT smtp_password_encrypted FROM senders WHERE id = %s", (sender_id,)
    ).fetchone()
    assert row is not None
    return row[0]  # type: ignore[no-any-return]


def from_emails(senders: list[dict[str, Any]]) -> list[str]:
    return [sender["from_email"] for sender in senders]


def test_sender_gets_the_default_limits(client: TestClient, org: Org) -> None:
    sender = add_sender(client, org, from_name="Talent team", smtp_tls="tls", smtp_port=465)
    assert sender["from_email"] == "talent@example.com"
    assert sender["from_name"] == "Talent team"
    assert (sender["smtp_host"], sender["smtp_port"], sender["smtp_tls"]) == (
        "smtp.example.com",
        465,
        "tls",
    )
    assert (sender["hourly_limit"], sender["daily_limit"], sender["min_spacing_seconds"]) == (
        200,
        1000,
        30,
    )
    assert sender["has_password"] is False
    assert sender["smtp_username"] is None


def test_sender_takes_its_own_limits(client: TestClient, org: Org) -> None:
    sender = add_sender(client, org, hourly_limit=50, daily_limit=300, min_spacing_seconds=0)
    assert (sender["hourly_limit"], sender["daily_limit"], sender["min_spacing_seconds"]) == (
        50,
        300,
        0,
    )


def test_password_is_stored_encrypted_and_never_returned(
    client: TestClient, org: Org, settings: Settings, as_owner: psycopg.Connection
) -> None:
    sender = add_sender(client, org, smtp_username="talent", smtp_password="s3cret-pass")
    assert sender["has_password"] is True
    assert sender["smtp_username"] == "talent"
    for answer in (
        sender,
        client.get(f"{SENDERS}/{sender['id']}", headers=org.headers()).json(),
        client.get(SENDERS, headers=org.headers()).json()["items"][0],
    ):
        assert not {"smtp_password", "smtp_password_encrypted"} & set(answer)
        assert "s3cret-pass" not in str(answer)
    ciphertext = stored_password(as_owner, sender["id"])
    assert ciphertext is not None
    assert "s3cret-pass" not in ciphertext
    assert SenderSecrets(settings.sender_secret_keys).decrypt(ciphertext) == "s3cret-pass"


def test_the_same_from_email_is_refused_in_any_case(client: TestClient, org: Org) -> None:
    add_sender(client, org)
    answer = post(client, org, SENDERS, BODY | dict(from_email="TALENT@example.com"))
    assert answer.status_code == 409
    assert answer.json()["code"] == "SENDER_EXISTS"
    assert from_emails(listed_items(client, org, SENDERS)) == ["talent@example.com"]


def test_a_from_email_may_be_a_sender_in_each_organization(
    client: TestClient, org: Org, other_org: Org
) -> None:
    add_sender(client, other_org)
    add_sender(client, org)


@pytest.mark.parametrize("email", ["not-an-email", "a b@example.com", "ada@", ""])
def test_invalid_from_email_is_refused(client: TestClient, org: Org, email: str) -> None:
    answer = post(client, org, SENDERS, BODY | dict(from_email=email))
    assert answer.status_code == 422
    assert answer.json()["code"] == "SENDER_EMAIL_INVALID"
    assert answer.json()["errors"][0]["field"] == "from_email"


@pytest.mark.parametrize(
    ("port", "code"), [(0, "VALUE_TOO_SMALL"), (65536, "VALUE_TOO_LARGE")], ids=["zero", "high"]
)
def test_port_out_of_range_is_refused(client: TestClient, org: Org, port: int, code: str) -> None:
    answer = post(client, org, SENDERS, BODY | dict(smtp_port=port))
    assert answer.status_code == 422
    assert answer.json()["code"] == code
    assert answer.json()["errors"][0]["field"] == "smtp_port"


def test_unknown_tls_mode_is_refused(client: TestClient, org: Org) -> None:
    answer = post(client, org, SENDERS, BODY | dict(smtp_tls="ssl"))
    assert answer.status_code == 422
    assert answer.json()["code"] == "VALUE_NOT_ALLOWED"
    assert answer.json()["errors"][0]["field"] == "smtp_tls"


@pytest.mark.parametrize(
    ("host", "code"),
    [("  ", "SENDER_HOST_REQUIRED"), ("a" * 254, "SENDER_HOST_TOO_LONG")],
    ids=["blank", "long"],
)
def test_invalid_smtp_host_is_refused(client: TestClient, org: Org, host: str, code: str) -> None:
    answer = post(client, org, SENDERS, BODY | dict(smtp_host=host))
    assert answer.status_code == 422
    assert answer.json()["code"] == code


def test_loopback_smtp_host_is_allowed(client: TestClient, org: Org) -> None:
    assert (
        add_sender(client, org, smtp_host="127.0.0.1", smtp_tls="none")["smtp_host"] == "127.0.0.1"
    )


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"from_name": "Talent\r\nBcc: all@example.com"}, "from_name"),
        ({"from_name": "Talent\u2028team"}, "from_name"),
        ({"from_name": "Talent\u0085team"}, "from_name"),
        ({"from_name": "Talent\u0000"}, "from_name"),
        ({"smtp_username": "sam\r\nAUTH LOGIN"}, "smtp_username"),
        ({"from_email": "talent@example.com\r\nBcc: all@example.com"}, "from_email"),
    ],
)
def test_control_characters_in_header_text_are_refused(
    client: TestClient, org: Org, fields: dict[str, str], field: str
) -> None:
    answer = post(client, org, SENDERS, BODY | fields)
    assert answer.status_code == 422
    assert answer.json()["code"] == "TEXT_CONTROL_CHARACTERS"
    assert answer.json()["errors"][0]["field"] == field
    sender = add_sender(client, org)
    patched = patch(client, org, f"{SENDERS}/{sender['id']}", fields)
    assert (patched.status_code, patched.json()["code"]) == (422, "TEXT_CONTROL_CHARACTERS")


def test_unknown_body_field_is_refused(client: TestClient, org: Org) -> None:
    answer = post(client, org, SENDERS, BODY | dict(org_id=str(org.id)))
    assert answer.json()["code"] == "FIELD_UNKNOWN"


def test_create_replays_the_first_answer_for_the_same_idempotency_key(
    client: TestClient, org: Org
) -> None:
    headers = org.headers() | {"Idempotency-Key": "sender-1"}
    first = client.post(SENDERS, json=BODY, headers=headers)
    again = client.post(SENDERS, json=BODY, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert from_emails(listed_items(client, org, SENDERS)) == ["talent@example.com"]


def test_get_returns_the_sender_to_any_role(client: TestClient, org: Org) -> None:
    sender = add_sender(client, org)
    for role in Role:
        answer = client.get(f"{SENDERS}/{sender['id']}", headers=org.headers(role))
        assert answer.status_code == 200
        assert answer.json() == sender


def test_list_pages_newest_first(client: TestClient, org: Org) -> None:
    emails = [
        add_sender(client, org, from_email=f"s{i}@example.com")["from_email"] for i in range(5)
    ]
    seen: list[str] = []
    cursor = None
    for expected_size in (2, 2, 1):
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = client.get(SENDERS, params=params, headers=org.headers()).json()
        assert len(page["items"]) == expected_size
        seen += [item["from_email"] for item in page["items"]]
        cursor = page["next_cursor"]
    assert cursor is None
    assert seen == emails[::-1]


def test_patch_changes_only_the_given_fields(client: TestClient, org: Org) -> None:
    sender = add_sender(client, org, from_name="Talent team")
    answer = patch(client, org, f"{SENDERS}/{sender['id']}", dict(hourly_limit=20, smtp_tls="none"))
    assert answer.status_code == 200, answer.text
    changed = answer.json()
    assert (changed["hourly_limit"], changed["smtp_tls"]) == (20, "none")
    assert changed["from_name"] == "Talent team"
    assert changed["daily_limit"] == 1000


def test_patch_null_clears_the_from_name(client: TestClient, org: Org) -> None:
    sender = add_sender(client, org, from_name="Talent team")
    answer = patch(client, org, f"{SENDERS}/{sender['id']}", dict(from_name=None))
    assert answer.status_code == 200
    assert answer.json()["from_name"] is None


def test_patch_null_on_a_required_field_is_refused(client: TestClient, org: Org) -> None:
    sender = add_sender(client, org)
    answer = patch(client, org, f"{SENDERS}/{sender['id']}", dict(smtp_host=None))
    assert answer.status_code == 422
    assert answer.json()["code"] == "VALUE_REQUIRED"


def test_patch_changes_and_removes_the_password(
    client: TestClient, org: Org, settings: Settings, as_owner: psycopg.Connection
) -> None:
    sender = add_sender(client, org, smtp_password="old-pass")
    answer = patch(client, org, f"{SENDERS}/{sender['id']}", dict(smtp_password="new-pass"))
    assert answer.status_code == 200
    assert answer.json()["has_password"] is True
    assert "smtp_password" not in answer.json()
    ciphertext = stored_password(as_owner, sender["id"])
    assert ciphertext is not None
    assert SenderSecrets(settings.sender_secret_keys).decrypt(ciphertext) == "new-pass"

    assert (
        patch(client, org, f"{SENDERS}/{sender['id']}", dict(from_name="Kept")).json()[
            "has_password"
        ]
        is True
    )
    assert (
        patch(client, org, f"{SENDERS}/{sender['id']}", dict(smtp_password=None)).json()[
            "has_password"
        ]
        is False
    )
    assert stored_password(as_owner, sender["id"]) is None


def test_patch_to_another_senders_email_is_refused(client: TestClient, org: Org) -> None:
    add_sender(client, org)
    sender = add_sender(client, org, from_email="jobs@example.com")
    answer = patch(client, org, f"{SENDERS}/{sender['id']}", dict(from_email="Talent@Example.com"))
    assert answer.status_code == 409
    assert answer.json()["code"] == "SENDER_EXISTS"


def test_manager_deletes_a_sender(client: TestClient, org: Org) -> None:
    sender = add_sender(client, org)
    answer = client.delete(f"{SENDERS}/{sender['id']}", headers=org.headers(Role.TA_MANAGER))
    assert answer.status_code == 204
    assert from_emails(listed_items(client, org, SENDERS)) == []


def test_ta_manager_may_create_and_change_senders(client: TestClient, org: Org) -> None:
    sender = post(client, org, SENDERS, BODY, Role.TA_MANAGER)
    assert sender.status_code == 201
    assert (
        patch(
            client, org, f"{SENDERS}/{sender.json()['id']}", dict(hourly_limit=5), Role.TA_MANAGER
        ).status_code
        == 200
    )


@pytest.mark.parametrize("role", [Role.RECRUITER, Role.VIEWER])
def test_only_managers_change_senders(client: TestClient, org: Org, role: Role) -> None:
    assert post(client, org, SENDERS, BODY, role).status_code == 403
    sender = add_sender(client, org)
    answer = patch(client, org, f"{SENDERS}/{sender['id']}", dict(hourly_limit=5), role)
    assert answer.status_code == 403
    assert answer.json()["code"] == "FORBIDDEN"
    deleted = client.delete(f"{SENDERS}/{sender['id']}", headers=org.headers(role))
    assert deleted.status_code == 403
    assert from_emails(listed_items(client, org, SENDERS)) == ["talent@example.com"]


def test_list_never_shows_another_orgs_senders(
    client: TestClient, org: Org, other_org: Org
) -> None:
    add_sender(client, other_org)
    assert from_emails(listed_items(client, org, SENDERS)) == []


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
def test_another_orgs_sender_is_not_found(
    client: TestClient, org: Org, other_org: Org, method: str
) -> None:
    sender = add_sender(client, other_org)
    body = {"hourly_limit": 5} if method == "PATCH" else None
    answer = client.request(method, f"{SENDERS}/{sender['id']}", json=body, headers=org.headers())
    assert answer.status_code == 404
    assert answer.json()["code"] == "NOT_FOUND"
    assert client.get(f"{SENDERS}/{sender['id']}", headers=other_org.headers()).json() == sender
