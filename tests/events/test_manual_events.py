"""Manual events: replies, conversions and LinkedIn steps logged for a campaign's contact."""

from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from outreach.auth.tokens import Role
from tests.factories import Org, add_contacts, create_campaign


@pytest.fixture
def member(client: TestClient, org: Org) -> dict[str, Any]:
    """The first contact of a new talent-sourcing campaign."""
    campaign = create_campaign(client, org)
    added = add_contacts(client, org, campaign["id"], 2)
    return {"campaign_id": campaign["id"], "id": added["results"][0]["campaign_contact_id"]}


def post_event(
    client: TestClient, org: Org, member: dict[str, Any], role: Role = Role.ADMIN, **body: Any
) -> Any:
    url = f"/api/v1/campaigns/{member['campaign_id']}/contacts/{member['id']}/events"
    return client.post(url, json=body, headers=org.headers(role))


def campaign(client: TestClient, org: Org, member: dict[str, Any]) -> dict[str, Any]:
    return dict(
        client.get(f"/api/v1/campaigns/{member['campaign_id']}", headers=org.headers()).json()
    )


def test_a_reply_by_phone_is_a_response_for_a_contact_never_emailed(
    client: TestClient, org: Org, member: dict[str, Any]
) -> None:
    answer = post_event(
        client,
        org,
        member,
        event_type="response_received",
        response_text="Call me",
        channel="phone",
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["outcome"] == "recorded"
    contact = answer.json()["contact"]
    assert (contact["status"], contact["response_text"]) == ("responded", "Call me")
    metrics = campaign(client, org, member)
    assert (metrics["responses_received"], metrics["contacts_reached"]) == (1, 1)
    assert metrics["response_rate"] == 100.0
    assert metrics["contact_counts"]["responded"] == 1


def test_a_conversion_must_suit_the_campaign_type(
    client: TestClient, org: Org, member: dict[str, Any]
) -> None:
    refused = post_event(client, org, member, event_type="converted", conversion_type="deal")
    assert refused.status_code == 422
    assert refused.json()["code"] == "CONVERSION_TYPE_INVALID"
    accepted = post_event(
        client,
        org,
        member,
        event_type="converted",
        conversion_type="placement",
        conversion_entity_id="2b1d0f9e-1c0a-4c6e-9d9a-0f1e2d3c4b5a",
    )
    assert accepted.status_code == 201
    assert accepted.json()["contact"]["status"] == "converted"
    assert campaign(client, org, member)["conversions"] == 1


def test_a_mixed_campaign_accepts_every_conversion(client: TestClient, org: Org) -> None:
    mixed = create_campaign(client, org, campaign_type="mixed")
    added = add_contacts(client, org, mixed["id"], 1)
    member = {"campaign_id": mixed["id"], "id": added["results"][0]["campaign_contact_id"]}
    answer = post_event(client, org, member, event_type="converted", conversion_type="deal")
    assert answer.status_code == 201


def test_fields_of_another_event_type_are_refused(
    client: TestClient, org: Org, member: dict[str, Any]
) -> None:
    answer = post_event(client, org, member, event_type="linkedin_sent", response_text="Hi")
    assert answer.status_code == 422
    assert answer.json()["code"] == "FIELD_NOT_ALLOWED"


def test_an_event_cannot_happen_in_the_future(
    client: TestClient, org: Org, member: dict[str, Any]
) -> None:
    answer = post_event(
        client, org, member, event_type="linkedin_sent", occurred_at="2999-01-01T00:00:00Z"
    )
    assert answer.json()["code"] == "EVENT_IN_FUTURE"


def test_a_linkedin_message_counts_as_sent_and_reached(
    client: TestClient, org: Org, member: dict[str, Any]
) -> None:
    answer = post_event(client, org, member, event_type="linkedin_sent")
    assert answer.json()["contact"]["status"] == "sent"
    metrics = campaign(client, org, member)
    assert (metrics["linkedin_messages_sent"], metrics["contacts_reached"]) == (1, 1)


def test_events_are_kept_in_the_event_log(
    client: TestClient, org: Org, member: dict[str, Any], as_owner: psycopg.Connection
) -> None:
    post_event(client, org, member, event_type="linkedin_viewed")
    row = as_owner.execute(
        "SELECT event_type, event_data->>'source', org_id::text FROM engagement_events "
        "WHERE campaign_contact_id = %s",
        (member["id"],),
    ).fetchone()
    assert row == ("linkedin_viewed", "manual", str(org.id))


def test_an_archived_campaign_takes_no_events(
    client: TestClient, org: Org, member: dict[str, Any]
) -> None:
    url = f"/api/v1/campaigns/{member['campaign_id']}"
    for action in ("activate", "complete", "archive"):
        assert client.post(f"{url}/{action}", headers=org.headers()).status_code == 200
    answer = post_event(client, org, member, event_type="linkedin_sent")
    assert answer.json()["code"] == "CAMPAIGN_READ_ONLY"


def test_a_viewer_cannot_record_events(
    client: TestClient, org: Org, member: dict[str, Any]
) -> None:
    answer = post_event(client, org, member, role=Role.VIEWER, event_type="linkedin_sent")
    assert answer.status_code == 403


def test_another_organizations_contact_is_not_found(
    client: TestClient, org: Org, other_org: Org, member: dict[str, Any]
) -> None:
    answer = post_event(client, other_org, member, event_type="linkedin_sent")
    assert answer.status_code == 404


def test_a_contact_of_another_campaign_is_not_found(
    client: TestClient, org: Org, member: dict[str, Any]
) -> None:
    elsewhere = create_campaign(client, org, name="Elsewhere")
    moved = {"campaign_id": elsewhere["id"], "id": member["id"]}
    assert post_event(client, org, moved, event_type="linkedin_sent").status_code == 404


@pytest.mark.parametrize("kind", ["sms_sent", "call_completed", "letter_sent"])
def test_an_sms_call_or_letter_logged_by_hand_reaches_the_contact(
    client: TestClient, org: Org, member: dict[str, Any], kind: str
) -> None:
    answer = post_event(client, org, member, event_type=kind)
    assert answer.status_code == 201, answer.text
    assert answer.json()["contact"]["status"] == "sent"
    metrics = campaign(client, org, member)
    assert (metrics["contacts_reached"], metrics["emails_sent"]) == (1, 0)
    assert metrics["linkedin_messages_sent"] == 0


def test_a_call_keeps_its_outcome_in_the_event_log(
    client: TestClient, org: Org, member: dict[str, Any], as_owner: psycopg.Connection
) -> None:
    answer = post_event(client, org, member, event_type="call_completed", call_outcome="voicemail")
    assert answer.status_code == 201, answer.text
    row = as_owner.execute(
        "SELECT event_data->>'call_outcome' FROM engagement_events WHERE campaign_contact_id = %s",
        (member["id"],),
    ).fetchone()
    assert row == ("voicemail",)


def test_a_call_outcome_goes_with_calls_only(
    client: TestClient, org: Org, member: dict[str, Any]
) -> None:
    answer = post_event(client, org, member, event_type="letter_sent", call_outcome="connected")
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "call_outcome"
    assert answer.json()["code"] == "FIELD_NOT_ALLOWED"
