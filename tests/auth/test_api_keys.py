"""API keys over HTTP: minted once and kept as a hash, acting as a user of their own with their
role in their organization only, refused at once when expired or revoked (on every replica),
managed by admins with a person's token."""

import hashlib
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from outreach.auth.tokens import Role, mint_token
from outreach.config import Settings
from outreach.db import DatabaseUrls
from outreach.kit.tenancy import set_org
from outreach.main import create_app
from tests.factories import Org, bearer, create_api_key, create_campaign, ok, post

API_KEYS = "/api/v1/api-keys"
CAMPAIGNS = "/api/v1/campaigns"


@pytest.fixture(scope="module")
def second_replica(settings: Settings, database_urls: DatabaseUrls) -> Iterator[TestClient]:
    """Another app on the same database, as a second API replica would be."""
    with TestClient(create_app(settings, database_urls), raise_server_exceptions=False) as other:
        yield other


def key_row(as_owner: psycopg.Connection, key_id: str) -> dict[str, Any]:
    cursor = as_owner.cursor(row_factory=psycopg.rows.dict_row)
    row = cursor.execute("SELECT * FROM api_keys WHERE id = %s", (key_id,)).fetchone()
    assert row is not None
    return row


def test_a_key_is_shown_once_and_only_its_hash_is_stored(
    client: TestClient, org: Org, as_owner: psycopg.Connection
) -> None:
    created = create_api_key(client, org, Role.RECRUITER, name="ATS sync")
    key = created.pop("key")
    assert key.startswith(f"ok_live_{org.id.hex}_")
    assert created["name"] == "ATS sync"
    assert created["role"] == "recruiter"
    assert created["created_by"] == str(org.user())
    assert created["revoked_at"] is None
    assert created["key_hint"] == f"ok_live_...{key[-4:]}"
    listed = ok(client.get(API_KEYS, headers=org.headers()))
    one = ok(client.get(f"{API_KEYS}/{created['id']}", headers=org.headers()))
    assert listed["items"] == [created]
    assert one == created
    assert "key" not in one
    row = key_row(as_owner, created["id"])
    assert bytes(row["key_hash"]) == hashlib.sha256(key.encode()).digest()
    assert not any(key[-20:] in str(value) for value in row.values())


def test_a_key_acts_as_a_user_of_its_own_with_its_role(
    client: TestClient, org: Org, as_owner: psycopg.Connection
) -> None:
    created = create_api_key(client, org, Role.RECRUITER)
    answer = client.post(
        CAMPAIGNS, json={"name": "From the ATS", "channel": "email"}, headers=bearer(created["key"])
    )
    campaign = ok(answer, 201)
    assert campaign["owner_id"] == created["id"]
    profile = as_owner.execute(
        "SELECT org_id, role, kind, name FROM user_profiles WHERE id = %s", (created["id"],)
    ).fetchone()
    assert profile == (org.id, "recruiter", "api_key", "recruiter integration")
    # a recruiter changes only what it owns: the admin's campaign is not the key's
    others = create_campaign(client, org)
    edit = client.patch(
        f"{CAMPAIGNS}/{others['id']}", json={"name": "Renamed"}, headers=bearer(created["key"])
    )
    assert edit.status_code == 403


def test_a_viewer_key_reads_but_cannot_write(client: TestClient, org: Org) -> None:
    key = create_api_key(client, org, Role.VIEWER)["key"]
    campaign = create_campaign(client, org)
    assert client.get(f"{CAMPAIGNS}/{campaign['id']}", headers=bearer(key)).status_code == 200
    answer = client.post(
        CAMPAIGNS, json={"name": "Not allowed", "channel": "email"}, headers=bearer(key)
    )
    assert answer.status_code == 403
    assert answer.json()["code"] == "FORBIDDEN"


def test_a_key_sees_nothing_of_another_organization(
    client: TestClient, org: Org, other_org: Org
) -> None:
    key = create_api_key(client, org)["key"]
    theirs = create_campaign(client, other_org)
    answer = client.get(f"{CAMPAIGNS}/{theirs['id']}", headers=bearer(key))
    assert answer.status_code == 404
    listed = ok(client.get(CAMPAIGNS, headers=bearer(key)))
    assert theirs["id"] not in {c["id"] for c in listed["items"]}


def test_a_key_naming_another_organization_is_unknown(
    client: TestClient, org: Org, other_org: Org
) -> None:
    """The organization in a key only says where to look: with another one it finds nothing."""
    key = create_api_key(client, org)["key"]
    create_campaign(client, other_org)
    moved = key.replace(org.id.hex, other_org.id.hex)
    answer = client.get(CAMPAIGNS, headers=bearer(moved))
    assert answer.status_code == 401
    assert answer.json()["code"] == "UNAUTHORIZED"


@pytest.mark.parametrize(
    "key",
    [
        "ok_live_",
        "ok_live_not-a-key",
        f"ok_live_{uuid.uuid4().hex}_{'a' * 42}",
        f"ok_live_{uuid.uuid4().hex}_{'a' * 43}",  # well formed, unknown
    ],
)
def test_a_malformed_or_unknown_key_is_refused(client: TestClient, key: str) -> None:
    answer = client.get(CAMPAIGNS, headers=bearer(key))
    assert answer.status_code == 401
    assert answer.json()["code"] == "UNAUTHORIZED"


def test_a_wrong_secret_of_a_known_organization_is_refused(client: TestClient, org: Org) -> None:
    key = create_api_key(client, org)["key"]
    wrong = key[:-1] + ("a" if key[-1] != "a" else "b")
    assert client.get(CAMPAIGNS, headers=bearer(wrong)).status_code == 401


def test_an_expired_key_is_refused(
    client: TestClient, org: Org, as_owner: psycopg.Connection
) -> None:
    created = create_api_key(
        client, org, expires_at=(datetime.now(UTC) + timedelta(hours=1)).isoformat()
    )
    assert client.get(CAMPAIGNS, headers=bearer(created["key"])).status_code == 200
    as_owner.execute(
        "UPDATE api_keys SET created_at = now() - interval '2 hours', "
        "expires_at = now() - interval '1 second' WHERE id = %s",
        (created["id"],),
    )
    answer = client.get(CAMPAIGNS, headers=bearer(created["key"]))
    assert answer.status_code == 401
    assert "expired" in answer.json()["detail"]


def test_a_revoked_key_is_refused_at_once_by_every_replica(
    client: TestClient, second_replica: TestClient, org: Org
) -> None:
    created = create_api_key(client, org)
    for replica in (client, second_replica):
        assert replica.get(CAMPAIGNS, headers=bearer(created["key"])).status_code == 200
    revoked = client.delete(f"{API_KEYS}/{created['id']}", headers=org.headers())
    assert revoked.status_code == 204
    for replica in (second_replica, client):
        answer = replica.get(CAMPAIGNS, headers=bearer(created["key"]))
        assert answer.status_code == 401
        assert "revoked" in answer.json()["detail"]


def test_a_revoked_key_stays_listed_with_its_first_revocation(client: TestClient, org: Org) -> None:
    created = create_api_key(client, org)
    path = f"{API_KEYS}/{created['id']}"
    assert client.delete(path, headers=org.headers()).status_code == 204
    first = ok(client.get(path, headers=org.headers()))["revoked_at"]
    assert first is not None
    assert client.delete(path, headers=org.headers()).status_code == 204
    assert ok(client.get(path, headers=org.headers()))["revoked_at"] == first


@pytest.mark.parametrize("role", [Role.TA_MANAGER, Role.RECRUITER, Role.VIEWER])
def test_only_admins_manage_keys(client: TestClient, org: Org, role: Role) -> None:
    created = create_api_key(client, org)
    answers = [
        post(client, org, API_KEYS, {"name": "Mine", "role": "viewer"}, role=role),
        client.get(API_KEYS, headers=org.headers(role)),
        client.get(f"{API_KEYS}/{created['id']}", headers=org.headers(role)),
        client.delete(f"{API_KEYS}/{created['id']}", headers=org.headers(role)),
    ]
    assert [a.status_code for a in answers] == [403] * 4
    assert {a.json()["code"] for a in answers} == {"FORBIDDEN"}
    assert client.get(CAMPAIGNS, headers=bearer(created["key"])).status_code == 200


def test_an_admin_key_cannot_manage_keys(client: TestClient, org: Org) -> None:
    key = create_api_key(client, org, Role.ADMIN)["key"]
    answer = client.post(API_KEYS, json={"name": "Child", "role": "admin"}, headers=bearer(key))
    assert answer.status_code == 403
    assert client.get(API_KEYS, headers=bearer(key)).status_code == 403


def test_a_token_naming_a_keys_profile_is_refused(
    client: TestClient, org: Org, settings: Settings
) -> None:
    """A key's profile is not a person's: a token cannot take it over (and change its role)."""
    created = create_api_key(client, org, Role.VIEWER)
    token = mint_token(settings, org_id=org.id, user_id=uuid.UUID(created["id"]), role=Role.ADMIN)
    body = {"name": "Taken over", "channel": "email"}
    answer = client.post(CAMPAIGNS, json=body, headers=bearer(token))
    assert answer.status_code == 403


def test_another_organizations_key_is_not_found(
    client: TestClient, org: Org, other_org: Org
) -> None:
    theirs = create_api_key(client, other_org)
    create_api_key(client, org)
    path = f"{API_KEYS}/{theirs['id']}"
    assert client.get(path, headers=org.headers()).status_code == 404
    assert client.delete(path, headers=org.headers()).status_code == 404
    assert client.get(CAMPAIGNS, headers=bearer(theirs["key"])).status_code == 200


def test_last_use_is_noted_at_most_once_a_minute(
    client: TestClient, org: Org, as_owner: psycopg.Connection
) -> None:
    created = create_api_key(client, org)
    assert created["last_used_at"] is None
    client.get(CAMPAIGNS, headers=bearer(created["key"]))
    first = key_row(as_owner, created["id"])["last_used_at"]
    assert first is not None
    client.get(CAMPAIGNS, headers=bearer(created["key"]))
    assert key_row(as_owner, created["id"])["last_used_at"] == first
    as_owner.execute(
        "UPDATE api_keys SET last_used_at = now() - interval '61 seconds' WHERE id = %s",
        (created["id"],),
    )
    client.get(CAMPAIGNS, headers=bearer(created["key"]))
    assert key_row(as_owner, created["id"])["last_used_at"] > first - timedelta(seconds=1)


def test_keys_are_listed_newest_first_in_pages(client: TestClient, org: Org) -> None:
    made = [create_api_key(client, org, name=f"Key {i}")["id"] for i in range(3)]
    first = ok(client.get(API_KEYS, params={"limit": 2}, headers=org.headers()))
    rest = ok(
        client.get(
            API_KEYS, params={"limit": 2, "cursor": first["next_cursor"]}, headers=org.headers()
        )
    )
    assert [k["id"] for k in first["items"] + rest["items"]] == made[::-1]
    assert rest["next_cursor"] is None


def test_an_organization_holds_at_most_100_usable_keys(
    client: TestClient, org: Org, as_owner: psycopg.Connection
) -> None:
    first = create_api_key(client, org)
    for _ in range(99):
        create_api_key(client, org)
    answer = post(client, org, API_KEYS, {"name": "One more", "role": "viewer"})
    assert answer.status_code == 409
    assert answer.json()["code"] == "API_KEY_LIMIT_REACHED"
    assert client.delete(f"{API_KEYS}/{first['id']}", headers=org.headers()).status_code == 204
    create_api_key(client, org)


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"role": "viewer"}, "name", "FIELD_REQUIRED"),
        ({"name": "   ", "role": "viewer"}, "name", "VALUE_TOO_SHORT"),
        ({"name": "x" * 101, "role": "viewer"}, "name", "VALUE_TOO_LONG"),
        ({"name": "two\nlines", "role": "viewer"}, "name", "TEXT_CONTROL_CHARACTERS"),
        ({"name": "Sync"}, "role", "FIELD_REQUIRED"),
        ({"name": "Sync", "role": "owner"}, "role", "VALUE_NOT_ALLOWED"),
        ({"name": "Sync", "role": "viewer", "scope": "all"}, "scope", "FIELD_UNKNOWN"),
        (
            {"name": "Sync", "role": "viewer", "expires_at": "2030-01-01T00:00:00"},
            "expires_at",
            "VALUE_INVALID",  # no offset
        ),
        (
            {"name": "Sync", "role": "viewer", "expires_at": "2020-01-01T00:00:00Z"},
            "expires_at",
            "API_KEY_EXPIRY_IN_PAST",
        ),
    ],
)
def test_an_invalid_key_request_is_refused(
    client: TestClient, org: Org, body: dict[str, Any], field: str, code: str
) -> None:
    answer = post(client, org, API_KEYS, body)
    assert answer.status_code == 422, answer.text
    errors = answer.json()["errors"]
    assert [(e["field"], e["code"]) for e in errors] == [(field, code)]


def visible_keys(conn: psycopg.Connection, org: Org) -> set[str]:
    with conn.transaction():
        set_org(conn, org.id)
        return {str(row[0]) for row in conn.execute("SELECT id FROM api_keys")}


def test_the_app_role_sees_only_its_organizations_keys(
    client: TestClient, org: Org, other_org: Org, as_app: psycopg.Connection
) -> None:
    mine, theirs = create_api_key(client, org)["id"], create_api_key(client, other_org)["id"]
    assert visible_keys(as_app, org) == {mine}
    assert visible_keys(as_app, other_org) == {theirs}
    assert as_app.execute("SELECT count(*) FROM api_keys").fetchone() == (0,)  # no org: none


def test_without_its_policy_the_app_role_would_see_every_key(
    client: TestClient, org: Org, other_org: Org, as_owner: psycopg.Connection
) -> None:
    """The test above proves the policy: with it dropped, the other organization's key shows."""
    theirs = create_api_key(client, other_org)["id"]
    with as_owner.transaction(force_rollback=True):
        as_owner.execute("DROP POLICY tenant_isolation ON api_keys")
        as_owner.execute("ALTER TABLE api_keys DISABLE ROW LEVEL SECURITY")
        as_owner.execute("SET LOCAL ROLE outreach_app")
        set_org(as_owner, org.id)
        assert theirs in {str(row[0]) for row in as_owner.execute("SELECT id FROM api_keys")}
