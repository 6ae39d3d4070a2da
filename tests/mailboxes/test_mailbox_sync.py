"""The mailbox sync against a real IMAP server (pymap on loopback) and the real database: a
campaign sends through a sender whose mailbox then receives answers."""

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg.rows import dict_row

from outreach.config import Settings
from outreach.db import DatabaseUrls
from outreach.kit.targets import TargetGuard
from outreach.mailboxes.client import connect
from outreach.mailboxes.jobs import MailboxSync
from outreach.mailboxes.sync import SyncState, settings_of
from tests.factories import (
    Engine,
    MailSink,
    Org,
    create_sender,
    failing_writes,
    listed_items,
    ok,
    outbox_rows,
    ready_campaign,
    run_job,
)
from tests.mailboxes.imap_server import ImapServer
from tests.mailboxes.mailbox_builders import CORPUS, add_mailbox, imap_events, reply, sync


@dataclass
class Sent:
    """A campaign that sent one message to each of three contacts, through a sender whose
    mailbox is on the IMAP server."""

    org: Org
    sender: dict[str, Any]
    campaign: dict[str, Any]
    user: str  # the mailbox's IMAP user
    messages: dict[str, str]  # contact address -> our Message-ID


@pytest.fixture
def sent(
    client: TestClient,
    org: Org,
    as_owner: psycopg.Connection,
    engine: Engine,
    mail_sink: MailSink,
    settings: Settings,
    imap_server: ImapServer,
) -> Iterator[Sent]:
    """Its mailbox is removed afterwards: one synced in IDLE stays due, and the next test's
    sync (which claims every due mailbox) would read it too."""
    sender = create_sender(client, org, mail_sink.port)
    campaign = ready_campaign(client, org, as_owner, sender, contacts=3)
    assert engine.plan(org) == 3
    assert engine.send(org) == 3
    user = imap_server.add_user()
    add_mailbox(as_owner, settings, org, sender["id"], imap_server, user)
    messages = {row["email"]: row["message_id"] for row in outbox_rows(as_owner, campaign["id"])}
    yield Sent(org, sender, campaign, user, messages)
    as_owner.execute("DELETE FROM sender_mailboxes WHERE sender_id = %s", (sender["id"],))


def make_due(as_owner: psycopg.Connection, sender_id: str) -> None:
    as_owner.execute(
        "UPDATE sender_mailboxes SET next_sync_at = now() - interval '1 second' "
        "WHERE sender_id = %s",
        (sender_id,),
    )


def mailbox_row(as_owner: psycopg.Connection, sender_id: str) -> dict[str, Any]:
    with as_owner.cursor(row_factory=dict_row) as cursor:
        cursor.execute("SELECT * FROM sender_mailboxes WHERE sender_id = %s", (sender_id,))
        row = cursor.fetchone()
        assert row is not None
        return row


def dsn(original_message_id: str, recipient: str) -> bytes:
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.net>\r\n"
        "To: recruiting@example.com\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "Message-ID: <dsn-1@mx.example.net>\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\n"
        "I'm sorry to have to inform you that your message could not be delivered.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.net\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\n"
        "Action: failed\r\nStatus: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 user unknown\r\n"
        "--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"From: recruiting@example.com\r\nTo: {recipient}\r\n"
        f"Message-ID: {original_message_id}\r\nSubject: Hello\r\n"
        "--B--\r\n"
    ).encode()


def test_a_reply_is_matched_by_in_reply_to(
    sent: Sent,
    settings: Settings,
    database_urls: DatabaseUrls,
    as_owner: psycopg.Connection,
    imap_server: ImapServer,
) -> None:
    ours = sent.messages["person1@example.com"]
    imap_server.put(sent.user, reply("person1@example.com", 1, in_reply_to=ours))
    assert sync(settings, database_urls) >= 1
    (event,) = imap_events(as_owner, sent.campaign["id"])
    assert event["event_type"] == "response_received"
    assert event["email"] == "person1@example.com"
    assert event["provider_event_id"] == "<reply-1@mail.example.net>"
    assert event["event_data"]["matched_by"] == "thread"
    assert event["event_data"]["channel"] == "email"
    assert "let's talk on Monday" in event["event_data"]["response_text"]
    inbox = as_owner.execute(
        "SELECT matched_by, body_text FROM inbox_messages WHERE campaign_id = %s",
        (sent.campaign["id"],),
    ).fetchall()
    assert [row[0] for row in inbox] == ["thread"]
    row = mailbox_row(as_owner, sent.sender["id"])
    assert row["last_uid"] == 1
    assert row["uid_validity"] == imap_server.uid_validity(sent.user)
    assert row["last_error"] is None
    assert row["leased_until"] is None


def test_a_second_sync_records_nothing_and_marks_nothing_read(
    sent: Sent,
    settings: Settings,
    database_urls: DatabaseUrls,
    as_owner: psycopg.Connection,
    imap_server: ImapServer,
) -> None:
    ours = sent.messages["person1@example.com"]
    imap_server.put(sent.user, reply("person1@example.com", 1, in_reply_to=ours))
    sync(settings, database_urls)
    make_due(as_owner, sent.sender["id"])
    as_owner.execute(
        "UPDATE sender_mailboxes SET last_uid = 0 WHERE sender_id = %s", (sent.sender["id"],)
    )
    sync(settings, database_urls)
    assert len(imap_events(as_owner, sent.campaign["id"])) == 1
    assert mailbox_row(as_owner, sent.sender["id"])["last_error"] is None
    assert all("\\Seen" not in flags for flags in imap_server.flags(sent.user).values())


def test_the_reply_event_in_the_campaigns_log_names_its_inbox_message(
    sent: Sent,
    client: TestClient,
    settings: Settings,
    database_urls: DatabaseUrls,
    imap_server: ImapServer,
) -> None:
    ours = sent.messages["person2@example.com"]
    imap_server.put(sent.user, reply("person2@example.com", 1, in_reply_to=ours))
    sync(settings, database_urls)
    log = listed_items(
        client,
        sent.org,
        f"/api/v1/campaigns/{sent.campaign['id']}/events",
        event_type="response_received",
    )
    (event,) = log
    text = event["event_data"]["response_text"]
    assert text == "Sounds interesting, let's talk on Monday."
    inbox_message = ok(
        client.get(
            f"/api/v1/inbox/{event['event_data']['inbox_message_id']}",
            headers=sent.org.headers(),
        )
    )
    assert inbox_message["text"] == text
    assert inbox_message["message_id"] == event["event_data"]["message_id"]
    assert inbox_message["contact"]["campaign_contact_id"] == event["campaign_contact_id"]


def test_a_reply_is_matched_by_references_alone(
    sent: Sent,
    settings: Settings,
    database_urls: DatabaseUrls,
    as_owner: psycopg.Connection,
    imap_server: ImapServer,
) -> None:
    ours = sent.messages["person2@example.com"]
    references = [ours, "<someone-else@mail.example.net>"]
    imap_server.put(sent.user, reply("other@example.org", 1, references=references))
    sync(settings, database_urls)
    (event,) = imap_events(as_owner, sent.campaign["id"])
    assert event["email"] == "person2@example.com"
    assert event["event_data"]["matched_by"] == "thread"


def test_a_reply_without_threading_is_matched_by_address_and_flagged(
    sent: Sent,
    settings: Settings,
    database_urls: DatabaseUrls,
    as_owner: psycopg.Connection,
    imap_server: ImapServer,
) -> None:
    imap_server.put(sent.user, reply("Person0@example.com", 1))
    imap_server.put(sent.user, reply("stranger@example.org", 2))
    sync(settings, database_urls)
    (event,) = imap_events(as_owner, sent.campaign["id"])
    assert event["email"] == "person0@example.com"
    assert event["event_data"]["matched_by"] == "address"
    assert mailbox_row(as_owner, sent.sender["id"])["last_uid"] == 2


def test_a_request_in_words_to_be_removed_unsubscribes_and_suppresses(
    sent: Sent,
    settings: Settings,
    database_urls: DatabaseUrls,
    as_owner: psycopg.Connection,
    imap_server: ImapServer,
) -> None:
    # the corpus's message, answering the message we sent to person1
    corpus_id = b"<9c0d1e2f-3a4b-4c5d-8e6f-7a8b9c0d1e08@acme.example>"
    ours = sent.messages["person1@example.com"].encode()
    raw = (CORPUS / "reply-unsubscribe.eml").read_bytes().replace(corpus_id, ours)
    imap_server.put(sent.user, raw)
    sync(settings, database_urls)
    message_id = "<f0e1d2c3-b4a5-4968-8776-655443322110@example.net>"
    replied, unsubscribed = imap_events(as_owner, sent.campaign["id"])
    assert (replied["event_type"], replied["provider_event_id"]) == (
        "response_received",
        message_id,
    )
    assert replied["event_data"]["response_text"] == "Please remove me from your list."
    assert (unsubscribed["event_type"], unsubscribed["provider_event_id"]) == (
        "unsubscribed",
        f"{message_id}#unsubscribe",
    )
    assert unsubscribed["email"] == "person1@example.com"
    suppressed = as_owner.execute(
        "SELECT reason, campaign_id::text FROM suppressions WHERE org_id = %s AND email = %s",
        (sent.org.id, "person1@example.com"),
    ).fetchall()
    assert suppressed == [("unsubscribed", sent.campaign["id"])]
    status = as_owner.execute(
        "SELECT cc.status FROM campaign_contacts cc JOIN contacts c ON c.id = cc.contact_id "
        "WHERE cc.campaign_id = %s AND c.email = 'person1@example.com'",
        (sent.campaign["id"],),
    ).fetchone()
    assert status == ("unsubscribed",)


def test_auto_replies_give_their_return_date_when_they_state_one(
    sent: Sent,
    settings: Settings,
    database_urls: DatabaseUrls,
    as_owner: psycopg.Connection,
    imap_server: ImapServer,
) -> None:
    back = (datetime.now(UTC) + timedelta(days=20)).date()
    auto = "Auto-Submitted: auto-replied"
    imap_server.put(
        sent.user,
        reply(
            "person1@example.com",
            1,
            in_reply_to=sent.messages["person1@example.com"],
            headers=auto,
            subject="Out of office",
            body=f"I am out of the office until {back:%d %B %Y}.",
        ),
    )
    imap_server.put(
        sent.user,
        reply(
            "person2@example.com",
            2,
            in_reply_to=sent.messages["person2@example.com"],
            headers=auto,
            subject="Automatic reply",
            body="I am away with limited access to email.",
        ),
    )
    sync(settings, database_urls)
    events = {e["email"]: e for e in imap_events(as_owner, sent.campaign["id"])}
    assert events["person1@example.com"]["event_type"] == "auto_replied"
    assert events["person1@example.com"]["event_data"]["return_date"] == back.isoformat()
    assert events["person2@example.com"]["event_type"] == "auto_replied"
    assert "return_date" not in events["person2@example.com"]["event_data"]
    walks = as_owner.execute(
        "SELECT count(*) FROM inbox_messages WHERE campaign_id = %s", (sent.campaign["id"],)
    ).fetchone()
    assert walks == (0,)  # auto-replies are no inbox replies


def test_a_dsn_bounce_is_recorded_for_the_original_recipient(
    sent: Sent,
    settings: Settings,
    database_urls: DatabaseUrls,
    as_owner: psycopg.Connection,
    imap_server: ImapServer,
) -> None:
    ours = sent.messages["person2@example.com"]
    imap_server.put(sent.user, dsn(ours, "person2@example.com"))
    sync(settings, database_urls)
    (event,) = imap_events(as_owner, sent.campaign["id"])
    assert event["event_type"] == "bounced"
    assert event["email"] == "person2@example.com"
    assert event["event_data"]["bounce_type"] == "hard"
    assert "5.1.1" in event["event_data"]["reason"]


def test_a_crash_mid_sync_neither_misses_nor_repeats_a_message(
    sent: Sent,
    settings: Settings,
    database_urls: DatabaseUrls,
    as_owner: psycopg.Connection,
    imap_server: ImapServer,
) -> None:
    for number, person in enumerate(["person1", "person2", "person0", "person1"], start=1):
        ours = sent.messages[f"{person}@example.com"]
        imap_server.put(sent.user, reply(f"{person}@example.com", number, in_reply_to=ours))
    # the second chunk (messages 3 and 4) fails in its transaction
    with failing_writes(
        as_owner, "inbox_messages", "NEW.message_id = '<reply-3@mail.example.net>'"
    ):
        sync(settings, database_urls, chunk=2)
    row = mailbox_row(as_owner, sent.sender["id"])
    assert row["last_uid"] == 2
    assert row["last_error"] is not None
    assert len(imap_events(as_owner, sent.campaign["id"])) == 2
    make_due(as_owner, sent.sender["id"])
    sync(settings, database_urls, chunk=2)
    ids = [e["provider_event_id"] for e in imap_events(as_owner, sent.campaign["id"])]
    assert ids == [f"<reply-{n}@mail.example.net>" for n in (1, 2, 3, 4)]
    assert mailbox_row(as_owner, sent.sender["id"])["last_uid"] == 4


def test_a_new_uidvalidity_repeats_nothing_and_reads_what_is_new(
    sent: Sent,
    settings: Settings,
    database_urls: DatabaseUrls,
    as_owner: psycopg.Connection,
    imap_server: ImapServer,
) -> None:
    ours = sent.messages["person1@example.com"]
    imap_server.put(sent.user, reply("person1@example.com", 1, in_reply_to=ours))
    imap_server.put(
        sent.user, reply("person2@example.com", 2, in_reply_to=sent.messages["person2@example.com"])
    )
    sync(settings, database_urls)
    before = imap_server.uid_validity(sent.user)
    imap_server.restart_with_new_validity(sent.user)
    assert imap_server.uid_validity(sent.user) != before
    imap_server.put(
        sent.user, reply("person0@example.com", 3, in_reply_to=sent.messages["person0@example.com"])
    )
    make_due(as_owner, sent.sender["id"])
    sync(settings, database_urls)
    ids = [e["provider_event_id"] for e in imap_events(as_owner, sent.campaign["id"])]
    assert ids == [f"<reply-{n}@mail.example.net>" for n in (1, 2, 3)]
    row = mailbox_row(as_owner, sent.sender["id"])
    assert row["uid_validity"] == imap_server.uid_validity(sent.user)


def test_a_wrong_password_is_said_on_its_mailbox_and_stops_no_other(
    sent: Sent,
    client: TestClient,
    settings: Settings,
    database_urls: DatabaseUrls,
    as_owner: psycopg.Connection,
    imap_server: ImapServer,
    mail_sink: MailSink,
) -> None:
    broken_sender = create_sender(client, sent.org, mail_sink.port, from_email="other@example.com")
    broken_user = imap_server.add_user()
    add_mailbox(
        as_owner, settings, sent.org, broken_sender["id"], imap_server, broken_user, "wrong"
    )
    ours = sent.messages["person1@example.com"]
    imap_server.put(sent.user, reply("person1@example.com", 1, in_reply_to=ours))
    sync(settings, database_urls)
    broken = mailbox_row(as_owner, broken_sender["id"])
    assert broken["last_error"].startswith(f"Login refused for {broken_user}: wrong user name")
    assert broken["next_sync_at"] > datetime.now(UTC) + timedelta(seconds=50)
    assert broken["leased_until"] is None
    assert len(imap_events(as_owner, sent.campaign["id"])) == 1


def test_idle_reads_a_new_reply_within_seconds(
    sent: Sent,
    settings: Settings,
    database_urls: DatabaseUrls,
    as_owner: psycopg.Connection,
    imap_server: ImapServer,
) -> None:
    async def job(sessionmaker: Any) -> float:
        worker = MailboxSync.from_settings(settings, sessionmaker)
        worker.idle_seconds = 20
        worker.guard = TargetGuard(allow_private=True)
        (mailbox,) = (await worker.claim(10))[0]
        syncing = asyncio.create_task(worker.sync(mailbox))
        await asyncio.sleep(1.0)  # in IDLE by now
        ours = sent.messages["person2@example.com"]
        loop = asyncio.get_running_loop()
        arrived = loop.time()
        await loop.run_in_executor(
            None, imap_server.put, sent.user, reply("person2@example.com", 9, in_reply_to=ours)
        )
        while not imap_events(as_owner, sent.campaign["id"]):
            assert loop.time() - arrived < 10
            await asyncio.sleep(0.1)
        took = loop.time() - arrived
        worker.stopping.set()
        await syncing
        return took

    assert run_job(database_urls, job) < 10
    assert mailbox_row(as_owner, sent.sender["id"])["leased_until"] is None


def test_a_mailbox_held_in_idle_is_due_again_at_once_when_its_session_ends(
    sent: Sent,
    settings: Settings,
    database_urls: DatabaseUrls,
    as_owner: psycopg.Connection,
) -> None:
    """Between two IDLE sessions a reply waits for the next pass, not for the poll interval."""

    async def job(sessionmaker: Any) -> None:
        worker = MailboxSync.from_settings(settings, sessionmaker)
        worker.idle_seconds = 1
        worker.guard = TargetGuard(allow_private=True)
        (mailbox,) = (await worker.claim(10))[0]
        await worker.sync(mailbox)  # the session runs to its end

    run_job(database_urls, job)
    row = mailbox_row(as_owner, sent.sender["id"])
    assert row["leased_until"] is None
    assert row["next_sync_at"] <= datetime.now(UTC)


def test_a_worker_whose_lease_was_taken_records_nothing_and_leaves_the_lease_alone(
    sent: Sent,
    settings: Settings,
    database_urls: DatabaseUrls,
    as_owner: psycopg.Connection,
    imap_server: ImapServer,
) -> None:
    ours = sent.messages["person1@example.com"]
    imap_server.put(sent.user, reply("person1@example.com", 1, in_reply_to=ours))

    async def job(sessionmaker: Any) -> None:
        worker = MailboxSync.from_settings(settings, sessionmaker)
        worker.idle_seconds = 0
        worker.guard = TargetGuard(allow_private=True)
        (mailbox,) = (await worker.claim(10))[0]
        as_owner.execute(  # its lease ran out, and another worker claimed the mailbox
            "UPDATE sender_mailboxes SET leased_until = now() + interval '10 minutes' "
            "WHERE sender_id = %s",
            (sent.sender["id"],),
        )
        await worker.sync(mailbox)

    run_job(database_urls, job)
    assert imap_events(as_owner, sent.campaign["id"]) == []
    row = mailbox_row(as_owner, sent.sender["id"])
    assert row["last_uid"] == 0
    assert row["leased_until"] > datetime.now(UTC) + timedelta(minutes=9)  # the other's, kept


def test_a_message_that_arrives_between_idle_slices_is_read_at_the_next_one(
    sent: Sent,
    settings: Settings,
    database_urls: DatabaseUrls,
    as_owner: psycopg.Connection,
    imap_server: ImapServer,
) -> None:
    """IDLE announces what arrives while it runs; a message that came before it began (after
    the last read, while IDLE was ended and begun again) is read after the slice anyway."""

    async def job(sessionmaker: Any) -> None:
        worker = MailboxSync.from_settings(settings, sessionmaker)
        worker.idle_seconds = 1
        worker.guard = TargetGuard(allow_private=True)
        (mailbox,) = (await worker.claim(10))[0]
        state = SyncState(mailbox.uid_validity, mailbox.last_uid)
        async with connect(settings_of(mailbox, worker.secrets), worker.guard) as connection:
            ours = sent.messages["person0@example.com"]
            await asyncio.get_running_loop().run_in_executor(
                None, imap_server.put, sent.user, reply("person0@example.com", 5, in_reply_to=ours)
            )
            await worker._idle(mailbox, connection, state)  # the slice loop itself

    run_job(database_urls, job)
    [event] = imap_events(as_owner, sent.campaign["id"])
    assert event["provider_event_id"] == "<reply-5@mail.example.net>"
