"""Builders of the mailbox tests: a sender's mailbox on the test IMAP server, the sync run once
as its job runs it, the messages contacts write back, and the events the sync recorded."""

from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row

from outreach.config import Settings
from outreach.db import DatabaseUrls
from outreach.kit.targets import TargetGuard
from outreach.mailboxes.jobs import MailboxSync
from outreach.sending.secrets import sender_secrets
from tests.factories import Org, run_job
from tests.mailboxes.imap_server import ImapServer

CORPUS = Path(__file__).parents[1] / "data" / "mail"  # real-world messages


def add_mailbox(
    as_owner: psycopg.Connection,
    settings: Settings,
    org: Org,
    sender_id: str,
    server: ImapServer,
    user: str,
    password: str | None = None,
) -> None:
    """The sender's mailbox: `user` at the IMAP server (no TLS, a password), written straight
    into sender_mailboxes (the settings routes have tests of their own)."""
    secret = sender_secrets(tuple(settings.sender_secret_keys)).encrypt(
        password or server.passwords[user]
    )
    as_owner.execute(
        "INSERT INTO sender_mailboxes (org_id, sender_id, imap_host, imap_port, imap_tls, "
        "imap_username, auth, secret_encrypted) VALUES (%s, %s, %s, %s, 'none', %s, "
        "'password', %s)",
        (org.id, sender_id, server.host, server.port, user, secret),
    )


def sync(settings: Settings, urls: DatabaseUrls, *, chunk: int = 100) -> int:
    """One sync of every due mailbox, as the job makes it, without holding IDLE."""

    async def job(sessionmaker: Any) -> int:
        worker = MailboxSync.from_settings(settings, sessionmaker)
        worker.idle_seconds, worker.chunk = 0, chunk
        worker.guard = TargetGuard(allow_private=True)
        return await worker.sync_due()

    return run_job(urls, job)


def imap_events(as_owner: psycopg.Connection, campaign_id: str) -> list[dict[str, Any]]:
    with as_owner.cursor(row_factory=dict_row) as cursor:
        cursor.execute(
            "SELECT e.event_type, e.event_data, e.provider_event_id, c.email "
            "FROM engagement_events e JOIN campaign_contacts cc ON cc.id = e.campaign_contact_id "
            "JOIN contacts c ON c.id = cc.contact_id "
            "WHERE e.campaign_id = %s AND e.provider = 'imap' ORDER BY e.provider_event_id",
            (campaign_id,),
        )
        return cursor.fetchall()


def reply(
    sender: str,
    number: int,
    *,
    in_reply_to: str | None = None,
    references: list[str] | None = None,
    body: str = "Sounds interesting, let's talk on Monday.",
    headers: str = "",
    subject: str = "Re: Hello",
) -> bytes:
    """A message from `sender` (its Message-ID numbered `number`) as it lands in the mailbox."""
    lines = [
        f"From: Person <{sender}>",
        "To: recruiting@example.com",
        f"Subject: {subject}",
        f"Message-ID: <reply-{number}@mail.example.net>",
        "Date: Mon, 23 Nov 2026 10:00:00 +0000",
    ]
    if in_reply_to:
        lines.append(f"In-Reply-To: {in_reply_to}")
    if references:
        lines.append(f"References: {' '.join(references)}")
    if headers:
        lines.append(headers)
    return ("\r\n".join(lines) + "\r\n\r\n" + body + "\r\n").encode()
