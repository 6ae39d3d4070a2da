"""Inbox rows for the inbox tests, written as the mailbox sync records them (the sync has tests
of its own): a campaign with a sender and contacts, and replies from those contacts."""

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import psycopg
from fastapi.testclient import TestClient

from tests.factories import T0, Org, create_sender, insert_row, start_campaign


@dataclass
class Mailroom:
    """A recruiter's running campaign whose members wrote back to its sender."""

    org: Org
    sender_id: str
    campaign_id: str
    owner_id: str
    members: list[str]
    emails: list[str]


def mailroom(
    client: TestClient,
    as_owner: psycopg.Connection,
    org: Org,
    port: int,
    people: int = 2,
    **sender: Any,
) -> Mailroom:
    """A sender at the SMTP server on `port` and a recruiter's campaign sending through it."""
    sender_id = create_sender(client, org, port, **sender)["id"]
    emails = [f"candidate{i}@example.org" for i in range(people)]
    rows = [
        {"email": email, "first_name": f"Cand{i}", "last_name": "Idate"}
        for i, email in enumerate(emails)
    ]
    campaign = start_campaign(client, org, rows)
    as_owner.execute("UPDATE campaigns SET sender_id = %s WHERE id = %s", (sender_id, campaign.id))
    return Mailroom(org, sender_id, campaign.id, str(campaign.owner_id), campaign.members, emails)


def add_message(
    as_owner: psycopg.Connection, room: Mailroom, member: int = 0, minutes: int = 0, **fields: Any
) -> str:
    """A reply of the `member`-th contact received `minutes` after T0 (or, with
    direction='outbound', an answer sent then); answers its id."""
    inbound = fields.get("direction", "inbound") == "inbound"
    values: dict[str, Any] = {
        "sender_id": room.sender_id,
        "campaign_id": room.campaign_id,
        "campaign_contact_id": room.members[member],
        "direction": "inbound",
        "message_id": f"<{uuid.uuid4()}@example.org>",
        "in_reply_to": "<first-touch@example.com>",
        "references_ids": ["<first-touch@example.com>"],
        "step": "intro" if inbound else None,
        "matched_by": "thread" if inbound else None,
        "from_email": room.emails[member] if inbound else "recruiting@example.com",
        "to_email": "recruiting@example.com" if inbound else room.emails[member],
        "subject": "Hello Cand",
        "body_text": "Sounds interesting, tell me more.",
        "received_at": T0 + timedelta(minutes=minutes),
    } | fields
    return insert_row(as_owner, "inbox_messages", room.org, **values)
