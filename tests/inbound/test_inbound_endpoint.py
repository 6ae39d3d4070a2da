"""POST /api/v1/inbound/{provider}: authenticated by the org's secret, recorded once."""

import asyncio
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from outreach.auth.tokens import Role
from outreach.db import DatabaseUrls
from outreach.events.service import NewEvent
from outreach.events.state import EventType
from outreach.inbound.signature import SIGNATURE_HEADER, sign
from tests.factories import Org, add_contacts, create_campaign, record_concurrently


@pytest.fixture
def secret(client: TestClient, org: Org) -> dict[str, Any]:
    answer = client.post("/api/v1/inbound/secrets", headers=org.headers())
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


@pytest.fixture
def member(client: TestClient, org: Org) -> dict[str, str]:
    campaign = create_campaign(client, org)
    added = add_contacts(client, org, campaign["id"], 2)
    return {"campaign_id": campaign["id"], "id": added["results"][0]["campaign_contact_id"]}


def generic(client: TestClient, org: Org, secret: str, events: list[dict[str, Any]]) -> Any:
    body = json.dumps({"events": events}).encode()
    return client.post(
        "/api/v1/inbound/generic",
        params={"org": str(org.id)},
        content=body,
        headers={SIGNATURE_HEADER: sign(secret, body), "Content-Type": "application/json"},
    )


def event(member: dict[str, str], kind: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": f"{kind}-{member['id']}",
        "type": kind,
        "occurred_at": "2026-11-20T10:00:00Z",
        "recipient": "person0@example.com",
        "campaign_contact_id": member["id"],
        **fields,
    }


def contact(client: TestClient, org: Org, member: dict[str, str]) -> dict[str, Any]:
    url = f"/api/v1/campaigns/{member['campaign_id']}/contacts/{member['id']}"
    return dict(client.get(url, headers=org.headers()).json())


def test_a_signed_reply_is_recorded_once(
    client: TestClient, org: Org, secret: dict[str, Any], member: dict[str, str]
) -> None:
    reply = event(member, "replied", text="Sounds good")
    first = generic(client, org, secret["secret"], [reply])
    assert first.status_code == 200, first.text
    assert (first.json()["recorded"], first.json()["duplicates"]) == (1, 0)
    again = generic(client, org, secret["secret"], [reply])
    assert (again.json()["recorded"], again.json()["duplicates"]) == (0, 1)
    assert contact(client, org, member)["status"] == "responded"


def test_an_out_of_office_reply_is_not_a_response(
    client: TestClient, org: Org, secret: dict[str, Any], member: dict[str, str]
) -> None:
    generic(client, org, secret["secret"], [event(member, "replied", auto_reply=True)])
    assert contact(client, org, member)["responded_at"] is None


def test_a_hard_bounce_bounces_and_suppresses(
    client: TestClient,
    org: Org,
    secret: dict[str, Any],
    member: dict[str, str],
    as_owner: psycopg.Connection,
) -> None:
    bounce = event(member, "bounced", bounce_type="hard", reason="550 5.1.1 user unknown")
    generic(client, org, secret["secret"], [bounce])
    bounced = contact(client, org, member)
    assert (bounced["status"], bounced["error_message"]) == ("bounced", "550 5.1.1 user unknown")
    row = as_owner.execute(
        "SELECT reason FROM suppressions WHERE org_id = %s AND email = 'person0@example.com'",
        (org.id,),
    ).fetchone()
    assert row == ("hard_bounce",)


def test_an_event_without_our_id_is_matched_by_the_last_email_to_its_address(
    client: TestClient,
    org: Org,
    secret: dict[str, Any],
    member: dict[str, str],
    database_urls: DatabaseUrls,
) -> None:
    anonymous = event(member, "replied", id="reply-2")
    del anonymous["campaign_contact_id"]
    before_sending = generic(client, org, secret["secret"], [anonymous]).json()
    assert before_sending["unmatched"] == 1  # nothing was emailed to that address yet
    sent = NewEvent(uuid.UUID(member["id"]), EventType.EMAIL_SENT, datetime.now(UTC))
    asyncio.run(record_concurrently(database_urls, org.id, [sent], writers=1))
    after_sending = generic(client, org, secret["secret"], [anonymous]).json()
    assert after_sending["recorded"] == 1
    assert contact(client, org, member)["status"] == "responded"


def test_a_wrong_signature_an_unknown_org_and_no_org_are_refused_alike(
    client: TestClient, org: Org, other_org: Org, secret: dict[str, Any], member: dict[str, str]
) -> None:
    answers = [
        generic(client, org, "not-the-secret", [event(member, "delivered")]),
        generic(client, other_org, secret["secret"], [event(member, "delivered")]),
        client.post("/api/v1/inbound/generic", content=b"{}"),
    ]
    assert [a.status_code for a in answers] == [401, 401, 401]
    assert contact(client, org, member)["delivered_at"] is None


def test_an_unknown_provider_is_not_found(client: TestClient, org: Org) -> None:
    answer = client.post("/api/v1/inbound/sendgrid", params={"org": str(org.id)}, content=b"{}")
    assert answer.status_code == 404


def test_a_malformed_body_is_a_clear_422(
    client: TestClient, org: Org, secret: dict[str, Any]
) -> None:
    body = b'{"events": [{"type": "teleported"}]}'
    answer = client.post(
        "/api/v1/inbound/generic",
        params={"org": str(org.id)},
        content=body,
        headers={SIGNATURE_HEADER: sign(secret["secret"], body)},
    )
    assert answer.status_code == 422
    assert answer.json()["code"] == "INBOUND_FORMAT_INVALID"


def test_ses_bounces_arrive_through_the_webhook_url(
    client: TestClient,
    org: Org,
    secret: dict[str, Any],
    member: dict[str, str],
    payload_json: Callable[[str], Any],
) -> None:
    envelope = payload_json("ses_event_bounce.json")
    message = json.loads(envelope["Message"])
    message["mail"]["tags"]["outreach_cc"] = [member["id"]]
    envelope["Message"] = json.dumps(message)
    url = secret["webhook_urls"]["ses"].split("/api/v1", 1)[1]
    answer = client.post(f"/api/v1{url}", content=json.dumps(envelope).encode())
    assert answer.status_code == 200, answer.text
    assert answer.json()["recorded"] == 1
    assert contact(client, org, member)["status"] == "bounced"


def test_the_previous_secret_works_until_the_next_rotation(
    client: TestClient, org: Org, secret: dict[str, Any], member: dict[str, str]
) -> None:
    client.post("/api/v1/inbound/secrets", headers=org.headers())
    still = generic(client, org, secret["secret"], [event(member, "delivered")])
    assert still.status_code == 200
    client.post("/api/v1/inbound/secrets", headers=org.headers())
    retired = generic(client, org, secret["secret"], [event(member, "delivered", id="d2")])
    assert retired.status_code == 401


def test_only_managers_rotate_the_secret(client: TestClient, org: Org) -> None:
    answer = client.post("/api/v1/inbound/secrets", headers=org.headers(Role.RECRUITER))
    assert answer.status_code == 403


def test_a_time_out_of_range_in_utc_is_a_clear_422(
    client: TestClient, org: Org, secret: dict[str, Any], member: dict[str, str]
) -> None:
    late = event(member, "delivered", occurred_at="9999-12-31T23:59:59-23:59")
    answer = generic(client, org, secret["secret"], [late])
    assert answer.status_code == 422
    assert answer.json()["code"] == "INBOUND_FORMAT_INVALID"
    assert "out of range" in answer.text


@pytest.mark.parametrize(
    ("content_type", "code"),
    [
        ("text/plain; charset=UTF-8", "INBOUND_FORMAT_INVALID"),
        ("application/json", "JSON_TOO_DEEP"),
    ],
)
def test_deeply_nested_json_is_a_clear_422(
    client: TestClient, org: Org, secret: dict[str, Any], content_type: str, code: str
) -> None:
    body = b'{"events": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    answer = client.post(
        "/api/v1/inbound/generic",
        params={"org": str(org.id)},
        content=body,
        headers={SIGNATURE_HEADER: sign(secret["secret"], body), "Content-Type": content_type},
    )
    assert answer.status_code == 422
    assert answer.json()["code"] == code
