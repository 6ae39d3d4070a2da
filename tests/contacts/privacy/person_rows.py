"""A person with data in every table that holds some (for the export and erasure tests):
events recorded as the event writer records them (so counters move), the other rows written
as their owners write them."""

import uuid
from dataclasses import dataclass
from datetime import timedelta

import psycopg
from fastapi.testclient import TestClient
from psycopg import sql
from psycopg.types.json import Jsonb

from outreach.auth.tokens import Role
from outreach.db import DatabaseUrls
from outreach.events.service import NewEvent, record_events
from outreach.events.state import EventType
from tests.factories import (
    T0,
    Org,
    add_sender,
    enrollment_row,
    in_org,
    insert_row,
    ok,
    start_campaign,
)

ADDRESS = "Zeldovicha.Quorrington@example.org"
FIRST_NAME = "Zeldovicha"
LAST_NAME = "Quorrington"
OTHER = {"email": "someone.else@example.org", "first_name": "Someone"}


@dataclass
class Person:
    contact_id: str
    campaign_id: str
    member_id: str


def person_everywhere(
    client: TestClient, org: Org, urls: DatabaseUrls, as_owner: psycopg.Connection
) -> Person:
    me = {
        "email": ADDRESS,
        "first_name": FIRST_NAME,
        "last_name": LAST_NAME,
        "company_name": f"{LAST_NAME} Labs",
        "tags": ["vip"],
        "custom_fields": {"team": f"{FIRST_NAME}'s team"},
    }
    campaign = start_campaign(client, org, [me, OTHER], channel="combined")
    member = campaign.members[0]
    contact_id = as_owner.execute(
        "SELECT contact_id::text FROM campaign_contacts WHERE id = %s", (member,)
    ).fetchone()
    assert contact_id is not None
    # a subscription, so that the events below queue webhook deliveries naming the person
    hook = {
        "url": "http://127.0.0.1:9/hooks",
        "event_types": ["contact.replied", "contact.clicked"],
    }
    ok(client.post("/api/v1/webhooks", json=hook, headers=org.headers(Role.ADMIN)), 201)
    _record(urls, org, member)
    sender = add_sender(client, org)["id"]
    walk = enrollment_row(as_owner, org, campaign.id, member)
    as_owner.execute(
        "UPDATE campaign_workflow_states SET workflow_variables = %s, workflow_status = 'waiting'"
        " WHERE id = %s",
        (Jsonb({"greeting": f"Dear {FIRST_NAME}"}), walk),
    )
    insert_row(
        as_owner,
        "outbox_messages",
        org,
        campaign_id=campaign.id,
        campaign_contact_id=member,
        enrollment_id=walk,
        channel="email",
        step="intro",
        status="awaiting_approval",
        sender_id=sender,
        subject_override=f"For {FIRST_NAME} {LAST_NAME}",
        body_text_override=f"Hi {FIRST_NAME}, write to {ADDRESS}",
        due_at=T0,
    )
    insert_row(
        as_owner,
        "tasks",
        org,
        campaign_id=campaign.id,
        campaign_contact_id=member,
        owner_id=campaign.owner_id,
        enrollment_id=walk,
        channel="linkedin",
        kind="connection_request",
        step="connect",
        subject=f"Connect with {FIRST_NAME}",
        body=f"Hi {FIRST_NAME} {LAST_NAME}, let's connect",
        note=f"called {FIRST_NAME}",
        due_at=T0,
    )
    insert_row(
        as_owner,
        "inbox_messages",
        org,
        sender_id=sender,
        campaign_id=campaign.id,
        campaign_contact_id=member,
        direction="inbound",
        message_id=f"<{uuid.uuid4()}@example.org>",
        matched_by="thread",
        from_email=ADDRESS,
        to_email="talent@example.com",
        subject="Re: hello",
        body_text=f"Thanks, {FIRST_NAME} here",
        received_at=T0,
    )
    insert_row(
        as_owner,
        "caught_messages",
        org,
        mail_from="talent@example.com",
        recipients=[ADDRESS.lower()],
        subject=f"Hello {FIRST_NAME}",
        raw=f"To: {ADDRESS}\r\nSubject: Hello {FIRST_NAME}\r\n\r\nHi {FIRST_NAME}",
    )
    # the address on the list already, with a reply kept for an Idempotency-Key replay
    added = client.post(
        "/api/v1/suppressions",
        json={"email": ADDRESS, "reason": "unsubscribed", "note": f"{FIRST_NAME} asked"},
        headers={**org.headers(Role.RECRUITER), "Idempotency-Key": "suppress-zq"},
    )
    ok(added, 201)
    return Person(contact_id[0], campaign.id, member)


def _record(urls: DatabaseUrls, org: Org, member: str) -> None:
    member_id = uuid.UUID(member)
    events = [
        NewEvent(member_id, EventType.EMAIL_SENT, T0),
        NewEvent(
            member_id,
            EventType.OPENED,
            T0 + timedelta(minutes=1),
            ip_address="203.0.113.7",
            user_agent=f"Mail of {FIRST_NAME}",
        ),
        NewEvent(
            member_id,
            EventType.CLICKED,
            T0 + timedelta(minutes=2),
            ip_address="203.0.113.7",
            user_agent="Mozilla/5.0",
            clicked_url=f"https://jobs.example.com/apply?email={ADDRESS}#{FIRST_NAME}",
        ),
        NewEvent(
            member_id,
            EventType.RESPONSE_RECEIVED,
            T0 + timedelta(minutes=3),
            data={"response_text": f"Yes - {FIRST_NAME}", "channel": "email"},
            provider="imap",
            provider_event_id=f"reply-{member}",
        ),
    ]
    in_org(urls, org, lambda session: record_events(session, org.id, events))


def traces(as_owner: psycopg.Connection, org: Org, needles: list[str]) -> list[str]:
    """Every text, jsonb and array column of every table (read as the owner: no row-level
    security) holding one of `needles` (any case) in a row of `org` (every row of a table
    without org_id): "table.column"."""
    columns = as_owner.execute(
        "SELECT c.table_name, c.column_name, EXISTS (SELECT 1 FROM information_schema.columns o "
        "  WHERE o.table_schema = 'public' AND o.table_name = c.table_name "
        "  AND o.column_name = 'org_id') "
        "FROM information_schema.columns c JOIN information_schema.tables t "
        "  ON t.table_schema = c.table_schema AND t.table_name = c.table_name "
        "WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE' "
        "AND c.data_type IN ('text', 'jsonb', 'json', 'ARRAY', 'character varying') ORDER BY 1, 2"
    ).fetchall()
    found = []
    for table, column, tenant in columns:
        query = sql.SQL(
            "SELECT count(*) FROM {} WHERE strpos(lower(CAST({} AS text)), lower(%s)) > 0 {}"
        ).format(
            sql.Identifier(table),
            sql.Identifier(column),
            sql.SQL("AND org_id = %s" if tenant else ""),
        )
        for needle in needles:
            count = as_owner.execute(query, (needle, org.id) if tenant else (needle,)).fetchone()
            if count is not None and count[0]:
                found.append(f"{table}.{column}")
    return found
