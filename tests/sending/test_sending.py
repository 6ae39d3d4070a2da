"""Sending through a real SMTP server on loopback: messages, tracking, failures, retries."""

import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
from fastapi.testclient import TestClient

from tests.factories import (
    Engine,
    MailSink,
    Org,
    contact_rows,
    create_sender,
    create_template,
    outbox_rows,
    post_contacts,
    ready_campaign,
)


def _html(message: object) -> str:
    part = message.get_body(("html",))  # type: ignore[attr-defined]
    return str(part.get_content())


def _text(message: object) -> str:
    part = message.get_body(("plain",))  # type: ignore[attr-defined]
    return str(part.get_content())


@dataclass
class Sent:
    """An active campaign of three contacts after the planner and one pass of the send loop."""

    campaign: dict[str, Any]
    sent: int
    message: EmailMessage  # the one to person1@example.com


@pytest.fixture
def sent(
    client: TestClient, org: Org, as_owner: psycopg.Connection, engine: Engine, mail_sink: MailSink
) -> Sent:
    sender = create_sender(client, org, mail_sink.port)
    campaign = ready_campaign(client, org, as_owner, sender, contacts=3)
    assert engine.plan(org) == 3
    return Sent(campaign, engine.send(org), mail_sink.to("person1@example.com")[0])


def test_an_active_campaign_sends_each_contact_one_message(
    org: Org, engine: Engine, mail_sink: MailSink, sent: Sent
) -> None:
    assert sent.sent == 3
    assert engine.send(org) == 0  # nothing twice
    assert len(mail_sink.messages) == 3


def test_the_message_is_personalised_for_its_contact(sent: Sent) -> None:
    assert sent.message["Subject"] == "Hello Person1"
    assert sent.message["To"].addresses[0].display_name == "Person1"
    assert "Hi Person1," in _html(sent.message)
    assert "Hi Person1," in _text(sent.message)


def test_the_message_comes_from_the_sender_with_a_date(sent: Sent) -> None:
    assert sent.message["From"].addresses[0].display_name == "Ada Recruiter"
    assert sent.message["From"].addresses[0].addr_spec == "recruiting@example.com"
    assert sent.message["Date"] is not None


def test_the_message_has_an_html_and_a_text_part(sent: Sent) -> None:
    assert sent.message.get_content_type() == "multipart/alternative"


def test_the_message_id_names_the_outbox_row_which_records_the_servers_answer(
    as_owner: psycopg.Connection, sent: Sent
) -> None:
    rows = {row["email"]: row for row in outbox_rows(as_owner, sent.campaign["id"])}
    row = rows["person1@example.com"]
    assert sent.message["Message-ID"] == f"<{row['id']}@example.com>" == row["message_id"]
    assert row["status"] == "sent"
    assert row["provider_message_id"].startswith("queued as")


def test_the_message_offers_one_click_unsubscribe(sent: Sent) -> None:
    assert sent.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert re.fullmatch(r"<http://[^>]+/t/u/[A-Za-z0-9_-]+>", sent.message["List-Unsubscribe"])


def test_each_contact_is_marked_sent_by_email(as_owner: psycopg.Connection, sent: Sent) -> None:
    contacts = contact_rows(as_owner, sent.campaign["id"])
    assert {c["status"] for c in contacts} == {"sent"}
    assert all(c["email_sent_at"] is not None and c["channel"] == "email" for c in contacts)


def test_the_campaign_counts_the_emails_sent_and_the_contacts_reached(
    client: TestClient, org: Org, sent: Sent
) -> None:
    detail = client.get(f"/api/v1/campaigns/{sent.campaign['id']}", headers=org.headers()).json()
    assert detail["emails_sent"] == 3
    assert detail["contacts_reached"] == 3


def test_tracking_links_in_the_sent_message_work_end_to_end(
    client: TestClient, org: Org, as_owner: psycopg.Connection, engine: Engine, mail_sink: MailSink
) -> None:
    sender = create_sender(client, org, mail_sink.port)
    campaign = ready_campaign(client, org, as_owner, sender, contacts=1)
    engine.plan(org)
    engine.send(org)
    html = _html(mail_sink.messages[0])

    click = re.search(r'href="(http://[^"]+/t/c/[^"]+)"', html)
    pixel = re.search(r'src="(http://[^"]+/t/o/[^"]+\.gif)"', html)
    assert click
    assert pixel
    assert "https://jobs.example.com" not in html  # the link goes through the click token
    redirect = client.get(urlsplit(click.group(1)).path, follow_redirects=False)
    assert redirect.status_code == 302
    assert redirect.headers["location"] == "https://jobs.example.com/role?id=7"
    assert client.get(urlsplit(pixel.group(1)).path).headers["content-type"] == "image/gif"

    unsubscribe = mail_sink.messages[0]["List-Unsubscribe"].strip("<>")
    assert client.post(urlsplit(unsubscribe).path).status_code == 200
    contact = contact_rows(as_owner, campaign["id"])[0]
    assert contact["status"] == "unsubscribed"
    suppressions = client.get("/api/v1/suppressions", headers=org.headers()).json()["items"]
    assert [s["email"] for s in suppressions] == ["person0@example.com"]


def test_reply_to_carries_the_campaign_contact_for_inbound_replies(
    client: TestClient,
    org: Org,
    as_owner: psycopg.Connection,
    engine: Engine,
    mail_sink: MailSink,
) -> None:
    engine.settings = engine.settings.model_copy(update={"reply_domain": "in.example.com"})
    sender = create_sender(client, org, mail_sink.port)
    campaign = ready_campaign(client, org, as_owner, sender, contacts=1)
    engine.plan(org)
    engine.send(org)
    contact = contact_rows(as_owner, campaign["id"])[0]
    assert mail_sink.messages[0]["Reply-To"] == f"reply+{contact['id']}@in.example.com"


def test_a_permanent_smtp_failure_bounces_and_suppresses_without_retry(
    client: TestClient, org: Org, as_owner: psycopg.Connection, engine: Engine, mail_sink: MailSink
) -> None:
    mail_sink.refusals["person0@example.com"] = "550 5.1.1 User unknown"
    sender = create_sender(client, org, mail_sink.port)
    campaign = ready_campaign(client, org, as_owner, sender, contacts=2)
    engine.plan(org)
    engine.send(org)

    assert [m["To"].addresses[0].addr_spec for m in mail_sink.messages] == ["person1@example.com"]
    failed = outbox_rows(as_owner, campaign["id"])[0]
    assert failed["status"] == "failed"
    assert "550" in failed["last_error"]
    contact = contact_rows(as_owner, campaign["id"])[0]
    assert contact["status"] == "bounced"
    assert contact["bounce_type"] == "hard"
    assert "User unknown" in contact["error_message"]
    suppressed = client.get("/api/v1/suppressions", headers=org.headers()).json()["items"]
    assert [(s["email"], s["reason"]) for s in suppressed] == [
        ("person0@example.com", "hard_bounce")
    ]
    engine.send(org)
    assert mail_sink.rcpt_attempts.count("person0@example.com") == 1


def test_a_temporary_failure_is_retried_three_times_then_bounced(
    client: TestClient, org: Org, as_owner: psycopg.Connection, engine: Engine, mail_sink: MailSink
) -> None:
    mail_sink.refusals["person0@example.com"] = "451 4.7.1 Try again later"
    sender = create_sender(client, org, mail_sink.port)
    campaign = ready_campaign(client, org, as_owner, sender, contacts=1)
    engine.plan(org)
    engine.send(org)

    row = outbox_rows(as_owner, campaign["id"])[0]
    assert (row["status"], row["attempts"]) == ("queued", 1)
    assert row["due_at"] - datetime.now(UTC) > timedelta(hours=1, minutes=59)
    contact = contact_rows(as_owner, campaign["id"])[0]
    assert (contact["status"], contact["bounce_type"]) == ("pending", "soft")
    assert "Try again later" in contact["error_message"]

    delays = []
    for _ in range(3):
        before = outbox_rows(as_owner, campaign["id"])[0]
        delays.append(before["due_at"] - before["updated_at"])
        as_owner.execute(
            "UPDATE outbox_messages SET due_at = now() WHERE campaign_id = %s", (campaign["id"],)
        )
        as_owner.execute(
            "UPDATE tenant_directory SET outbox_due_at = now() WHERE id = %s", (org.id,)
        )
        engine.send(org)
    assert [round(d / timedelta(hours=1)) for d in delays] == [2, 12, 34]  # 48 hours in all

    row = outbox_rows(as_owner, campaign["id"])[0]
    assert (row["status"], row["attempts"]) == ("failed", 4)
    assert mail_sink.rcpt_attempts.count("person0@example.com") == 4
    contact = contact_rows(as_owner, campaign["id"])[0]
    assert (contact["status"], contact["bounce_type"]) == ("bounced", "soft")
    # only hard bounces, complaints and unsubscribes suppress the address for the whole org
    assert client.get("/api/v1/suppressions", headers=org.headers()).json()["items"] == []


def test_a_server_that_does_not_answer_is_a_temporary_failure(
    client: TestClient, org: Org, as_owner: psycopg.Connection, engine: Engine, mail_sink: MailSink
) -> None:
    from tests.factories import free_port

    sender = create_sender(client, org, free_port())  # nothing listens there
    campaign = ready_campaign(client, org, as_owner, sender, contacts=1)
    engine.plan(org)
    engine.send(org)
    row = outbox_rows(as_owner, campaign["id"])[0]
    assert (row["status"], row["attempts"]) == ("queued", 1)
    assert "connection failed" in row["last_error"]


def test_a_missing_personalization_token_fails_before_sending(
    client: TestClient, org: Org, as_owner: psycopg.Connection, engine: Engine, mail_sink: MailSink
) -> None:
    sender = create_sender(client, org, mail_sink.port)
    template = create_template(client, org, body_text="Hi {{first_name}} at {{company_name}}")
    campaign = ready_campaign(
        client, org, as_owner, sender, contacts=0, template=template, activate=False
    )
    post_contacts(
        client,
        org,
        campaign["id"],
        [
            {"email": "known@example.com", "first_name": "Kim", "company_name": "Acme"},
            {"email": "unknown@example.com", "first_name": "Uma"},
        ],
    )
    client.post(f"/api/v1/campaigns/{campaign['id']}/activate", headers=org.headers())
    engine.plan(org)
    engine.send(org)

    assert [m["To"].addresses[0].addr_spec for m in mail_sink.messages] == ["known@example.com"]
    failed = next(r for r in outbox_rows(as_owner, campaign["id"]) if r["status"] == "failed")
    assert failed["email"] == "unknown@example.com"
    assert failed["last_error"] == "missing personalization: company_name"
    contact = next(
        c for c in contact_rows(as_owner, campaign["id"]) if c["email"] == "unknown@example.com"
    )
    assert contact["error_message"] == "missing personalization: company_name"


def test_the_suppression_list_is_checked_at_send_time(
    client: TestClient, org: Org, as_owner: psycopg.Connection, engine: Engine, mail_sink: MailSink
) -> None:
    sender = create_sender(client, org, mail_sink.port)
    campaign = ready_campaign(client, org, as_owner, sender, contacts=2)
    engine.plan(org)
    answer = client.post(
        "/api/v1/suppressions",
        json={"email": "Person0@example.com", "reason": "manual"},
        headers=org.headers(),
    )
    assert answer.status_code == 201, answer.text
    engine.send(org)

    assert [m["To"].addresses[0].addr_spec for m in mail_sink.messages] == ["person1@example.com"]
    cancelled = outbox_rows(as_owner, campaign["id"])[0]
    assert (cancelled["status"], cancelled["last_error"]) == (
        "cancelled",
        "address on the suppression list",
    )


def test_a_paused_campaign_sends_nothing_until_resumed(
    client: TestClient, org: Org, as_owner: psycopg.Connection, engine: Engine, mail_sink: MailSink
) -> None:
    sender = create_sender(client, org, mail_sink.port)
    campaign = ready_campaign(client, org, as_owner, sender, contacts=2)
    engine.plan(org)
    client.post(f"/api/v1/campaigns/{campaign['id']}/pause", headers=org.headers())
    engine.send(org)
    assert mail_sink.messages == []
    client.post(f"/api/v1/campaigns/{campaign['id']}/resume", headers=org.headers())
    as_owner.execute("UPDATE tenant_directory SET outbox_due_at = now() WHERE id = %s", (org.id,))
    engine.send(org)
    assert len(mail_sink.messages) == 2


def test_connections_send_their_messages_at_the_same_time(
    client: TestClient, org: Org, as_owner: psycopg.Connection, engine: Engine, mail_sink: MailSink
) -> None:
    connections = engine.settings.send_connections
    mail_sink.delay = 0.5  # each DATA answered after half a second
    sender = create_sender(client, org, mail_sink.port)
    ready_campaign(client, org, as_owner, sender, contacts=connections)
    engine.plan(org)
    started = time.monotonic()
    assert engine.send(org) == connections
    # one after another would take connections x 0.5 s
    assert time.monotonic() - started < 0.5 * connections * 0.75
