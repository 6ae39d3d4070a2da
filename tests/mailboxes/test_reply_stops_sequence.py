"""End to end: a sequence sends its first email, the contact answers in the sender's mailbox (a
real IMAP server), the next sync records the reply, and the sequence's next email is not sent to
that contact, while a contact who did not answer gets it."""

from datetime import timedelta

import psycopg
from fastapi.testclient import TestClient

from outreach.config import Settings
from outreach.db import DatabaseUrls
from tests.factories import (
    Engine,
    MailSink,
    Org,
    Walker,
    chain,
    create_template,
    ok,
    outbox_rows,
    sequence_campaign,
    states,
)
from tests.mailboxes.imap_server import ImapServer
from tests.mailboxes.mailbox_builders import imap_events, reply, sync

REPLIED = "person0@example.com"
SILENT = "person1@example.com"


def test_a_reply_read_from_the_mailbox_stops_the_sequence_before_its_next_email(
    client: TestClient,
    org: Org,
    as_owner: psycopg.Connection,
    database_urls: DatabaseUrls,
    settings: Settings,
    mail_sink: MailSink,
    engine: Engine,
    walker: Walker,
    imap_server: ImapServer,
) -> None:
    first = create_template(client, org, name="First", subject="First for {{first_name}}")
    second = create_template(client, org, name="Second", subject="Second for {{first_name}}")
    graph = chain(
        ("start", "trigger", {"type": "manual"}),
        ("first", "email", {"template_id": first["id"]}),
        ("wait", "wait", {"type": "duration", "value": 2, "unit": "days"}),
        ("second", "email", {"template_id": second["id"]}),
        ("done", "exit", {}),
    )
    campaign_id, members = sequence_campaign(client, org, as_owner, database_urls, mail_sink, graph)
    walker.enroll(org, campaign_id, members)
    walker.walk(org)
    assert engine.send(org) == 2
    walker.later(org, timedelta(minutes=1))  # the first email was sent: on to the wait

    (first_email,) = mail_sink.to(REPLIED)
    sent = {row["email"]: row for row in outbox_rows(as_owner, campaign_id)}
    assert first_email["Message-ID"] == sent[REPLIED]["message_id"]

    sender_id = str(sent[REPLIED]["sender_id"])
    user = imap_server.add_user("imap-password")
    mailbox = {
        "imap_host": imap_server.host,
        "imap_port": imap_server.port,
        "imap_tls": "none",
        "imap_username": user,
        "imap_password": "imap-password",
    }
    ok(client.put(f"/api/v1/senders/{sender_id}/mailbox", json=mailbox, headers=org.headers()))
    answer = "Thanks, not looking right now. Maybe next year."
    imap_server.put(user, reply(REPLIED, 1, in_reply_to=first_email["Message-ID"], body=answer))

    assert sync(settings, database_urls) == 1
    (replied,) = imap_events(as_owner, campaign_id)
    assert (replied["event_type"], replied["email"]) == ("response_received", REPLIED)
    assert replied["event_data"]["response_text"] == answer
    walker.walk(org)
    by_member = {str(s["campaign_contact_id"]): s for s in states(as_owner, campaign_id)}
    replied_walk = by_member[str(sent[REPLIED]["campaign_contact_id"])]
    assert (replied_walk["workflow_status"], replied_walk["exit_reason"]) == ("exited", "replied")

    walker.later(org, timedelta(days=2, minutes=1))
    engine.send(org)
    assert [str(m["Subject"]) for m in mail_sink.to(REPLIED)] == ["First for Person0"]
    assert [str(m["Subject"]) for m in mail_sink.to(SILENT)] == [
        "First for Person1",
        "Second for Person1",
    ]
