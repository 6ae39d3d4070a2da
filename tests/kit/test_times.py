"""A time whose offset carries it out of range in UTC is a field error where it comes in."""

import pytest
from fastapi.testclient import TestClient

from tests.factories import Org, add_contacts, create_campaign

LATE = "9999-12-31T23:59:59-23:59"  # year 10000 in UTC
EARLY = "0001-01-01T00:00:00+23:59"  # year 0 in UTC


def out_of_range(answer: object, field: str) -> None:
    assert answer.status_code == 422, answer.text  # type: ignore[attr-defined]
    problem = answer.json()  # type: ignore[attr-defined]
    assert problem["code"] == "DATETIME_OUT_OF_RANGE"
    assert problem["errors"][0]["field"] == field


def test_a_campaign_scheduled_out_of_range_is_refused(client: TestClient, org: Org) -> None:
    campaign = create_campaign(client, org)
    add_contacts(client, org, campaign["id"], 1)
    answer = client.post(
        f"/api/v1/campaigns/{campaign['id']}/schedule",
        json={"scheduled_at": LATE},
        headers=org.headers(),
    )
    out_of_range(answer, "scheduled_at")


@pytest.mark.parametrize("moment", [LATE, EARLY])
def test_an_event_out_of_range_is_refused(client: TestClient, org: Org, moment: str) -> None:
    campaign = create_campaign(client, org)
    member = add_contacts(client, org, campaign["id"], 1)["results"][0]["campaign_contact_id"]
    answer = client.post(
        f"/api/v1/campaigns/{campaign['id']}/contacts/{member}/events",
        json={"event_type": "linkedin_sent", "occurred_at": moment},
        headers=org.headers(),
    )
    out_of_range(answer, "occurred_at")


def test_a_range_of_analytics_out_of_range_is_refused(client: TestClient, org: Org) -> None:
    campaign = create_campaign(client, org)
    answer = client.get(
        f"/api/v1/campaigns/{campaign['id']}/timeseries",
        params={"since": EARLY, "until": "0001-01-03T00:00:00Z"},
        headers=org.headers(),
    )
    out_of_range(answer, "since")
