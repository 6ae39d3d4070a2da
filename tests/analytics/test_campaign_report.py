"""The campaign report: its figures are what the events say, as JSON and as an HTML page."""

import asyncio
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from outreach.db import DatabaseUrls
from outreach.events.service import NewEvent
from outreach.events.state import EventType
from tests.factories import (
    Org,
    add_contacts,
    create_ab_campaign,
    create_campaign,
    record_concurrently,
)

NOW = datetime.now(UTC)
# Three days back at least: more than the span a report charts by the hour.
DAY1 = (NOW - timedelta(days=3)).replace(hour=8, minute=0, second=0, microsecond=0)
DAY2 = DAY1 + timedelta(days=1)


@pytest.fixture
def campaign(client: TestClient, org: Org, database_urls: DatabaseUrls) -> dict[str, Any]:
    """An active campaign of 5 contacts: 4 sent on day 1, one bounced; #0 opened, clicked and
    replied on day 2 and converted; #1 opened on day 1 and twice on day 2 and unsubscribed;
    a privacy proxy opened for #2 and a scanner clicked for #3 (machines: left out)."""
    created = create_campaign(client, org, name="Java <developers> & Paris")
    added = add_contacts(client, org, created["id"], 5)
    m = [uuid.UUID(r["campaign_contact_id"]) for r in added["results"]]
    answer = client.post(f"/api/v1/campaigns/{created['id']}/activate", headers=org.headers())
    assert answer.status_code == 200, answer.text
    hour = timedelta(hours=1)
    events = [
        *(NewEvent(who, EventType.EMAIL_SENT, DAY1) for who in m[:4]),
        *(NewEvent(who, EventType.DELIVERED, DAY1 + hour) for who in m[:3]),
        NewEvent(m[3], EventType.BOUNCED, DAY1 + hour, data={"bounce_type": "hard"}),
        NewEvent(m[1], EventType.OPENED, DAY1 + 2 * hour),
        NewEvent(m[2], EventType.OPENED, DAY1 + 2 * hour, is_machine=True),
        NewEvent(m[3], EventType.CLICKED, DAY1 + 2 * hour, is_machine=True, clicked_url="x"),
        NewEvent(m[0], EventType.OPENED, DAY2),
        NewEvent(m[1], EventType.OPENED, DAY2),
        NewEvent(m[1], EventType.OPENED, DAY2 + hour),
        NewEvent(m[0], EventType.CLICKED, DAY2 + hour, clicked_url="https://jobs.example.com"),
        NewEvent(m[0], EventType.RESPONSE_RECEIVED, DAY2 + 2 * hour),
        NewEvent(m[0], EventType.CONVERTED, DAY2 + 3 * hour, data={"type": "interview"}),
        NewEvent(m[1], EventType.UNSUBSCRIBED, DAY2 + 3 * hour),
    ]
    asyncio.run(record_concurrently(database_urls, org.id, events, writers=1))
    return created


def report(client: TestClient, org: Org, campaign_id: str, **params: Any) -> Any:
    answer = client.get(
        f"/api/v1/campaigns/{campaign_id}/report", params=params, headers=org.headers()
    )
    assert answer.status_code == 200, answer.text
    return answer


def test_the_report_counts_what_the_events_say(
    client: TestClient, org: Org, campaign: dict[str, Any]
) -> None:
    body = report(client, org, campaign["id"]).json()
    funnel = {step["key"]: step["count"] for step in body["funnel"]}
    assert funnel == {
        "contacts": 5,
        "reached": 4,
        "sent": 4,
        "delivered": 3,
        "opened": 2,  # people: the proxy's open is left out
        "clicked": 1,  # the scanner's click is left out
        "responded": 1,
        "converted": 1,
    }
    assert {step["key"]: step["count"] for step in body["losses"]} == {
        "bounced": 1,
        "unsubscribed": 1,
    }
    assert body["funnel"][1]["percent_of_contacts"] == 80.0
    assert body["rates"] == {
        "open_rate": 50.0,
        "click_rate": 25.0,
        "response_rate": 25.0,
        "bounce_rate": 25.0,
        "conversion_rate": 100.0,
        "unsubscribe_rate": 25.0,
    }
    days = {day["day"]: day for day in body["daily"]}
    day1, day2 = days[str(DAY1.date())], days[str(DAY2.date())]
    assert (day1["sends"], day1["opens"], day1["clicks"], day1["responses"]) == (4, 1, 0, 0)
    assert (day2["sends"], day2["opens"], day2["clicks"], day2["responses"]) == (0, 3, 1, 1)
    assert sum(day["opens"] for day in body["daily"]) == 4  # every human open, repeats too
    assert body["daily"][-1]["day"] == str(datetime.now(UTC).date())


def test_a_campaign_of_several_days_is_charted_by_the_day(
    client: TestClient, org: Org, campaign: dict[str, Any]
) -> None:
    body = report(client, org, campaign["id"]).json()
    assert body["hourly"] == []
    assert "Activity per day (UTC)" in report(client, org, campaign["id"], format="html").text


def one_day_campaign(
    client: TestClient, org: Org, database_urls: DatabaseUrls, delivery_reports: int
) -> tuple[dict[str, Any], datetime]:
    """An active campaign whose 4 contacts were sent to 5 hours ago; `delivery_reports` of
    them reported delivered; #1 opened, #2 clicked (no open seen: images blocked), #3 replied
    an hour later."""
    created = create_campaign(client, org)
    added = add_contacts(client, org, created["id"], 4)
    m = [uuid.UUID(r["campaign_contact_id"]) for r in added["results"]]
    answer = client.post(f"/api/v1/campaigns/{created['id']}/activate", headers=org.headers())
    assert answer.status_code == 200, answer.text
    sent = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=5)
    hour = timedelta(hours=1)
    events = [
        *(NewEvent(who, EventType.EMAIL_SENT, sent) for who in m),
        *(NewEvent(who, EventType.DELIVERED, sent) for who in m[:delivery_reports]),
        NewEvent(m[1], EventType.OPENED, sent + hour),
        NewEvent(m[2], EventType.CLICKED, sent + hour, clicked_url="https://jobs.example.com"),
        NewEvent(m[3], EventType.RESPONSE_RECEIVED, sent + 2 * hour),
    ]
    asyncio.run(record_concurrently(database_urls, org.id, events, writers=1))
    return created, sent


def test_delivered_is_never_below_opened(
    client: TestClient, org: Org, database_urls: DatabaseUrls
) -> None:
    created, _ = one_day_campaign(client, org, database_urls, delivery_reports=1)
    body = report(client, org, created["id"]).json()
    funnel = {step["key"]: step["count"] for step in body["funnel"]}
    # #0 reported delivered; #1's open and #2's click prove theirs arrived (#3's reply is
    # not counted: a response may come over another channel)
    assert (funnel["sent"], funnel["delivered"], funnel["opened"]) == (4, 3, 2)
    assert any("2 people whose open or click proves" in note for note in body["notes"])


def test_delivery_reports_alone_make_no_note(
    client: TestClient, org: Org, database_urls: DatabaseUrls
) -> None:
    created, _ = one_day_campaign(client, org, database_urls, delivery_reports=4)
    body = report(client, org, created["id"]).json()
    assert {step["key"]: step["count"] for step in body["funnel"]}["delivered"] == 4
    assert not any("proves" in note for note in body["notes"])


def test_a_one_day_campaign_is_charted_by_the_hour(
    client: TestClient, org: Org, database_urls: DatabaseUrls
) -> None:
    created, sent = one_day_campaign(client, org, database_urls, delivery_reports=0)
    body = report(client, org, created["id"]).json()
    hours = {hour["hour"][:13]: hour for hour in body["hourly"]}
    assert 6 <= len(hours) <= 7  # from 5 hours ago to now
    first = hours[sent.strftime("%Y-%m-%dT%H")]
    assert (first["sends"], first["opens"], first["clicks"]) == (4, 0, 0)
    assert hours[(sent + timedelta(hours=1)).strftime("%Y-%m-%dT%H")]["opens"] == 1
    assert sum(hour["responses"] for hour in body["hourly"]) == 1

    page = report(client, org, created["id"], format="html").text
    assert "Activity per hour (UTC)" in page
    chart = page[page.index('<svg id="daily-chart"') : page.index("</svg>")]
    assert f"{sent:%Y-%m-%d %H}:00 UTC: 4 sent" in chart
    assert len(re.findall("<rect ", chart)) == 4 * len(body["hourly"])
    # a few groups spread over the plot, with bars a reader can see and point at
    widths = {int(w) for w in re.findall(r'<rect [^>]*width="(\d+)"', chart)}
    assert min(widths) >= 12
    assert int(re.search(r'<svg [^>]*width="(\d+)"', chart)[1]) >= 500  # type: ignore[index]
    assert f">{(sent + timedelta(hours=1)):%H}:00<" in chart or f">{sent:%H}:00<" in chart


def test_a_running_campaign_has_a_report_so_far(
    client: TestClient, org: Org, campaign: dict[str, Any]
) -> None:
    body = report(client, org, campaign["id"]).json()
    assert body["final"] is False
    assert body["status"] == "active"
    assert any("so far" in note for note in body["notes"])
    assert body["ab_test"] is None


def test_a_completed_campaign_has_its_completion_report(
    client: TestClient, org: Org, campaign: dict[str, Any]
) -> None:
    client.post(f"/api/v1/campaigns/{campaign['id']}/complete", headers=org.headers())
    body = report(client, org, campaign["id"]).json()
    assert body["final"] is True
    assert body["completed_at"] is not None
    assert body["end_date"] == str(datetime.now(UTC).date())
    assert body["duration_days"] is not None
    assert not any("so far" in note for note in body["notes"])


def test_the_report_as_a_self_contained_html_page(
    client: TestClient, org: Org, campaign: dict[str, Any]
) -> None:
    answer = report(client, org, campaign["id"], format="html")
    assert answer.headers["content-type"].startswith("text/html")
    page = answer.text
    assert 'id="funnel"' in page
    for key in ("contacts", "reached", "delivered", "opened", "clicked", "converted", "bounced"):
        assert f'data-step="{key}"' in page
    chart = page[page.index('<svg id="daily-chart"') : page.index("</svg>")]
    assert f"{DAY1.date().isoformat()}: 4 sent" in chart
    assert f"{DAY2.date().isoformat()}: 3 opened" in chart
    assert len(re.findall("<rect ", chart)) == 4 * len(
        report(client, org, campaign["id"]).json()["daily"]
    )
    # escaped, and nothing loaded from elsewhere
    assert "Java &lt;developers&gt; &amp; Paris" in page
    assert "<developers>" not in page
    assert "<script" not in page
    assert not re.search(r"""(src|href)=["']?https?:""", page)


def test_a_browser_asking_for_html_gets_the_page(
    client: TestClient, org: Org, campaign: dict[str, Any]
) -> None:
    answer = client.get(
        f"/api/v1/campaigns/{campaign['id']}/report",
        headers={**org.headers(), "Accept": "text/html,application/xhtml+xml,*/*;q=0.8"},
    )
    assert answer.headers["content-type"].startswith("text/html")
    as_json = client.get(
        f"/api/v1/campaigns/{campaign['id']}/report",
        params={"format": "json"},
        headers={**org.headers(), "Accept": "text/html"},
    )
    assert as_json.json()["name"] == "Java <developers> & Paris"


def test_an_ab_test_report_has_the_variants(client: TestClient, org: Org) -> None:
    created = create_ab_campaign(client, org)
    add_contacts(client, org, created["id"], 10)
    client.post(f"/api/v1/campaigns/{created['id']}/activate", headers=org.headers())
    body = report(client, org, created["id"]).json()
    variants = body["ab_test"]["variants"]
    assert variants["A"]["contacts"] + variants["B"]["contacts"] == 10
    assert body["ab_test"]["winner"] is None
    assert "Variant A" in report(client, org, created["id"], format="html").text


def test_a_draft_has_an_empty_report(client: TestClient, org: Org) -> None:
    created = create_campaign(client, org)
    body = report(client, org, created["id"]).json()
    assert body["funnel"][0]["count"] == 0
    assert body["duration_days"] is None
    assert [day["day"] for day in body["daily"]] == [str(datetime.now(UTC).date())]
    assert body["daily"][0]["sends"] == 0


def test_another_orgs_campaign_report_is_not_found(
    client: TestClient, other_org: Org, campaign: dict[str, Any]
) -> None:
    for params in ({}, {"format": "html"}):
        answer = client.get(
            f"/api/v1/campaigns/{campaign['id']}/report", params=params, headers=other_org.headers()
        )
        assert answer.status_code == 404
        assert answer.json()["code"] == "NOT_FOUND"
