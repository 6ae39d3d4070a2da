"""A sender's mailbox settings: put, replace, delete, the write-only secret, validation codes,
the target guard, roles and tenancy."""

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from outreach.auth.tokens import Role
from outreach.config import Settings
from outreach.db import DatabaseUrls
from outreach.main import create_app
from outreach.sending.secrets import SenderSecrets
from tests.factories import Org, add_sender, listed_items, ok, production_settings
from tests.sending.system_senders import add_system_sender

SENDERS = "/api/v1/senders"
MAILBOX = {"imap_host": "imap.example.com", "imap_password": "imap-s3cret"}


def put_mailbox(
    client: TestClient, org: Org, sender_id: str, body: dict[str, Any], role: Role = Role.ADMIN
) -> Any:
    return client.put(f"{SENDERS}/{sender_id}/mailbox", json=body, headers=org.headers(role))


def mailbox_row(as_owner: psycopg.Connection, sender_id: str) -> dict[str, Any]:
    with as_owner.cursor(row_factory=psycopg.rows.dict_row) as cursor:
        cursor.execute("SELECT * FROM sender_mailboxes WHERE sender_id = %s", (sender_id,))
        row = cursor.fetchone()
    assert row is not None
    return row


def error_code(answer: Any) -> str:
    assert answer.status_code == 422, answer.text
    return str(answer.json()["code"])


def test_a_sender_has_no_mailbox_until_one_is_put(client: TestClient, org: Org) -> None:
    sender = add_sender(client, org)
    assert sender["mailbox"] is None
    assert ok(client.get(f"{SENDERS}/{sender['id']}", headers=org.headers()))["mailbox"] is None


def test_mailbox_defaults_and_the_sender_shows_it(client: TestClient, org: Org) -> None:
    sender = add_sender(client, org)
    answered = ok(put_mailbox(client, org, sender["id"], MAILBOX))
    expected = {
        "imap_host": "imap.example.com",
        "imap_port": 993,
        "imap_tls": "tls",
        "imap_username": "talent@example.com",
        "auth": "password",
        "last_sync_at": None,
        "last_uid": 0,
        "last_error": None,
    }
    assert answered["mailbox"] == expected
    assert ok(client.get(f"{SENDERS}/{sender['id']}", headers=org.headers()))["mailbox"] == expected
    assert listed_items(client, org, SENDERS)[0]["mailbox"] == expected


def test_secret_is_stored_encrypted_and_never_returned(
    client: TestClient, org: Org, settings: Settings, as_owner: psycopg.Connection
) -> None:
    sender = add_sender(client, org)
    token_body = {"imap_host": "imap.example.com", "oauth2_token": "ya29.token-value"}
    answers = [
        put_mailbox(client, org, sender["id"], MAILBOX).json(),
        client.get(f"{SENDERS}/{sender['id']}", headers=org.headers()).json(),
        put_mailbox(client, org, sender["id"], token_body).json(),
        client.get(SENDERS, headers=org.headers()).json(),
    ]
    for answer in answers:
        assert "imap-s3cret" not in str(answer)
        assert "ya29.token-value" not in str(answer)
        assert "secret_encrypted" not in str(answer)
    assert answers[2]["mailbox"]["auth"] == "oauth2"
    stored = mailbox_row(as_owner, sender["id"])["secret_encrypted"]
    assert "ya29" not in stored
    assert SenderSecrets(settings.sender_secret_keys).decrypt(stored) == "ya29.token-value"


def test_replacing_the_settings_clears_the_error_and_makes_the_mailbox_due(
    client: TestClient, org: Org, as_owner: psycopg.Connection
) -> None:
    sender = add_sender(client, org)
    put_mailbox(client, org, sender["id"], MAILBOX)
    as_owner.execute(
        "UPDATE sender_mailboxes SET last_error = 'login refused', uid_validity = 7, "
        "last_uid = 42, last_sync_at = now(), next_sync_at = now() + interval '1 hour' "
        "WHERE sender_id = %s",
        (sender["id"],),
    )
    mailbox = ok(put_mailbox(client, org, sender["id"], MAILBOX | {"imap_port": 143}))["mailbox"]
    assert (mailbox["last_error"], mailbox["imap_port"], mailbox["last_uid"]) == (None, 143, 42)
    row = mailbox_row(as_owner, sender["id"])
    assert row["uid_validity"] == 7
    due = as_owner.execute("SELECT %s <= now()", (row["next_sync_at"],)).fetchone()
    assert due == (True,)


@pytest.mark.parametrize(
    "change", [{"imap_host": "imap.other.example.com"}, {"imap_username": "someone@example.com"}]
)
def test_another_mailbox_starts_its_sync_over(
    client: TestClient, org: Org, as_owner: psycopg.Connection, change: dict[str, str]
) -> None:
    sender = add_sender(client, org)
    put_mailbox(client, org, sender["id"], MAILBOX)
    as_owner.execute(
        "UPDATE sender_mailboxes SET uid_validity = 7, last_uid = 42, last_sync_at = now() "
        "WHERE sender_id = %s",
        (sender["id"],),
    )
    mailbox = ok(put_mailbox(client, org, sender["id"], MAILBOX | change))["mailbox"]
    assert (mailbox["last_uid"], mailbox["last_sync_at"]) == (0, None)
    assert mailbox_row(as_owner, sender["id"])["uid_validity"] is None


def test_the_same_host_in_other_letters_is_the_same_mailbox(
    client: TestClient, org: Org, as_owner: psycopg.Connection
) -> None:
    sender = add_sender(client, org)
    put_mailbox(client, org, sender["id"], MAILBOX)
    as_owner.execute(
        "UPDATE sender_mailboxes SET last_uid = 42 WHERE sender_id = %s", (sender["id"],)
    )
    mailbox = ok(
        put_mailbox(client, org, sender["id"], MAILBOX | {"imap_host": "IMAP.example.com"})
    )
    assert mailbox["mailbox"]["last_uid"] == 42


def test_deleting_the_mailbox(client: TestClient, org: Org) -> None:
    sender = add_sender(client, org)
    put_mailbox(client, org, sender["id"], MAILBOX)
    path = f"{SENDERS}/{sender['id']}/mailbox"
    assert client.delete(path, headers=org.headers()).status_code == 204
    assert ok(client.get(f"{SENDERS}/{sender['id']}", headers=org.headers()))["mailbox"] is None
    again = client.delete(path, headers=org.headers())
    assert (again.status_code, again.json()["title"]) == (404, "Mailbox not found")


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"imap_host": "  "}, "MAILBOX_HOST_REQUIRED"),
        ({"imap_host": "a" * 254}, "MAILBOX_HOST_TOO_LONG"),
        ({"imap_host": "imap example.com"}, "MAILBOX_HOST_INVALID"),
        ({"imap_host": "imap.example.com\x00"}, "MAILBOX_HOST_INVALID"),
        ({"imap_port": 0}, "VALUE_TOO_SMALL"),
        ({"imap_port": 65536}, "VALUE_TOO_LARGE"),
        ({"imap_tls": "ssl"}, "VALUE_NOT_ALLOWED"),
        ({"imap_username": "a" * 321}, "VALUE_TOO_LONG"),
        ({"imap_username": "ada\r\nA1 LOGOUT"}, "TEXT_CONTROL_CHARACTERS"),
        ({"imap_password": ""}, "VALUE_TOO_SHORT"),
        ({"imap_password": "p" * 1001}, "VALUE_TOO_LONG"),
        ({"imap_password": "pass\r\nA1 LOGOUT"}, "TEXT_CONTROL_CHARACTERS"),
        ({"imap_password": None, "oauth2_token": "t" * 10_001}, "VALUE_TOO_LONG"),
        ({"oauth2_token": "ya29.token"}, "MAILBOX_SECRET_CONFLICT"),
        ({"imap_password": None}, "MAILBOX_SECRET_REQUIRED"),
        ({"smtp_host": "smtp.example.com"}, "FIELD_UNKNOWN"),
        ({"imap_host": "169.254.169.254"}, "TARGET_NOT_ALLOWED"),
        ({"imap_host": "metadata.google.internal"}, "TARGET_NOT_ALLOWED"),
    ],
)
def test_invalid_settings_are_refused_with_their_code(
    client: TestClient, org: Org, as_owner: psycopg.Connection, change: dict[str, Any], code: str
) -> None:
    sender = add_sender(client, org)
    body = {key: value for key, value in (MAILBOX | change).items() if value is not None}
    assert error_code(put_mailbox(client, org, sender["id"], body)) == code
    assert as_owner.execute(
        "SELECT count(*) FROM sender_mailboxes WHERE sender_id = %s", (sender["id"],)
    ).fetchone() == (0,)


@pytest.fixture(scope="module")
def production(settings: Settings, database_urls: DatabaseUrls) -> Iterator[TestClient]:
    with TestClient(create_app(production_settings(settings), database_urls)) as client:
        yield client


def test_production_refuses_a_loopback_imap_host(production: TestClient) -> None:
    org = Org(production.app.state.settings)  # type: ignore[attr-defined]
    sender = add_sender(production, org)
    answer = put_mailbox(production, org, sender["id"], MAILBOX | {"imap_host": "127.0.0.1"})
    assert error_code(answer) == "TARGET_NOT_ALLOWED"
    assert "loopback" in answer.json()["errors"][0]["message"]


def test_the_system_sender_has_no_mailbox(
    client: TestClient, org: Org, as_owner: psycopg.Connection
) -> None:
    sender_id = add_system_sender(client, as_owner, org)
    answer = put_mailbox(client, org, sender_id, MAILBOX)
    assert (answer.status_code, answer.json()["code"]) == (409, "SENDER_SYSTEM_READ_ONLY")


@pytest.mark.parametrize("role", [Role.RECRUITER, Role.VIEWER])
def test_only_managers_change_a_mailbox(client: TestClient, org: Org, role: Role) -> None:
    sender = add_sender(client, org)
    assert put_mailbox(client, org, sender["id"], MAILBOX, role).status_code == 403
    put_mailbox(client, org, sender["id"], MAILBOX, Role.TA_MANAGER)
    path = f"{SENDERS}/{sender['id']}/mailbox"
    assert client.delete(path, headers=org.headers(role)).status_code == 403
    assert client.get(f"{SENDERS}/{sender['id']}", headers=org.headers(role)).json()["mailbox"]


def test_another_organizations_sender_is_not_found(
    client: TestClient, org: Org, other_org: Org
) -> None:
    sender = add_sender(client, org)
    assert put_mailbox(client, other_org, sender["id"], MAILBOX).status_code == 404
    put_mailbox(client, org, sender["id"], MAILBOX)
    path = f"{SENDERS}/{sender['id']}/mailbox"
    assert client.delete(path, headers=other_org.headers()).status_code == 404
    assert client.get(f"{SENDERS}/{sender['id']}", headers=org.headers()).json()["mailbox"]
