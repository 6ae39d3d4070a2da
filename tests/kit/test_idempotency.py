"""Idempotency-Key on creating POSTs: replay, reuse with another body, in progress, scope."""

import uuid

import psycopg
from fastapi.testclient import TestClient

from tests.factories import Org


def create(
    client: TestClient,
    org: Org,
    key: str,
    name: str = "Java developers",
    user_id: uuid.UUID | None = None,
) -> object:
    return client.post(
        "/api/v1/campaigns",
        json={"name": name},
        headers={**org.headers(user_id=user_id), "Idempotency-Key": key},
    )


def campaign_count(client: TestClient, org: Org) -> int:
    return len(client.get("/api/v1/campaigns", headers=org.headers()).json()["items"])


def test_the_same_key_and_body_replays_the_first_answer(client: TestClient, org: Org) -> None:
    first = create(client, org, "key-1")
    again = create(client, org, "key-1")
    assert first.status_code == again.status_code == 201  # type: ignore[attr-defined]
    assert first.json() == again.json()  # type: ignore[attr-defined]
    assert again.headers["Idempotent-Replayed"] == "true"  # type: ignore[attr-defined]
    assert campaign_count(client, org) == 1


def test_the_same_key_with_another_body_is_refused(client: TestClient, org: Org) -> None:
    create(client, org, "key-2")
    other = create(client, org, "key-2", name="Python developers")
    assert other.status_code == 422  # type: ignore[attr-defined]
    assert other.json()["code"] == "IDEMPOTENCY_KEY_REUSED"  # type: ignore[attr-defined]
    assert campaign_count(client, org) == 1


def test_a_key_still_in_progress_answers_409(
    client: TestClient, org: Org, as_owner: psycopg.Connection
) -> None:
    with as_owner.transaction():
        as_owner.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
            (f"idempotency:{org.id}:{org.user()}:key-3",),
        )
        busy = create(client, org, "key-3")
    assert busy.status_code == 409  # type: ignore[attr-defined]
    assert busy.json()["code"] == "IDEMPOTENCY_KEY_IN_PROGRESS"  # type: ignore[attr-defined]
    assert create(client, org, "key-3").status_code == 201  # type: ignore[attr-defined]


def test_a_failed_request_leaves_no_key_behind(client: TestClient, org: Org) -> None:
    failed = create(client, org, "key-4", name="")
    assert failed.status_code == 422  # type: ignore[attr-defined]
    assert create(client, org, "key-4").status_code == 201  # type: ignore[attr-defined]


def test_keys_are_scoped_to_the_organization(client: TestClient, org: Org, other_org: Org) -> None:
    mine = create(client, org, "shared-key")
    theirs = create(client, other_org, "shared-key")
    assert theirs.status_code == 201  # type: ignore[attr-defined]
    assert theirs.json()["id"] != mine.json()["id"]  # type: ignore[attr-defined]


def test_keys_are_scoped_to_the_user(client: TestClient, org: Org) -> None:
    first_user, second_user = uuid.uuid4(), uuid.uuid4()
    mine = create(client, org, "user-key", user_id=first_user)
    theirs = create(client, org, "user-key", user_id=second_user)
    assert theirs.status_code == 201  # type: ignore[attr-defined]
    assert "Idempotent-Replayed" not in theirs.headers  # type: ignore[attr-defined]
    assert theirs.json()["id"] != mine.json()["id"]  # type: ignore[attr-defined]
    again = create(client, org, "user-key", user_id=second_user)
    assert again.json()["id"] == theirs.json()["id"]  # type: ignore[attr-defined]
    assert campaign_count(client, org) == 2


def test_the_same_key_of_another_user_with_another_body_is_a_new_request(
    client: TestClient, org: Org
) -> None:
    create(client, org, "user-key-2", user_id=uuid.uuid4())
    other = create(client, org, "user-key-2", name="Python developers", user_id=uuid.uuid4())
    assert other.status_code == 201  # type: ignore[attr-defined]
