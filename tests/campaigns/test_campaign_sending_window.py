"""A campaign's sender and sending window: sender_id, time zone, weekdays and hours, each rule
with its error code, and when they may change."""

from typing import Any

import pytest
from fastapi.testclient import TestClient

from outreach.auth.tokens import Role
from tests.factories import Org, act, add_contacts, add_sender, create_campaign, ok, patch, post

CAMPAIGNS = "/api/v1/campaigns"
NEW = {"name": "Java developers Paris"}


def refused(answer: Any, code: str, field: str) -> None:
    assert answer.status_code == 422, answer.text
    assert answer.json()["code"] == code
    assert answer.json()["errors"][0]["field"] == field


def test_a_new_campaign_sends_weekdays_9_to_17_from_no_particular_sender(
    client: TestClient, org: Org
) -> None:
    campaign = create_campaign(client, org)
    assert campaign["sender_id"] is None
    assert campaign["timezone"] is None
    assert campaign["send_days"] == [1, 2, 3, 4, 5]
    assert (campaign["send_start"], campaign["send_end"]) == ("09:00", "17:00")


def test_campaign_takes_its_sender_and_window_and_answers_them_everywhere(
    client: TestClient, org: Org
) -> None:
    sender_id = add_sender(client, org)["id"]
    window = {
        "sender_id": sender_id,
        "timezone": "Europe/Paris",
        "send_days": [6, 1, 3],
        "send_start": "08:30",
        "send_end": "18:45",
    }
    created = create_campaign(client, org, **window)
    expected = window | {"send_days": [1, 3, 6]}
    assert {key: created[key] for key in window} == expected
    detail = client.get(f"{CAMPAIGNS}/{created['id']}", headers=org.headers(Role.VIEWER)).json()
    assert {key: detail[key] for key in window} == expected
    listed = client.get(CAMPAIGNS, headers=org.headers()).json()["items"]
    assert [{key: item[key] for key in window} for item in listed] == [expected]


def test_campaign_sender_must_be_a_sender_of_the_organization(
    client: TestClient, org: Org, other_org: Org
) -> None:
    theirs = add_sender(client, other_org)["id"]
    refused(
        post(client, org, CAMPAIGNS, NEW | dict(sender_id=theirs)),
        "CAMPAIGN_SENDER_NOT_FOUND",
        "sender_id",
    )
    campaign = create_campaign(client, org)
    refused(
        patch(client, org, f"{CAMPAIGNS}/{campaign['id']}", dict(sender_id=theirs)),
        "CAMPAIGN_SENDER_NOT_FOUND",
        "sender_id",
    )
    unknown = "00000000-0000-4000-8000-000000000000"
    refused(
        post(client, org, CAMPAIGNS, NEW | dict(sender_id=unknown)),
        "CAMPAIGN_SENDER_NOT_FOUND",
        "sender_id",
    )


def test_patch_changes_and_clears_the_sender(client: TestClient, org: Org) -> None:
    first = add_sender(client, org)["id"]
    second = add_sender(client, org, from_email="jobs@example.com")["id"]
    path = f"{CAMPAIGNS}/{create_campaign(client, org, sender_id=first)['id']}"
    assert patch(client, org, path, {"sender_id": second}).json()["sender_id"] == second
    assert patch(client, org, path, {"sender_id": None}).json()["sender_id"] is None


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "UTC+2", "", "../../etc/passwd", 1])
def test_campaign_timezone_must_be_an_iana_name(client: TestClient, org: Org, zone: Any) -> None:
    refused(
        post(client, org, CAMPAIGNS, NEW | dict(timezone=zone)),
        "CAMPAIGN_TIMEZONE_INVALID",
        "timezone",
    )


def test_patch_changes_and_clears_the_timezone(client: TestClient, org: Org) -> None:
    path = f"{CAMPAIGNS}/{create_campaign(client, org, timezone='America/New_York')['id']}"
    assert patch(client, org, path, {"timezone": "Asia/Tokyo"}).json()["timezone"] == "Asia/Tokyo"
    assert patch(client, org, path, {"timezone": None}).json()["timezone"] is None


@pytest.mark.parametrize("days", [[], [0], [8], [1, 1], [1, 2.5], [True], "1,2", None], ids=str)
def test_campaign_send_days_are_distinct_iso_weekdays(
    client: TestClient, org: Org, days: Any
) -> None:
    campaign = create_campaign(client, org)
    answer = patch(client, org, f"{CAMPAIGNS}/{campaign['id']}", dict(send_days=days))
    if days is None:  # the days always have a value: null cannot clear them
        refused(answer, "FIELD_REQUIRED", "send_days")
    else:
        refused(answer, "CAMPAIGN_SEND_DAYS_INVALID", "send_days")
        refused(
            post(client, org, CAMPAIGNS, NEW | dict(send_days=days)),
            "CAMPAIGN_SEND_DAYS_INVALID",
            "send_days",
        )


@pytest.mark.parametrize("hour", ["9:00", "24:00", "09:60", "0900", "09:00:00", "", 900])
def test_campaign_send_hours_are_hh_mm(client: TestClient, org: Org, hour: Any) -> None:
    refused(
        post(client, org, CAMPAIGNS, NEW | dict(send_start=hour)),
        "CAMPAIGN_SEND_HOURS_INVALID",
        "send_start",
    )
    refused(
        post(client, org, CAMPAIGNS, NEW | dict(send_end=hour)),
        "CAMPAIGN_SEND_HOURS_INVALID",
        "send_end",
    )


@pytest.mark.parametrize(("start", "end"), [("17:00", "09:00"), ("12:00", "12:00")])
def test_campaign_send_start_must_be_before_send_end(
    client: TestClient, org: Org, start: str, end: str
) -> None:
    answer = post(
        client,
        org,
        CAMPAIGNS,
        NEW | dict(send_start=start, send_end=end),
    )
    refused(answer, "CAMPAIGN_SEND_HOURS_INVALID", "send_end")


def test_patch_checks_the_hours_against_the_ones_kept(client: TestClient, org: Org) -> None:
    campaign = create_campaign(client, org)  # 09:00 to 17:00
    refused(
        patch(client, org, f"{CAMPAIGNS}/{campaign['id']}", dict(send_start="18:00")),
        "CAMPAIGN_SEND_HOURS_INVALID",
        "send_end",
    )
    changed = patch(
        client, org, f"{CAMPAIGNS}/{campaign['id']}", dict(send_start="18:00", send_end="21:30")
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["send_start"], changed.json()["send_end"]) == ("18:00", "21:30")


def test_patch_null_hours_are_refused(client: TestClient, org: Org) -> None:
    campaign = create_campaign(client, org)
    refused(
        patch(client, org, f"{CAMPAIGNS}/{campaign['id']}", dict(send_end=None)),
        "FIELD_REQUIRED",
        "send_end",
    )


@pytest.mark.parametrize("status", ["active", "paused"])
def test_a_running_campaigns_sender_and_window_may_change(
    client: TestClient, org: Org, status: str
) -> None:
    campaign = create_campaign(client, org)
    add_contacts(client, org, campaign["id"], 1)
    ok(act(client, org, campaign["id"], "activate"))
    if status == "paused":
        ok(act(client, org, campaign["id"], "pause"))
    sender_id = add_sender(client, org)["id"]
    window = {
        "sender_id": sender_id,
        "timezone": "Europe/Berlin",
        "send_days": [1, 2, 3, 4, 5, 6, 7],
        "send_start": "07:00",
        "send_end": "20:00",
    }
    answer = patch(client, org, f"{CAMPAIGNS}/{campaign['id']}", window)
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == status
    assert {key: answer.json()[key] for key in window} == window


def test_a_completed_campaigns_window_is_read_only(client: TestClient, org: Org) -> None:
    campaign = create_campaign(client, org)
    add_contacts(client, org, campaign["id"], 1)
    ok(act(client, org, campaign["id"], "activate"))
    ok(act(client, org, campaign["id"], "complete"))
    answer = patch(client, org, f"{CAMPAIGNS}/{campaign['id']}", dict(send_end="20:00"))
    assert answer.status_code == 409
    assert answer.json()["code"] == "CAMPAIGN_READ_ONLY"


def test_another_orgs_campaign_window_is_not_found(
    client: TestClient, org: Org, other_org: Org
) -> None:
    campaign = create_campaign(client, other_org)
    answer = patch(client, org, f"{CAMPAIGNS}/{campaign['id']}", dict(send_end="20:00"))
    assert answer.status_code == 404
    shown = client.get(f"{CAMPAIGNS}/{campaign['id']}", headers=other_org.headers()).json()
    assert shown["send_end"] == "17:00"
