"""Reading campaigns: filters, search, ordering, pagination, metrics and tenancy."""

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from outreach.auth.tokens import Role
from tests.factories import Org, create_campaign, listed_items

TODAY = datetime.now(UTC).date()


CAMPAIGNS = "/api/v1/campaigns"


def names(items: list[dict[str, Any]]) -> list[str]:
    return [item["name"] for item in items]


def test_lists_show_only_the_callers_organization(
    client: TestClient, org: Org, other_org: Org
) -> None:
    mine = create_campaign(client, org, name="Mine")
    create_campaign(client, other_org, name="Theirs")
    assert [c["id"] for c in listed_items(client, org, CAMPAIGNS, Role.ADMIN)] == [mine["id"]]


def test_another_organizations_campaign_is_not_found_on_every_route(
    client: TestClient, org: Org, other_org: Org
) -> None:
    theirs = create_campaign(client, other_org)
    url = f"/api/v1/campaigns/{theirs['id']}"
    headers = org.headers()
    answers = [
        client.get(url, headers=headers),
        client.patch(url, json={"name": "Stolen"}, headers=headers),
        client.delete(url, headers=headers),
        client.post(
            f"{url}/schedule", json={"scheduled_at": "2099-01-01T00:00:00Z"}, headers=headers
        ),
        *(
            client.post(f"{url}/{a}", headers=headers)
            for a in ("activate", "pause", "resume", "complete", "archive")
        ),
    ]
    assert [a.status_code for a in answers] == [404] * len(answers)
    assert {a.json()["code"] for a in answers} == {"NOT_FOUND"}


def test_an_unknown_campaign_id_is_not_found_and_a_malformed_one_is_invalid(
    client: TestClient, org: Org
) -> None:
    unknown = client.get(f"/api/v1/campaigns/{org.id}", headers=org.headers())
    assert unknown.status_code == 404
    malformed = client.get("/api/v1/campaigns/not-a-uuid", headers=org.headers())
    assert malformed.status_code == 422
    assert malformed.json()["code"] == "UUID_INVALID"


def test_filters_by_status_type_channel_owner_and_dates(client: TestClient, org: Org) -> None:
    create_campaign(client, org, name="Email talent")
    create_campaign(
        client, org, name="BD combined", campaign_type="business_development", channel="combined"
    )
    start = TODAY + timedelta(days=10)
    create_campaign(
        client, org, name="Dated", start_date=str(start), end_date=str(start + timedelta(days=5))
    )
    create_campaign(client, org, role=Role.RECRUITER, name="Recruiter's")
    assert names(
        listed_items(client, org, CAMPAIGNS, Role.ADMIN, campaign_type="business_development")
    ) == ["BD combined"]
    assert names(listed_items(client, org, CAMPAIGNS, Role.ADMIN, channel="combined")) == [
        "BD combined"
    ]
    assert names(
        listed_items(client, org, CAMPAIGNS, Role.ADMIN, owner_id=str(org.user(Role.RECRUITER)))
    ) == ["Recruiter's"]
    assert names(listed_items(client, org, CAMPAIGNS, Role.ADMIN, start_date_from=str(start))) == [
        "Dated"
    ]
    assert names(
        listed_items(client, org, CAMPAIGNS, Role.ADMIN, end_date_to=str(start + timedelta(days=5)))
    ) == ["Dated"]
    assert len(listed_items(client, org, CAMPAIGNS, Role.ADMIN, status=["draft", "active"])) == 4
    assert listed_items(client, org, CAMPAIGNS, Role.ADMIN, status="active") == []


def test_name_search_is_case_insensitive_and_literal(client: TestClient, org: Org) -> None:
    create_campaign(client, org, name="Développeurs Java – Paris")
    create_campaign(client, org, name="Python 100% remote")
    create_campaign(client, org, name="Python 10 remote")
    assert names(listed_items(client, org, CAMPAIGNS, Role.ADMIN, q="java")) == [
        "Développeurs Java – Paris"
    ]
    assert names(listed_items(client, org, CAMPAIGNS, Role.ADMIN, q="100%")) == [
        "Python 100% remote"
    ]


def test_order_by_name_is_ascending_by_default(client: TestClient, org: Org) -> None:
    for name in ("Charlie", "Alpha", "Bravo"):
        create_campaign(client, org, name=name)
    assert names(listed_items(client, org, CAMPAIGNS, Role.ADMIN, order_by="name")) == [
        "Alpha",
        "Bravo",
        "Charlie",
    ]
    assert names(
        listed_items(client, org, CAMPAIGNS, Role.ADMIN, order_by="name", order="desc")
    ) == [
        "Charlie",
        "Bravo",
        "Alpha",
    ]


def test_order_by_response_rate(client: TestClient, org: Org, as_owner: psycopg.Connection) -> None:
    for name, responses in (("Low", 1), ("High", 9), ("Mid", 5)):
        campaign = create_campaign(client, org, name=name)
        as_owner.execute(
            "UPDATE campaigns SET contacts_reached = 10, responses_received = %s WHERE id = %s",
            (responses, campaign["id"]),
        )
    assert names(listed_items(client, org, CAMPAIGNS, Role.ADMIN, order_by="response_rate")) == [
        "High",
        "Mid",
        "Low",
    ]


@pytest.mark.parametrize(
    ("order_by", "order"),
    [
        ("created_at", "desc"),
        ("name", "asc"),
        ("start_date", "asc"),
        ("start_date", "desc"),
        ("response_rate", "desc"),
    ],
)
def test_cursor_pagination_visits_every_campaign_once(
    client: TestClient, org: Org, order_by: str, order: str
) -> None:
    for i in range(7):
        start = {"start_date": str(TODAY + timedelta(days=i % 3))} if i % 2 else {}
        create_campaign(client, org, name=f"Campaign {i % 4}", **start)
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 3, "order_by": order_by, "order": order}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/api/v1/campaigns", params=params, headers=org.headers()).json()
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 7
    assert len(set(seen)) == 7


def test_a_forged_cursor_is_refused(client: TestClient, org: Org) -> None:
    answer = client.get("/api/v1/campaigns", params={"cursor": "bm9wZQ"}, headers=org.headers())
    assert answer.status_code == 422
    assert answer.json()["code"] == "CURSOR_INVALID"


def test_limit_is_between_1_and_200(client: TestClient, org: Org) -> None:
    for limit in (0, 201):
        answer = client.get("/api/v1/campaigns", params={"limit": limit}, headers=org.headers())
        assert answer.status_code == 422


@pytest.mark.parametrize(
    ("reached", "responses", "band"),
    [
        (100, 4, "poor"),
        (100, 5, "below_average"),
        (100, 10, "average"),
        (100, 20, "good"),
        (100, 30, "excellent"),
    ],
)
def test_response_rate_band_follows_the_spec_colours(
    client: TestClient,
    org: Org,
    as_owner: psycopg.Connection,
    reached: int,
    responses: int,
    band: str,
) -> None:
    campaign = create_campaign(client, org)
    as_owner.execute(
        "UPDATE campaigns SET contacts_reached = %s, responses_received = %s WHERE id = %s",
        (reached, responses, campaign["id"]),
    )
    detail = client.get(f"/api/v1/campaigns/{campaign['id']}", headers=org.headers()).json()
    assert detail["response_rate_band"]["key"] == band


def test_metrics_progress_and_rates(
    client: TestClient, org: Org, as_owner: psycopg.Connection
) -> None:
    campaign = create_campaign(client, org, target_contacts_count=200)
    as_owner.execute(
        "UPDATE campaigns SET contacts_reached = 50, responses_received = 10, conversions = 4, "
        "emails_sent = 40, opens_unique = 10, clicks_unique = 4, emails_bounced = 2 "
        "WHERE id = %s",
        (campaign["id"],),
    )
    detail = client.get(f"/api/v1/campaigns/{campaign['id']}", headers=org.headers()).json()
    assert detail["progress_percentage"] == 25.0
    assert detail["response_rate"] == 20.0
    assert detail["conversion_rate"] == 40.0
    assert detail["overall_performance"] == 8.0
    rates = [detail[f"{r}_rate"] for r in ("open", "click", "reply", "bounce")]
    assert rates == [25.0, 10.0, 25.0, 5.0]
    assert set(detail["contact_counts"]) == {
        "pending",
        "sent",
        "opened",
        "responded",
        "converted",
        "bounced",
        "unsubscribed",
    }
