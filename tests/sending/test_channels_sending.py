"""Sending beyond one template and one channel: A/B variants, SMS through the provider, the
outbox as the API shows it, and the explicit send call's limits and idempotency."""

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from outreach.config import Settings
from outreach.db import DatabaseUrls
from outreach.main import create_app
from tests.factories import (
    Engine,
    MailSink,
    Org,
    contact_rows,
    create_campaign,
    create_sender,
    create_template,
    outbox_rows,
    post_contacts,
    production_settings,
    ready_campaign,
)
from tests.sending.twilio_server import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    FROM_NUMBER,
    INVALID_NUMBER,
    OK_NUMBER,
    TwilioServer,
    twilio_server,
)

ALL_WEEK = (
    "UPDATE campaigns SET send_days = '{1,2,3,4,5,6,7}', send_start = '00:00', "
    "send_end = '23:59:59' WHERE id = %s"
)


@pytest.fixture(scope="module")
def twilio() -> Iterator[TwilioServer]:
    with twilio_server() as server:
        yield server


def test_an_ab_campaign_sends_each_contact_its_variants_template(
    client: TestClient, org: Org, as_owner: psycopg.Connection, engine: Engine, mail_sink: MailSink
) -> None:
    sender = create_sender(client, org, mail_sink.port)
    a = create_template(client, org, name="A", subject="Variant A for {{first_name}}")
    b = create_template(client, org, name="B", subject="Variant B for {{first_name}}")
    campaign = create_campaign(
        client,
        org,
        permission_mode="autopilot",
        is_ab_test=True,
        variant_a_template_id=a["id"],
        variant_b_template_id=b["id"],
        ab_split_percentage=50,
        sender_id=sender["id"],
    )
    rows = [{"email": f"ab{i}@example.com", "first_name": f"Ab{i}"} for i in range(6)]
    assert post_contacts(client, org, campaign["id"], rows).status_code == 200
    as_owner.execute(ALL_WEEK, (campaign["id"],))
    client.post(f"/api/v1/campaigns/{campaign['id']}/activate", headers=org.headers())
    engine.plan(org)
    engine.send(org)

    variant_of = {c["email"]: c["ab_variant"] for c in contact_rows(as_owner, campaign["id"])}
    assert sorted(variant_of.values()) == ["A", "A", "A", "B", "B", "B"]
    for message in mail_sink.messages:
        address = message["To"].addresses[0].addr_spec
        assert message["Subject"].startswith(f"Variant {variant_of[address]} for ")
    templates = {
        c["email"]: str(c["template_used_id"]) for c in contact_rows(as_owner, campaign["id"])
    }
    assert {templates[e] for e, v in variant_of.items() if v == "A"} == {a["id"]}


def sms_campaign(
    client: TestClient,
    org: Org,
    as_owner: psycopg.Connection,
    twilio: TwilioServer,
    rows: list[dict[str, str]],
) -> dict[str, Any]:
    """An active autopilot campaign that texts `rows` through the loopback provider."""
    configured = client.put(
        "/api/v1/sms-provider",
        json={
            "base_url": twilio.url,
            "account_sid": ACCOUNT_SID,
            "auth_token": AUTH_TOKEN,
            "from_number": FROM_NUMBER,
        },
        headers=org.headers(),
    )
    assert configured.status_code == 201, configured.text
    template = create_template(
        client, org, name="Text", channel="sms", subject=None, body_text="Hi {{first_name}}!"
    )
    campaign = create_campaign(
        client,
        org,
        channel="combined",
        campaign_type="business_development",
        permission_mode="autopilot",
        template_id=template["id"],
        email_allocation=0,
        linkedin_allocation=0,
        voice_allocation=0,
        sms_allocation=100,
        mail_allocation=0,
    )
    rows = [{**row, "lead_tier": "hot", "contact_type": "decision_maker"} for row in rows]
    assert post_contacts(client, org, campaign["id"], rows).status_code == 200
    as_owner.execute(ALL_WEEK, (campaign["id"],))
    client.post(f"/api/v1/campaigns/{campaign['id']}/activate", headers=org.headers())
    return campaign


def test_sms_goes_through_the_organizations_provider(
    client: TestClient,
    org: Org,
    as_owner: psycopg.Connection,
    engine: Engine,
    twilio: TwilioServer,
) -> None:
    rows = [
        {"email": "ok@example.com", "first_name": "Olga", "phone": OK_NUMBER},
        {"email": "bad@example.com", "first_name": "Ben", "phone": INVALID_NUMBER},
    ]
    campaign = sms_campaign(client, org, as_owner, twilio, rows)
    engine.plan(org)
    engine.send(org)

    sent = [r for r in twilio.requests if r["form"]["To"] == OK_NUMBER]
    assert [r["form"]["Body"] for r in sent] == ["Hi Olga!"]
    messages = {r["email"]: r for r in outbox_rows(as_owner, campaign["id"])}
    assert messages["ok@example.com"]["status"] == "sent"
    assert messages["ok@example.com"]["provider_message_id"].startswith("SM")
    assert messages["bad@example.com"]["status"] == "failed"
    contacts = {c["email"]: c for c in contact_rows(as_owner, campaign["id"])}
    assert contacts["ok@example.com"]["status"] == "sent"
    assert "21211" in contacts["bad@example.com"]["error_message"]
    # a bad number is not a bounced email address: nothing is suppressed
    assert client.get("/api/v1/suppressions", headers=org.headers()).json()["items"] == []


def test_a_production_worker_does_not_text_through_a_loopback_provider(
    as_owner: psycopg.Connection,
    settings: Settings,
    database_urls: DatabaseUrls,
    twilio: TwilioServer,
) -> None:
    # Saved while the operator allowed private targets; sent once they no longer are.
    allowing = production_settings(settings, allow_private_targets=True)
    org = Org(allowing)
    row = {"email": "ok@example.com", "first_name": "Olga", "phone": "+14155550123"}
    with TestClient(create_app(allowing, database_urls)) as client:
        campaign = sms_campaign(client, org, as_owner, twilio, [row])
    Engine(allowing, database_urls).plan(org)
    Engine(production_settings(settings), database_urls).send(org)
    assert [r for r in twilio.requests if r["form"]["To"] == row["phone"]] == []
    message = outbox_rows(as_owner, campaign["id"])[0]
    assert (message["status"], message["attempts"]) == ("queued", 1)
    assert "127.0.0.1 is a loopback address" in message["last_error"]


def test_an_sms_token_no_key_decrypts_is_retried_not_left_claimed(
    client: TestClient,
    org: Org,
    as_owner: psycopg.Connection,
    engine: Engine,
    twilio: TwilioServer,
) -> None:
    row = {"email": "ok@example.com", "first_name": "Olga", "phone": "+14155550199"}
    campaign = sms_campaign(client, org, as_owner, twilio, [row])
    engine.plan(org)
    # The keys were rotated without the old one: the stored token decrypts with none.
    as_owner.execute(
        "UPDATE sms_providers SET auth_token_encrypted = 'not-a-fernet-token' WHERE org_id = %s",
        (org.id,),
    )
    engine.send(org)
    assert [r for r in twilio.requests if r["form"]["To"] == row["phone"]] == []
    message = outbox_rows(as_owner, campaign["id"])[0]
    assert (message["status"], message["attempts"]) == ("queued", 1)
    assert "OUTREACH_SENDER_SECRET_KEYS" in message["last_error"]


def test_the_outbox_lists_messages_by_campaign_and_status(
    client: TestClient,
    org: Org,
    other_org: Org,
    as_owner: psycopg.Connection,
    engine: Engine,
    mail_sink: MailSink,
) -> None:
    mail_sink.refusals["person0@example.com"] = "550 No such user"
    sender = create_sender(client, org, mail_sink.port)
    campaign = ready_campaign(client, org, as_owner, sender, contacts=3)
    engine.plan(org)
    engine.send(org)

    answer = client.get(
        "/api/v1/outbox", params={"campaign_id": campaign["id"]}, headers=org.headers()
    )
    assert answer.status_code == 200, answer.text
    items = answer.json()["items"]
    assert sorted((m["to"], m["status"]) for m in items) == [
        ("person0@example.com", "failed"),
        ("person1@example.com", "sent"),
        ("person2@example.com", "sent"),
    ]
    failed = client.get(
        "/api/v1/outbox", params={"status": "failed"}, headers=org.headers()
    ).json()["items"]
    assert [m["to"] for m in failed] == ["person0@example.com"]
    assert "550" in failed[0]["last_error"]
    first = client.get("/api/v1/outbox", params={"limit": 1}, headers=org.headers()).json()
    second = client.get(
        "/api/v1/outbox", params={"limit": 1, "cursor": first["next_cursor"]}, headers=org.headers()
    ).json()
    assert first["items"][0]["id"] != second["items"][0]["id"]

    one = client.get(f"/api/v1/outbox/{failed[0]['id']}", headers=org.headers())
    assert one.json()["message_id"].endswith("@example.com>")
    theirs = client.get(f"/api/v1/outbox/{failed[0]['id']}", headers=other_org.headers())
    assert theirs.status_code == 404
    assert client.get("/api/v1/outbox", headers=other_org.headers()).json()["items"] == []


def test_the_send_call_beyond_the_daily_lead_limit_is_refused(
    client: TestClient, org: Org, as_owner: psycopg.Connection, mail_sink: MailSink
) -> None:
    sender = create_sender(client, org, mail_sink.port)
    campaign = ready_campaign(
        client, org, as_owner, sender, contacts=3, permission_mode="manual", daily_lead_limit=2
    )
    path = f"/api/v1/campaigns/{campaign['id']}/send"
    assert client.post(path, json={}, headers=org.headers()).json()["started"] == 2
    refused = client.post(path, json={}, headers=org.headers())
    assert refused.status_code == 409
    assert refused.json()["code"] == "CAMPAIGN_SEND_LIMIT_EXCEEDED"
    assert "(2)" in refused.json()["title"]


def test_the_send_call_honours_idempotency_keys(
    client: TestClient, org: Org, as_owner: psycopg.Connection, mail_sink: MailSink
) -> None:
    sender = create_sender(client, org, mail_sink.port)
    campaign = ready_campaign(client, org, as_owner, sender, contacts=3, permission_mode="manual")
    path = f"/api/v1/campaigns/{campaign['id']}/send"
    headers = {**org.headers(), "Idempotency-Key": "send-once"}
    first = client.post(path, json={}, headers=headers)
    again = client.post(path, json={}, headers=headers)
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    assert first.json()["started"] == 3
    assert len(outbox_rows(as_owner, campaign["id"])) == 3
