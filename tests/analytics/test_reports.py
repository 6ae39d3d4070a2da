"""Dashboard, timeseries, most-clicked links, engaged contacts and the event log."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from outreach.db import DatabaseUrls
from outreach.events.service import NewEvent
from outreach.events.state import EventType
from tests.factories import Org, add_contacts, create_campaign, record_concurrently

DAY1 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
DAY2 = DAY1 + timedelta(days=1)
JOBS = "https://jobs.example.com/java"
ABOUT = "https://example.com/about"


@pytest.fixture
def campaign(client: TestClient, org: Org, database_urls: DatabaseUrls) -> dict[str, Any]:
    """A campaign of 4 contacts: #0 clicked the jobs link 3 times and replied, #1 opened
    twice and clicked once, a scanner clicked for #2, #3 did nothing."""
    created = create_campaign(client, org)
    added = add_contacts(client, org, created["id"], 4)
    m = [uuid.UUID(r["campaign_contact_id"]) for r in added["results"]]

    def click(who: uuid.UUID, at: datetime, url: str, machine: bool = False) -> NewEvent:
        return NewEvent(who, EventType.CLICKED, at, is_machine=machine, clicked_url=url)

    events = [
        *(NewEvent(who, EventType.EMAIL_SENT, DAY1) for who in m),
        click(m[0], DAY1 + timedelta(hours=1), JOBS),
        click(m[0], DAY2, JOBS),
        click(m[0], DAY2 + timedelta(hours=1), JOBS),
        NewEvent(m[0], EventType.RESPONSE_RECEIVED, DAY2 + timedelta(hours=2)),
        NewEvent(m[1], EventType.OPENED, DAY1 + timedelta(hours=3)),
        NewEvent(m[1], EventType.OPENED, DAY2),
        click(m[1], DAY2, ABOUT),
        click(m[2], DAY1, JOBS, machine=True),
    ]
    asyncio.run(record_concurrently(database_urls, org.id, events, writers=1))
    return {**created, "members": m}


def get(client: TestClient, org: Org, path: str, **params: Any) -> Any:
    answer = client.get(f"/api/v1{path}", params=params, headers=org.headers())
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_timeseries_counts_each_day(client: TestClient, org: Org, campaign: dict[str, Any]) -> None:
    series = get(
        client,
        org,
        f"/campaigns/{campaign['id']}/timeseries",
        since=DAY1.isoformat(),
        until=(DAY2 + timedelta(hours=12)).isoformat(),
    )
    day1, day2 = series["points"]
    assert (day1["sends"], day1["opens"], day1["clicks"], day1["responses"]) == (4, 1, 1, 0)
    assert (day2["sends"], day2["opens"], day2["clicks"], day2["responses"]) == (0, 1, 3, 1)


def test_timeseries_by_hour_fills_empty_hours(
    client: TestClient, org: Org, campaign: dict[str, Any]
) -> None:
    series = get(
        client,
        org,
        f"/campaigns/{campaign['id']}/timeseries",
        bucket="hour",
        since=DAY1.isoformat(),
        until=(DAY1 + timedelta(hours=4)).isoformat(),
    )
    assert [p["clicks"] for p in series["points"]] == [0, 1, 0, 0, 0]


def test_timeseries_refuses_an_unknown_time_zone_and_too_long_a_range(
    client: TestClient, org: Org, campaign: dict[str, Any]
) -> None:
    url = f"/api/v1/campaigns/{campaign['id']}/timeseries"
    bad_tz = client.get(url, params={"tz": "Mars/Olympus"}, headers=org.headers())
    assert bad_tz.json()["code"] == "TIMEZONE_INVALID"
    too_long = client.get(
        url, params={"bucket": "hour", "since": "2020-01-01T00:00:00Z"}, headers=org.headers()
    )
    assert too_long.json()["code"] == "RANGE_TOO_LONG"


def test_links_count_people_and_leave_scanners_apart(
    client: TestClient, org: Org, campaign: dict[str, Any]
) -> None:
    links = get(client, org, f"/campaigns/{campaign['id']}/links")["items"]
    assert links == [
        {"url": JOBS, "total_clicks": 3, "unique_clicks": 1, "machine_clicks": 1},
        {"url": ABOUT, "total_clicks": 1, "unique_clicks": 1, "machine_clicks": 0},
    ]


def test_engaged_contacts_have_three_or_more_human_clicks(
    client: TestClient, org: Org, campaign: dict[str, Any]
) -> None:
    engaged = get(client, org, f"/campaigns/{campaign['id']}/engaged-contacts")["items"]
    assert [e["campaign_contact_id"] for e in engaged] == [str(campaign["members"][0])]
    assert engaged[0]["engagement_score"] == 0 + 3 * 3 + 10
    everyone = get(client, org, f"/campaigns/{campaign['id']}/engaged-contacts", min_clicks=1)
    assert len(everyone["items"]) == 2


def test_the_event_log_pages_and_filters(
    client: TestClient, org: Org, campaign: dict[str, Any]
) -> None:
    path = f"/campaigns/{campaign['id']}/events"
    clicks = get(client, org, path, event_type="clicked")["items"]
    assert len(clicks) == 5
    assert sum(c["is_machine"] for c in clicks) == 1
    seen, cursor = [], None
    while True:
        page = get(client, org, path, limit=4, **({"cursor": cursor} if cursor else {}))
        seen += [e["id"] for e in page["items"]]
        if (cursor := page["next_cursor"]) is None:
            break
    assert len(seen) == len(set(seen)) == 12
    newest_first = get(client, org, path)["items"]
    times = [e["event_timestamp"] for e in newest_first]
    assert times == sorted(times, reverse=True)


def test_the_dashboard_shows_running_campaigns_with_pending_counts(
    client: TestClient, org: Org, campaign: dict[str, Any]
) -> None:
    assert get(client, org, "/dashboard")["items"] == []  # a draft is not running
    idle = create_campaign(client, org, name="Idle")
    add_contacts(client, org, idle["id"], 3, start=10)
    for running in (campaign, idle):
        client.post(f"/api/v1/campaigns/{running['id']}/activate", headers=org.headers())
    client.post(f"/api/v1/campaigns/{idle['id']}/pause", headers=org.headers())
    items = {c["name"]: c for c in get(client, org, "/dashboard")["items"]}
    assert items["Idle"]["pending_contacts"] == 3
    assert items["Idle"]["status"] == "paused"
    assert items[campaign["name"]]["pending_contacts"] == 0
    assert items[campaign["name"]]["clicks_unique"] == 2


@pytest.mark.parametrize("report", ["timeseries", "links", "engaged-contacts", "events"])
def test_another_organizations_campaign_has_no_reports(
    client: TestClient, other_org: Org, campaign: dict[str, Any], report: str
) -> None:
    answer = client.get(f"/api/v1/campaigns/{campaign['id']}/{report}", headers=other_org.headers())
    assert answer.status_code == 404


def test_another_organizations_dashboard_is_its_own(
    client: TestClient, org: Org, other_org: Org, campaign: dict[str, Any]
) -> None:
    client.post(f"/api/v1/campaigns/{campaign['id']}/activate", headers=org.headers())
    assert get(client, other_org, "/dashboard")["items"] == []
