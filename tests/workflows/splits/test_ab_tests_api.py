"""GET /campaigns/{id}/ab-tests and POST /campaigns/{id}/ab-tests/{node_id}/winner."""

import uuid
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from outreach.auth.tokens import Role
from outreach.db import DatabaseUrls
from outreach.workflows.splits.service import winner_for, winners
from tests.factories import (
    T0,
    Org,
    create_campaign,
    in_org,
    insert_events,
    ok,
    publish_canvas,
    split_canvas,
    split_contacts,
)

HOUR = timedelta(hours=1)


def ab_tests(client: TestClient, org: Org, campaign_id: str, role: Role = Role.VIEWER) -> Any:
    return ok(client.get(f"/api/v1/campaigns/{campaign_id}/ab-tests", headers=org.headers(role)))


def declare(
    client: TestClient, org: Org, campaign_id: str, node_id: str, body: Any, role: Role = Role.ADMIN
) -> Any:
    return client.post(
        f"/api/v1/campaigns/{campaign_id}/ab-tests/{node_id}/winner",
        json=body,
        headers=org.headers(role),
    )


def pick(item: dict[str, Any], *names: str) -> tuple[Any, ...]:
    return tuple(item[name] for name in names)


def split_campaign(
    client: TestClient, org: Org, database_urls: DatabaseUrls, role: Role = Role.ADMIN, **test: Any
) -> str:
    campaign_id: str = create_campaign(client, org, role)["id"]
    publish_canvas(
        database_urls, org, campaign_id, split_canvas({"minimum_sample_size": 2, **test})
    )
    return campaign_id


def test_each_split_lists_its_variants_figures_from_events_after_assignment(
    client: TestClient, org: Org, database_urls: DatabaseUrls, as_owner: psycopg.Connection
) -> None:
    campaign_id = split_campaign(client, org, database_urls)
    people = split_contacts(client, org, as_owner, campaign_id, {"a": 4, "b": 2})
    a, b = people["a"], people["b"]
    insert_events(as_owner, org, campaign_id, a[:3] + b, "email_sent", T0 + HOUR)
    insert_events(as_owner, org, campaign_id, a[:2], "opened", T0 + 2 * HOUR)
    insert_events(as_owner, org, campaign_id, a[:1], "clicked", T0 + 2 * HOUR)
    insert_events(as_owner, org, campaign_id, a[2:3], "opened", T0 + 2 * HOUR, machine=True)
    insert_events(as_owner, org, campaign_id, a[1:2], "response_received", T0 + 3 * HOUR)
    insert_events(as_owner, org, campaign_id, b[:1], "opened", T0 - HOUR)  # before assignment
    insert_events(
        as_owner, org, campaign_id, b[1:], "bounced", T0 + 2 * HOUR, data={"bounce_type": "hard"}
    )
    insert_events(as_owner, org, campaign_id, a[3:], "opened", T0 + 2 * HOUR)  # never sent to

    answer = ab_tests(client, org, campaign_id)
    assert answer["version"] == 1
    (split,) = answer["splits"]
    assert (split["node_id"], split["label"], split["winner_metric"]) == (
        "test",
        "Subject test",
        "open_rate",
    )
    assert split["test_started_at"] is not None
    variant_a, variant_b = split["variants"]
    assert pick(variant_a, "variant_id", "name", "percentage") == ("a", "Short", 50)
    assert pick(variant_a, "total_sent", "total_opened", "total_clicked", "total_replied") == (
        3,
        2,
        1,
        1,
    )
    assert pick(variant_a, "open_rate", "click_rate", "reply_rate") == (66.67, 33.33, 33.33)
    assert variant_a["engagement_score"] == 43.33  # 20.001 + 13.332 + 9.999
    assert pick(variant_b, "total_sent", "total_opened", "total_bounced") == (2, 0, 1)
    assert split["winner"] is None
    assert not any(variant["is_winner"] for variant in split["variants"])


def test_the_leader_is_tested_and_named_once_the_rule_holds(
    client: TestClient, org: Org, database_urls: DatabaseUrls, as_owner: psycopg.Connection
) -> None:
    campaign_id = split_campaign(client, org, database_urls, confidence_threshold=90)
    people = split_contacts(client, org, as_owner, campaign_id, {"a": 30, "b": 30})
    insert_events(as_owner, org, campaign_id, people["a"] + people["b"], "email_sent", T0 + HOUR)
    insert_events(as_owner, org, campaign_id, people["a"][:5], "opened", T0 + HOUR)
    insert_events(as_owner, org, campaign_id, people["b"][:20], "opened", T0 + HOUR)
    (split,) = ab_tests(client, org, campaign_id)["splits"]
    assert split["recommended_winner"] == "b"
    assert split["winner"] is None  # the rule holds, nobody declared it
    leader = split["variants"][1]
    assert leader["is_statistically_significant"]
    assert leader["p_value"] < 0.001
    assert leader["confidence_level"] > 99.9


def test_a_campaign_never_published_has_no_splits(client: TestClient, org: Org) -> None:
    campaign_id = create_campaign(client, org)["id"]
    assert ab_tests(client, org, campaign_id) == {
        "campaign_id": campaign_id,
        "version": None,
        "splits": [],
    }


def test_another_orgs_campaign_is_not_found(
    client: TestClient, org: Org, other_org: Org, database_urls: DatabaseUrls
) -> None:
    campaign_id = split_campaign(client, org, database_urls)
    answer = client.get(f"/api/v1/campaigns/{campaign_id}/ab-tests", headers=other_org.headers())
    assert answer.status_code == 404
    assert declare(client, other_org, campaign_id, "test", {"variant_id": "a"}).status_code == 404


def test_a_winner_declared_by_hand_is_marked_and_recorded_as_a_version(
    client: TestClient, org: Org, database_urls: DatabaseUrls, as_owner: psycopg.Connection
) -> None:
    campaign_id = split_campaign(client, org, database_urls)
    split_contacts(client, org, as_owner, campaign_id, {"a": 1, "b": 1})
    split = ok(declare(client, org, campaign_id, "test", {"variant_id": "a"}))
    assert split["winner"] == "a"
    assert split["winner_declared_at"] is not None
    assert [v["is_winner"] for v in split["variants"]] == [True, False]
    assert ab_tests(client, org, campaign_id)["splits"][0]["winner"] == "a"
    versions = as_owner.execute(
        "SELECT version, change_type, change_description, created_by FROM campaign_versions "
        "WHERE campaign_id = %s ORDER BY version",
        (campaign_id,),
    ).fetchall()
    assert versions[-1][:3] == (
        2,
        "ab_test_completed",
        "Split Subject test: variant a won (declared by hand).",
    )
    assert versions[-1][3] == org.user(Role.ADMIN)
    assert (
        in_org(
            database_urls, org, lambda session: winner_for(session, uuid.UUID(campaign_id), "test")
        )
        == "a"
    )


def test_a_split_without_a_declared_winner_has_none_for_the_engine(
    client: TestClient, org: Org, database_urls: DatabaseUrls
) -> None:
    campaign_id = split_campaign(client, org, database_urls)
    found = in_org(
        database_urls, org, lambda session: winner_for(session, uuid.UUID(campaign_id), "test")
    )
    assert found is None
    assert in_org(database_urls, org, lambda s: winners(s, uuid.UUID(campaign_id))) == {}


def test_a_second_declaration_is_a_conflict(
    client: TestClient, org: Org, database_urls: DatabaseUrls
) -> None:
    campaign_id = split_campaign(client, org, database_urls)
    ok(declare(client, org, campaign_id, "test", {"variant_id": "a"}))
    answer = declare(client, org, campaign_id, "test", {"variant_id": "b"})
    assert answer.status_code == 409
    assert answer.json()["code"] == "WINNER_ALREADY_DECLARED"
    assert ab_tests(client, org, campaign_id)["splits"][0]["winner"] == "a"


@pytest.mark.parametrize(
    ("node_id", "variant_id", "code"),
    [
        ("nope", "a", "SPLIT_NOT_FOUND"),
        ("short", "a", "SPLIT_NOT_FOUND"),
        ("test", "c", "VARIANT_NOT_FOUND"),
    ],
)
def test_an_unknown_split_or_variant_is_not_found(
    client: TestClient,
    org: Org,
    database_urls: DatabaseUrls,
    node_id: str,
    variant_id: str,
    code: str,
) -> None:
    campaign_id = split_campaign(client, org, database_urls)
    answer = declare(client, org, campaign_id, node_id, {"variant_id": variant_id})
    assert answer.status_code == 404
    assert answer.json()["code"] == code


def test_a_body_without_a_valid_variant_id_is_refused(
    client: TestClient, org: Org, database_urls: DatabaseUrls
) -> None:
    campaign_id = split_campaign(client, org, database_urls)
    for body in ({}, {"variant_id": "A B"}, {"variant_id": "a", "extra": 1}):
        assert declare(client, org, campaign_id, "test", body).status_code == 422, body


def test_only_the_owner_an_admin_or_a_ta_manager_declares(
    client: TestClient, org: Org, database_urls: DatabaseUrls
) -> None:
    campaign_id = split_campaign(client, org, database_urls, Role.RECRUITER)
    someone_else = org.headers(Role.RECRUITER, user_id=uuid.uuid4())
    answer = client.post(
        f"/api/v1/campaigns/{campaign_id}/ab-tests/test/winner",
        json={"variant_id": "a"},
        headers=someone_else,
    )
    assert answer.status_code == 403
    assert (
        declare(client, org, campaign_id, "test", {"variant_id": "a"}, Role.VIEWER).status_code
        == 403
    )
    ok(declare(client, org, campaign_id, "test", {"variant_id": "a"}, Role.RECRUITER))
    other = split_campaign(client, org, database_urls, Role.RECRUITER)
    ok(declare(client, org, other, "test", {"variant_id": "b"}, Role.TA_MANAGER))
