"""Requests per minute per user and per API key: the RateLimit headers on every counted answer,
429 RATE_LIMITED with Retry-After past the budget, the count shared by every replica."""

import time
from collections.abc import Iterator

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient

from outreach.auth.tokens import Role
from outreach.config import Settings
from outreach.db import DatabaseUrls
from outreach.kit import ratelimit
from outreach.main import create_app
from tests.factories import Org, bearer, create_api_key

CAMPAIGNS = "/api/v1/campaigns"
BUDGET = 3


def app_client(settings: Settings, urls: DatabaseUrls, per_minute: int) -> TestClient:
    changed = settings.model_copy(update={"rate_limit_per_minute": per_minute})
    return TestClient(create_app(changed, urls), raise_server_exceptions=False)


@pytest.fixture(scope="module")
def replicas(settings: Settings, database_urls: DatabaseUrls) -> Iterator[list[TestClient]]:
    """Two API replicas on one database, each allowing BUDGET requests a minute."""
    with (
        app_client(settings, database_urls, BUDGET) as first,
        app_client(settings, database_urls, BUDGET) as second,
    ):
        yield [first, second]


def early_in_a_window(client: TestClient, headers: dict[str, str]) -> httpx.Response:
    """A first counted request with at least 10 s left in its window, so that the ones after it
    fall in the same window."""
    answer = client.get(CAMPAIGNS, headers=headers)
    reset = int(answer.headers["RateLimit-Reset"])
    if reset >= 10:
        return answer
    time.sleep(reset + 0.2)
    return client.get(CAMPAIGNS, headers=headers)


def counted_uses(as_owner: psycopg.Connection, org: Org) -> int:
    row = as_owner.execute(
        "SELECT coalesce(sum(uses), 0) FROM rate_limit_windows "
        "WHERE org_id = %s AND key LIKE 'requests:%%'",
        (org.id,),
    ).fetchone()
    assert row is not None
    return int(row[0])


def test_a_counted_answer_says_what_is_left(client: TestClient, org: Org) -> None:
    headers = org.headers(Role.VIEWER)
    client.get(CAMPAIGNS, headers=headers)  # the organization's first request creates it
    answer = client.get(CAMPAIGNS, headers=headers)
    assert answer.status_code == 200
    assert answer.headers["RateLimit-Limit"] == "600"
    remaining = int(answer.headers["RateLimit-Remaining"])
    assert remaining in (598, 599)  # 599 when the minute turned between the two
    assert 1 <= int(answer.headers["RateLimit-Reset"]) <= 60
    assert "Retry-After" not in answer.headers


def test_errors_of_a_counted_request_carry_the_headers_too(client: TestClient, org: Org) -> None:
    client.get(CAMPAIGNS, headers=org.headers())
    answer = client.get(f"{CAMPAIGNS}/00000000-0000-4000-8000-000000000000", headers=org.headers())
    assert answer.status_code == 404
    assert answer.headers["RateLimit-Limit"] == "600"


def test_a_user_past_the_budget_gets_429_with_retry_after(
    replicas: list[TestClient], org: Org
) -> None:
    client, headers = replicas[0], org.headers()
    client.get(CAMPAIGNS, headers=headers)  # creates the organization, counted from the next
    first = early_in_a_window(client, headers)
    answers = [first] + [client.get(CAMPAIGNS, headers=headers) for _ in range(BUDGET)]
    assert [a.status_code for a in answers] == [200] * BUDGET + [429]
    assert [a.headers["RateLimit-Remaining"] for a in answers] == ["2", "1", "0", "0"]
    refused = answers[-1]
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["code"] == "RATE_LIMITED"
    assert refused.headers["RateLimit-Limit"] == str(BUDGET)
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["Retry-After"] == refused.headers["RateLimit-Reset"]


def test_each_user_has_a_budget_of_their_own(replicas: list[TestClient], org: Org) -> None:
    client = replicas[0]
    client.get(CAMPAIGNS, headers=org.headers())
    early_in_a_window(client, org.headers())
    for _ in range(BUDGET):
        client.get(CAMPAIGNS, headers=org.headers())
    assert client.get(CAMPAIGNS, headers=org.headers()).status_code == 429
    assert client.get(CAMPAIGNS, headers=org.headers(Role.VIEWER)).status_code == 200


def test_an_api_key_has_a_budget_of_its_own(
    replicas: list[TestClient], client: TestClient, org: Org
) -> None:
    key = bearer(create_api_key(client, org, Role.VIEWER)["key"])
    limited = replicas[0]
    first = early_in_a_window(limited, key)
    answers = [first] + [limited.get(CAMPAIGNS, headers=key) for _ in range(BUDGET)]
    assert [a.status_code for a in answers] == [200] * BUDGET + [429]
    assert answers[-1].json()["code"] == "RATE_LIMITED"
    assert "Retry-After" in answers[-1].headers
    # the admin who made the key is not held back by it
    assert limited.get(CAMPAIGNS, headers=org.headers()).status_code == 200


def test_the_budget_is_shared_by_every_replica(replicas: list[TestClient], org: Org) -> None:
    first_replica, second_replica = replicas
    headers = org.headers()
    first_replica.get(CAMPAIGNS, headers=headers)
    early_in_a_window(first_replica, headers)
    assert second_replica.get(CAMPAIGNS, headers=headers).status_code == 200
    assert first_replica.get(CAMPAIGNS, headers=headers).status_code == 200
    answer = second_replica.get(CAMPAIGNS, headers=headers)
    assert answer.status_code == 429
    assert first_replica.get(CAMPAIGNS, headers=headers).status_code == 429


def test_public_routes_are_not_counted(client: TestClient) -> None:
    for path in ("/healthz", "/t/o/not-a-token.gif"):
        answer = client.get(path)
        assert "RateLimit-Limit" not in answer.headers, path


def test_an_unknown_key_is_not_counted(
    client: TestClient, org: Org, as_owner: psycopg.Connection
) -> None:
    key = create_api_key(client, org)["key"]
    wrong = key[:-1] + ("a" if key[-1] != "a" else "b")
    before = counted_uses(as_owner, org)
    answer = client.get(CAMPAIGNS, headers=bearer(wrong))
    assert answer.status_code == 401
    assert "RateLimit-Limit" not in answer.headers
    assert counted_uses(as_owner, org) == before


def test_no_budget_when_the_limit_is_zero(
    settings: Settings, database_urls: DatabaseUrls, org: Org
) -> None:
    with app_client(settings, database_urls, 0) as unlimited:
        answers = [unlimited.get(CAMPAIGNS, headers=org.headers()) for _ in range(2)]
    assert [a.status_code for a in answers] == [200, 200]
    assert "RateLimit-Limit" not in answers[1].headers


@pytest.mark.parametrize("caller", ["token", "key"])
def test_a_process_takes_its_callers_budget_in_slices(
    settings: Settings,
    database_urls: DatabaseUrls,
    client: TestClient,
    org: Org,
    as_owner: psycopg.Connection,
    caller: str,
) -> None:
    """With 500 a minute a process takes 5 at a time: the database is written once per 5
    requests, and what is left is said all the same."""
    key = create_api_key(client, org)["key"]  # the organization exists before the first count
    headers = org.headers() if caller == "token" else bearer(key)
    with app_client(settings, database_urls, 500) as sliced:
        first = early_in_a_window(sliced, headers)
        before = counted_uses(as_owner, org)
        answers = [first] + [sliced.get(CAMPAIGNS, headers=headers) for _ in range(4)]
        spent_from_memory = counted_uses(as_owner, org)
        answers.append(sliced.get(CAMPAIGNS, headers=headers))
        after = counted_uses(as_owner, org)
    remaining = [int(a.headers["RateLimit-Remaining"]) for a in answers]
    assert remaining == list(range(remaining[0], remaining[0] - 6, -1))
    assert spent_from_memory == before  # the first slice covered the first five
    assert after == before + 5  # the sixth took the next slice


def test_a_slice_never_grants_more_than_the_budget(replicas: list[TestClient], org: Org) -> None:
    """Budget 3 takes slices of 1: the replicas together answer exactly 3 requests."""
    headers = org.headers()
    replicas[0].get(CAMPAIGNS, headers=headers)
    early_in_a_window(replicas[0], headers)
    answers = [replicas[n % 2].get(CAMPAIGNS, headers=headers) for n in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 429, 429]


def test_a_refused_caller_costs_no_more_writes_until_the_minute_ends(
    replicas: list[TestClient], org: Org, as_owner: psycopg.Connection
) -> None:
    client, headers = replicas[0], org.headers()
    client.get(CAMPAIGNS, headers=headers)
    early_in_a_window(client, headers)
    answers = [client.get(CAMPAIGNS, headers=headers) for _ in range(BUDGET)]
    assert answers[-1].status_code == 429
    counted = counted_uses(as_owner, org)
    again = [client.get(CAMPAIGNS, headers=headers) for _ in range(3)]
    assert [a.status_code for a in again] == [429] * 3
    assert all(1 <= int(a.headers["Retry-After"]) <= 60 for a in again)
    assert counted_uses(as_owner, org) == counted


def test_a_refused_key_that_is_then_revoked_is_told_so(
    replicas: list[TestClient], client: TestClient, org: Org
) -> None:
    created = create_api_key(client, org)
    key, limited = bearer(created["key"]), replicas[0]
    early_in_a_window(limited, key)
    answers = [limited.get(CAMPAIGNS, headers=key) for _ in range(BUDGET)]
    assert answers[-1].status_code == 429
    client.delete(f"/api/v1/api-keys/{created['id']}", headers=org.headers())
    assert limited.get(CAMPAIGNS, headers=key).status_code == 401


def test_a_request_is_counted_once_whatever_its_route_needs(
    replicas: list[TestClient], org: Org
) -> None:
    """Creating a campaign needs the caller twice (its session and its role): counted once."""
    client, headers = replicas[0], org.headers()
    client.get(CAMPAIGNS, headers=headers)
    first = early_in_a_window(client, headers)
    body = {"name": "Counted once", "channel": "email"}
    created = client.post(CAMPAIGNS, json=body, headers=headers)
    assert created.status_code == 201
    assert int(created.headers["RateLimit-Remaining"]) == (
        int(first.headers["RateLimit-Remaining"]) - 1
    )


def test_every_counted_operation_documents_the_budget(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    secured = [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if isinstance(operation, dict) and operation.get("security")
    ]
    assert len(secured) > 50
    for path, method, operation in secured:
        refused = operation["responses"]["429"]
        assert "Retry-After" in refused["headers"], (method, path)
        schema = refused["content"]["application/problem+json"]["schema"]
        assert schema["$ref"].endswith("/RateLimitedProblem"), (method, path)
        answered = [r for status, r in operation["responses"].items() if status.startswith("2")]
        assert all("RateLimit-Remaining" in r["headers"] for r in answered), (method, path)
    public = document["paths"]["/healthz"]["get"]
    assert "429" not in public["responses"]


def test_a_slice_taken_in_the_last_second_of_its_window_lasts_to_its_end(
    settings: Settings,
    database_urls: DatabaseUrls,
    client: TestClient,
    org: Org,
    as_owner: psycopg.Connection,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A slice lasts until its window ends, however little of it is left: a lease that ended a
    second early took a new slice for every request of the window's last second, and burned
    the budget there (429s at a fraction of it). Windows of 2 s, so the test needs no minute."""
    monkeypatch.setattr(ratelimit, "WINDOW_SECONDS", 2)
    headers = org.headers()
    client.get(CAMPAIGNS, headers=headers)  # the organization exists before the first count
    with app_client(settings, database_urls, 500) as sliced:
        for _ in range(5):
            while not 1.1 <= time.time() % 2 <= 1.3:  # 0.7 to 0.9 s left in the window
                time.sleep(0.01)
            window = time.time() // 2
            before = counted_uses(as_owner, org)
            answers = [sliced.get(CAMPAIGNS, headers=headers) for _ in range(3)]
            after = counted_uses(as_owner, org)
            if time.time() // 2 == window:  # else the requests crossed into the next window
                break
        else:
            pytest.fail("three requests never fitted in 0.7 s")
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert after - before == 5  # one slice of 500 / 100, spent from memory
