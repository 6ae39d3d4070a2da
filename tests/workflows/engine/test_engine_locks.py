"""The engine holds its claimed walks while it writes their messages and events, which lock
the rows they reference (KEY SHARE); what else updates walks (the wake-up triggers of new
events) must not hold those rows in a stronger lock, or the two wait on each other."""

import threading
from datetime import UTC, datetime

import psycopg
from fastapi.testclient import TestClient

from outreach.db import DatabaseUrls
from outreach.events.state import EventType
from outreach.kit.dburls import libpq_url
from tests.factories import (
    Engine,
    MailSink,
    Org,
    Walker,
    act,
    chain,
    create_template,
    event,
    eventually,
    record,
    sequence_campaign,
    someone_waits_for_a_lock,
)


def test_a_reply_recorded_while_the_engine_holds_the_walk_does_not_deadlock(
    client: TestClient,
    org: Org,
    as_owner: psycopg.Connection,
    database_urls: DatabaseUrls,
    mail_sink: MailSink,
    walker: Walker,
) -> None:
    template = create_template(client, org)
    graph = chain(
        ("start", "trigger", {}),
        ("t1", "email", {"template_id": template["id"]}),
        ("done", "exit", {}),
    )
    campaign_id, [member] = sequence_campaign(
        client, org, as_owner, database_urls, mail_sink, graph, contacts=1
    )
    [walk] = walker.enroll(org, campaign_id, [member])
    failures: list[Exception] = []

    def reply() -> None:
        try:
            record(
                database_urls, org, event(member, EventType.RESPONSE_RECEIVED, datetime.now(UTC))
            )
        except Exception as exc:  # noqa: BLE001 - the thread's outcome, for the test to read
            failures.append(exc)

    with psycopg.connect(libpq_url(database_urls.owner)) as engine:  # an engine's batch
        engine.execute("SELECT 1 FROM campaign_workflow_states WHERE id = %s FOR UPDATE", (walk,))
        replying = threading.Thread(target=reply)
        replying.start()
        replying.join(0.5)  # the reply locked its contact and waits for the walk
        engine.execute(  # the batch queues the contact's message, as the engine does
            "INSERT INTO outbox_messages (org_id, campaign_id, campaign_contact_id, channel, "
            "status, step, enrollment_id) VALUES (%s, %s, %s, 'sms', 'queued', 't1', %s)",
            (org.id, campaign_id, member, walk),
        )
        engine.commit()
    replying.join(10)
    assert not replying.is_alive()
    assert failures == []
    interrupt = as_owner.execute(
        "SELECT interrupt FROM campaign_workflow_states WHERE id = %s", (walk,)
    ).fetchone()
    assert interrupt == ("replied",)


def test_pausing_a_campaign_while_the_engine_holds_its_walks_does_not_deadlock(
    client: TestClient,
    org: Org,
    as_owner: psycopg.Connection,
    database_urls: DatabaseUrls,
    mail_sink: MailSink,
    walker: Walker,
) -> None:
    template = create_template(client, org)
    graph = chain(
        ("start", "trigger", {}),
        ("t1", "email", {"template_id": template["id"]}),
        ("done", "exit", {}),
    )
    campaign_id, [member] = sequence_campaign(
        client, org, as_owner, database_urls, mail_sink, graph, contacts=1
    )
    [walk] = walker.enroll(org, campaign_id, [member])
    answers: list[int] = []

    def pause() -> None:
        answers.append(act(client, org, campaign_id, "pause").status_code)

    with psycopg.connect(libpq_url(database_urls.owner)) as engine:  # an engine's batch
        engine.execute("SELECT 1 FROM campaign_workflow_states WHERE id = %s FOR UPDATE", (walk,))
        pausing = threading.Thread(target=pause)
        pausing.start()
        pausing.join(0.5)  # the pause locked the campaign and waits for the walk
        engine.execute(
            "INSERT INTO outbox_messages (org_id, campaign_id, campaign_contact_id, channel, "
            "status, step, enrollment_id) VALUES (%s, %s, %s, 'sms', 'queued', 't1', %s)",
            (org.id, campaign_id, member, walk),
        )
        engine.commit()
    pausing.join(10)
    assert answers == [200]
    status = as_owner.execute(
        "SELECT workflow_status FROM campaign_workflow_states WHERE id = %s", (walk,)
    ).fetchone()
    assert status == ("paused",)


def test_a_reply_recorded_while_the_send_loop_records_the_walks_message_does_not_deadlock(
    client: TestClient,
    org: Org,
    as_owner: psycopg.Connection,
    database_urls: DatabaseUrls,
    mail_sink: MailSink,
    walker: Walker,
    engine: Engine,
) -> None:
    """Event writers lock the campaign contact, then (by the wake-up trigger) its walk; the send
    loop recording a sent message wakes the walk too, and must take the two in the same order."""
    template = create_template(client, org)
    graph = chain(
        ("start", "trigger", {}),
        ("t1", "email", {"template_id": template["id"]}),
        ("done", "exit", {}),
    )
    campaign_id, [member] = sequence_campaign(
        client, org, as_owner, database_urls, mail_sink, graph, contacts=1
    )
    walker.enroll(org, campaign_id, [member])
    walker.walk(org)  # the message is queued; the walk waits for it
    as_owner.execute(  # accepted by the SMTP server, by a worker that died before recording it
        "UPDATE outbox_messages SET status = 'accepted', sent_at = now(), "
        "lease_until = now() - interval '1 minute' WHERE campaign_contact_id = %s",
        (member,),
    )
    failures: list[Exception] = []

    def send() -> None:
        try:
            engine.send(org)  # records the abandoned message as sent, with its event
        except Exception as exc:  # noqa: BLE001 - the thread's outcome, for the test to read
            failures.append(exc)

    with psycopg.connect(libpq_url(database_urls.owner)) as replying:  # an event writer
        replying.execute(
            "SELECT 1 FROM campaign_contacts WHERE id = %s FOR NO KEY UPDATE", (member,)
        )
        sending = threading.Thread(target=send)
        sending.start()
        assert eventually(lambda: someone_waits_for_a_lock(as_owner, "campaign_contacts"), 10)
        replying.execute(  # its wake-up trigger ends the walk
            "INSERT INTO engagement_events (org_id, campaign_id, campaign_contact_id, event_type, "
            "event_timestamp) VALUES (%s, %s, %s, 'response_received', now())",
            (org.id, campaign_id, member),
        )
        replying.commit()
    sending.join(10)
    assert not sending.is_alive()
    assert failures == []
    sent = as_owner.execute(
        "SELECT status FROM outbox_messages WHERE campaign_contact_id = %s", (member,)
    ).fetchall()
    assert sent == [("sent",)]
