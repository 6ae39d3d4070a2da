"""One bad message never stalls the others: poisoned data (stored behind the API's back) fails
its own message with its reason, the rest of the batch goes out in the same pass, and nothing
is left to be claimed again."""

from typing import Any

import psycopg
from fastapi.testclient import TestClient

from tests.factories import (
    Engine,
    MailSink,
    Org,
    contact_rows,
    create_sender,
    outbox_rows,
    ready_campaign,
)

EVIL = "x@evil.example"
SLOW = (
    "{% macro f(k) %}{% if k > 0 %}{{ f(k - 1) }}{{ f(k - 1) }}{% endif %}{% endmacro %}"
    "{{ f(first_name|length * 10) }}"
)


def test_a_batch_with_poisoned_messages_sends_all_the_others_in_one_pass(
    client: TestClient, org: Org, as_owner: psycopg.Connection, engine: Engine, mail_sink: MailSink
) -> None:
    engine.settings = engine.settings.model_copy(update={"template_render_seconds": 0.5})
    sender = create_sender(client, org, mail_sink.port)
    campaign = ready_campaign(client, org, as_owner, sender, contacts=10)
    assert engine.plan(org) == 10
    outbox = {row["email"]: row["id"] for row in outbox_rows(as_owner, campaign["id"])}

    def message(n: int, **values: Any) -> None:
        _poison(as_owner, "outbox_messages", "id", outbox[f"person{n}@example.com"], **values)

    poisoned = {
        "person1@example.com": "the contact's name contains a line break or control character "
        "(U+000A)",
        "person2@example.com": "{% include %} is not allowed",
        "person3@example.com": "the subject contains a line break or control character (U+000A)",
        "person4@example.com": "rendering took longer than 0.5 s",
        "person5@example.com": "the subject contains a line break or control character (U+2028)",
        "person6@example.com": "the contact's name contains a line break or control character "
        "(U+000D)",
    }
    _poison_contact(as_owner, org, 1, first_name=f"P\nBcc: {EVIL}")
    message(2, body_html_override="<p>{% include 'footer.html' %}</p>")
    message(3, subject_override="Hello{{ '\\n' }}Bcc: " + EVIL)
    message(4, body_html_override=SLOW)
    message(5, subject_override=f"Hello\u2028Bcc: {EVIL}")
    _poison_contact(as_owner, org, 6, last_name="L\rBcc: " + EVIL)

    assert engine.send(org) == 10

    good = sorted(set(outbox) - set(poisoned))
    assert sorted(m["To"].addresses[0].addr_spec for m in mail_sink.messages) == good
    assert EVIL not in mail_sink.rcpt_attempts
    assert all(m["Bcc"] is None for m in mail_sink.messages)
    rows = {row["email"]: row for row in outbox_rows(as_owner, campaign["id"])}
    assert {email for email, row in rows.items() if row["status"] == "sent"} == set(good)
    for email, reason in poisoned.items():
        assert rows[email]["status"] == "failed", email
        assert reason in rows[email]["last_error"], (email, rows[email]["last_error"])
    errors = {c["email"]: c["error_message"] for c in contact_rows(as_owner, campaign["id"])}
    assert all(reason in errors[email] for email, reason in poisoned.items())

    # nothing is left to be claimed again, even once every lease has run out
    as_owner.execute(
        "UPDATE outbox_messages SET lease_until = now() - interval '1 hour' WHERE campaign_id = %s",
        (campaign["id"],),
    )
    as_owner.execute("UPDATE tenant_directory SET outbox_due_at = now() WHERE id = %s", (org.id,))
    assert engine.send(org) == 0
    assert len(mail_sink.messages) == len(good)


def _poison_contact(as_owner: psycopg.Connection, org: Org, n: int, **values: Any) -> None:
    row = as_owner.execute(
        "SELECT id FROM contacts WHERE org_id = %s AND email = %s",
        (org.id, f"person{n}@example.com"),
    ).fetchone()
    assert row is not None
    _poison(as_owner, "contacts", "id", row[0], **values)


def _poison(as_owner: psycopg.Connection, table: str, key: str, value: Any, **values: Any) -> None:
    """Stored as the owner, behind the API's back (which refuses such values at the door)."""
    columns = ", ".join(f"{column} = %s" for column in values)
    updated = as_owner.execute(
        f"UPDATE {table} SET {columns} WHERE {key} = %s",
        [*values.values(), value],
    )
    assert updated.rowcount == 1


def test_a_sender_name_with_a_line_break_fails_its_messages_without_a_header_injection(
    client: TestClient, org: Org, as_owner: psycopg.Connection, engine: Engine, mail_sink: MailSink
) -> None:
    sender = create_sender(client, org, mail_sink.port)
    campaign = ready_campaign(client, org, as_owner, sender, contacts=2)
    as_owner.execute(
        "UPDATE senders SET from_name = %s WHERE id = %s", (f"Ada\r\nBcc: {EVIL}", sender["id"])
    )
    engine.plan(org)
    assert engine.send(org) == 2
    assert mail_sink.messages == []
    assert mail_sink.rcpt_attempts == []
    for row in outbox_rows(as_owner, campaign["id"]):
        assert row["status"] == "failed"
        assert "the sender's name contains a line break" in row["last_error"]


def test_a_password_no_key_decrypts_fails_its_batch_softly_and_releases_nothing_stuck(
    client: TestClient, org: Org, as_owner: psycopg.Connection, engine: Engine, mail_sink: MailSink
) -> None:
    sender = create_sender(client, org, mail_sink.port, smtp_username="ada", smtp_password="pw")
    campaign = ready_campaign(client, org, as_owner, sender, contacts=2)
    assert engine.plan(org) == 2
    # The keys were rotated without the old one: the stored password decrypts with none.
    _poison(as_owner, "senders", "id", sender["id"], smtp_password_encrypted="not-a-fernet-token")

    assert engine.send(org) == 2

    assert mail_sink.messages == []
    for row in outbox_rows(as_owner, campaign["id"]):
        assert row["status"] == "queued", row  # retried later, not left claimed
        assert "OUTREACH_SENDER_SECRET_KEYS" in row["last_error"]
