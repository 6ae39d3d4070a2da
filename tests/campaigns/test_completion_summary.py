"""The owner's summary email on completion, sent once, to a real SMTP server on loopback."""

import asyncio
import email
import email.policy
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import psycopg
import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient

from outreach.analytics.jobs import send_completion_summaries
from outreach.auth.tokens import Role, mint_token
from outreach.config import Settings
from outreach.db import DatabaseUrls
from outreach.embedded import INSTANCE_HEADER, ORG_HEADER
from outreach.sending.transports.smtp import SmtpNotConfigured
from tests.factories import Org, add_contacts, create_campaign, free_port, run_job


@dataclass
class Mailbox:
    port: int
    messages: list[EmailMessage] = field(default_factory=list)
    refuse: bool = False

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse:
            return "451 Try again later"
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == address]


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox(port=free_port())
    controller = Controller(box, hostname="127.0.0.1", port=box.port)
    controller.start()
    yield box
    controller.stop()


@pytest.fixture
def mail_settings(settings: Settings, mailbox: Mailbox) -> Settings:
    return settings.model_copy(
        update={
            "smtp_url": f"smtp://127.0.0.1:{mailbox.port}",
            "mail_from": "outreach@example.com",
            "public_url": "https://outreach.example.com/",
        }
    )


def owner_headers(
    org: Org, settings: Settings, owner_email: str | None, role: Role = Role.ADMIN
) -> dict[str, str]:
    claims = {"email": owner_email} if owner_email else {}
    token = mint_token(settings, org_id=org.id, user_id=org.user(role), role=role, **claims)
    return {"Authorization": f"Bearer {token}"}


def completed_campaign(
    client: TestClient,
    org: Org,
    settings: Settings,
    owner_email: str | None,
    role: Role = Role.ADMIN,
) -> str:
    headers = owner_headers(org, settings, owner_email, role)
    client.get("/api/v1/campaigns", headers=headers)  # the owner's profile, with the email
    campaign = create_campaign(client, org, role, name="Backend engineers")
    add_contacts(client, org, campaign["id"], 2)
    for action in ("activate", "complete"):
        answer = client.post(f"/api/v1/campaigns/{campaign['id']}/{action}", headers=headers)
        assert answer.status_code == 200, answer.text
    return str(campaign["id"])


def summary_sent_at(as_owner: psycopg.Connection, campaign_id: str) -> Any:
    row = as_owner.execute(
        "SELECT summary_sent_at FROM campaigns WHERE id = %s", (campaign_id,)
    ).fetchone()
    assert row is not None
    return row[0]


def summaries(settings: Settings) -> Any:
    return lambda sessionmaker: send_completion_summaries(settings, sessionmaker)


def test_the_owner_gets_a_summary_with_a_link_to_the_report(
    client: TestClient,
    org: Org,
    mail_settings: Settings,
    mailbox: Mailbox,
    database_urls: DatabaseUrls,
    as_owner: psycopg.Connection,
) -> None:
    owner = f"owner-{uuid.uuid4().hex[:8]}@example.com"
    campaign_id = completed_campaign(client, org, mail_settings, owner)

    run = run_job(database_urls, summaries(mail_settings))

    assert uuid.UUID(campaign_id) in run.sent
    (message,) = mailbox.to(owner)
    assert message["Subject"] == "Campaign completed: Backend engineers"
    assert message["From"] == "outreach@example.com"
    assert message["Date"] is not None
    assert message["Message-ID"].endswith("@example.com>")
    assert message[ORG_HEADER] is None  # only the embedded catcher needs it
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None
    assert html is not None
    link = f"https://outreach.example.com/api/v1/campaigns/{campaign_id}/report?format=html"
    assert link in text.get_content()
    assert "Contacts" in text.get_content()
    assert f'href="{link}"' in html.get_content().replace("&amp;", "&")
    assert summary_sent_at(as_owner, campaign_id) is not None


def test_the_summary_is_sent_once(
    client: TestClient,
    org: Org,
    mail_settings: Settings,
    mailbox: Mailbox,
    database_urls: DatabaseUrls,
) -> None:
    owner = f"owner-{uuid.uuid4().hex[:8]}@example.com"
    completed_campaign(client, org, mail_settings, owner)
    run_job(database_urls, summaries(mail_settings))
    run_job(database_urls, summaries(mail_settings))
    assert len(mailbox.to(owner)) == 1


def test_two_runs_at_once_send_each_summary_once(
    client: TestClient,
    org: Org,
    mail_settings: Settings,
    mailbox: Mailbox,
    database_urls: DatabaseUrls,
) -> None:
    owner = f"owner-{uuid.uuid4().hex[:8]}@example.com"
    ids = {completed_campaign(client, org, mail_settings, owner) for _ in range(4)}

    async def both(sessionmaker: Any) -> Any:
        return await asyncio.gather(
            send_completion_summaries(mail_settings, sessionmaker),
            send_completion_summaries(mail_settings, sessionmaker),
        )

    first, second = run_job(database_urls, both)
    sent = [str(cid) for cid in first.sent + second.sent if str(cid) in ids]
    assert sorted(sent) == sorted(ids)
    assert len(mailbox.to(owner)) == 4


def test_the_catcher_files_the_summary_under_its_organization(
    client: TestClient,
    org: Org,
    mail_settings: Settings,
    mailbox: Mailbox,
    database_urls: DatabaseUrls,
) -> None:
    owner = f"owner-{uuid.uuid4().hex[:8]}@example.com"
    completed_campaign(client, org, mail_settings, owner)
    with_catcher = mail_settings.model_copy(update={"mail_catcher": "0123456789abcdef"})
    run_job(database_urls, summaries(with_catcher))
    (message,) = mailbox.to(owner)
    assert message[ORG_HEADER] == str(org.id)
    assert message[INSTANCE_HEADER] == "0123456789abcdef"


def test_an_owner_without_an_email_address_is_skipped_and_the_summary_marked(
    client: TestClient,
    org: Org,
    mail_settings: Settings,
    mailbox: Mailbox,
    database_urls: DatabaseUrls,
    as_owner: psycopg.Connection,
) -> None:
    campaign_id = completed_campaign(client, org, mail_settings, None)
    run = run_job(database_urls, summaries(mail_settings))
    assert uuid.UUID(campaign_id) in run.no_owner_email
    assert summary_sent_at(as_owner, campaign_id) is not None
    assert not any(campaign_id in message.as_string() for message in mailbox.messages)


def test_a_refused_summary_is_retried_next_run(
    client: TestClient,
    org: Org,
    mail_settings: Settings,
    mailbox: Mailbox,
    database_urls: DatabaseUrls,
    as_owner: psycopg.Connection,
) -> None:
    owner = f"owner-{uuid.uuid4().hex[:8]}@example.com"
    campaign_id = completed_campaign(client, org, mail_settings, owner)
    mailbox.refuse = True
    run = run_job(database_urls, summaries(mail_settings))
    assert uuid.UUID(campaign_id) in run.failed
    assert not run.report().ok
    assert summary_sent_at(as_owner, campaign_id) is None
    mailbox.refuse = False
    run_job(database_urls, summaries(mail_settings))
    assert len(mailbox.to(owner)) == 1
    assert summary_sent_at(as_owner, campaign_id) is not None


def test_without_a_mail_relay_the_job_fails_clearly_and_sends_later(
    client: TestClient,
    org: Org,
    settings: Settings,
    database_urls: DatabaseUrls,
    as_owner: psycopg.Connection,
) -> None:
    campaign_id = completed_campaign(client, org, settings, "owner@example.com")
    assert settings.smtp_url is None
    with pytest.raises(SmtpNotConfigured, match="OUTREACH_SMTP_URL"):
        run_job(database_urls, summaries(settings))
    assert summary_sent_at(as_owner, campaign_id) is None


def test_campaigns_completed_long_ago_get_no_summary(
    client: TestClient,
    org: Org,
    mail_settings: Settings,
    mailbox: Mailbox,
    database_urls: DatabaseUrls,
    as_owner: psycopg.Connection,
) -> None:
    owner = f"owner-{uuid.uuid4().hex[:8]}@example.com"
    campaign_id = completed_campaign(client, org, mail_settings, owner)
    as_owner.execute(
        "UPDATE campaigns SET completed_at = now() - interval '8 days' WHERE id = %s",
        (campaign_id,),
    )
    run_job(database_urls, summaries(mail_settings))
    assert mailbox.to(owner) == []


@pytest.mark.parametrize(
    "stored",
    ["ada@example.com\r\nBcc: x@evil.example", "ada@example.com\u2028", "not an address"],
    ids=["crlf", "line-separator", "no-address"],
)
def test_a_summary_that_cannot_be_built_fails_alone_and_is_not_retried(
    client: TestClient,
    org: Org,
    mail_settings: Settings,
    mailbox: Mailbox,
    database_urls: DatabaseUrls,
    as_owner: psycopg.Connection,
    stored: str,
) -> None:
    """An owner's address stored before tokens were checked (or by hand) makes no message:
    that summary is given up with its reason, and the org's other summaries go out."""
    broken = completed_campaign(client, org, mail_settings, "ada@example.com")
    as_owner.execute("UPDATE user_profiles SET email = %s WHERE id = %s", (stored, org.user()))
    owner = f"owner-{uuid.uuid4().hex[:8]}@example.com"
    fine = completed_campaign(client, org, mail_settings, owner, Role.TA_MANAGER)

    run = run_job(database_urls, summaries(mail_settings))

    assert uuid.UUID(fine) in run.sent
    assert len(mailbox.to(owner)) == 1
    assert "not an email address" in run.unsendable[uuid.UUID(broken)]
    assert run.report().ok
    assert "1 could not be built" in run.report().detail
    assert not any("evil" in str(message["Bcc"]) for message in mailbox.messages)
    row = as_owner.execute(
        "SELECT summary_sent_at, last_error FROM campaigns WHERE id = %s", (broken,)
    ).fetchone()
    assert row is not None
    assert row[0] is not None
    assert row[1].startswith("Completion summary not sent: ")
    again = run_job(database_urls, summaries(mail_settings))
    assert uuid.UUID(broken) not in again.failed + list(again.unsendable)
    assert again.report().ok
