"""Data-subject requests: a person's export, erasure (no trace but a hash, counters still
true, never contacted again) and the audit log."""

import uuid
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from outreach.auth.tokens import Role
from outreach.db import DatabaseUrls
from outreach.events.service import reconcile_counters
from outreach.sending.outbox import queue
from outreach.suppressions.repository import email_hash
from tests.contacts.privacy.person_rows import (
    ADDRESS,
    FIRST_NAME,
    LAST_NAME,
    Person,
    person_everywhere,
    traces,
)
from tests.factories import T0, Org, in_org, insert_row, ok, post_contacts


@pytest.fixture
def person(
    client: TestClient, org: Org, database_urls: DatabaseUrls, as_owner: psycopg.Connection
) -> Person:
    return person_everywhere(client, org, database_urls, as_owner)


def export(client: TestClient, org: Org, contact_id: str, role: Role = Role.ADMIN) -> Any:
    return client.get(f"/api/v1/contacts/{contact_id}/export", headers=org.headers(role))


def erase(client: TestClient, org: Org, contact_id: str, role: Role = Role.ADMIN) -> Any:
    return client.post(f"/api/v1/contacts/{contact_id}/erase", headers=org.headers(role))


def audit(client: TestClient, org: Org, role: Role = Role.ADMIN, **params: Any) -> Any:
    return client.get("/api/v1/audit-log", params=params, headers=org.headers(role))


def test_export_holds_each_kind_of_data(client: TestClient, org: Org, person: Person) -> None:
    data = ok(export(client, org, person.contact_id, Role.TA_MANAGER))
    assert data["contact"]["email"] == ADDRESS
    assert data["contact"]["tags"] == ["vip"]
    assert data["contact"]["custom_fields"] == {"team": f"{FIRST_NAME}'s team"}
    assert [m["id"] for m in data["memberships"]] == [person.member_id]
    assert data["memberships"][0]["opened_at"] is not None
    kinds = {e["event_type"] for e in data["events"]}
    assert {"email_sent", "opened", "clicked", "response_received"} <= kinds
    clicked = next(e for e in data["events"] if e["event_type"] == "clicked")
    assert clicked["ip_address"] == "203.0.113.7"
    assert clicked["user_agent"] == "Mozilla/5.0"
    assert ADDRESS in clicked["clicked_url"]
    assert data["messages"][0]["body_text_override"] == f"Hi {FIRST_NAME}, write to {ADDRESS}"
    assert data["tasks"][0]["body"] == f"Hi {FIRST_NAME} {LAST_NAME}, let's connect"
    assert data["workflow_states"][0]["workflow_variables"] == {"greeting": f"Dear {FIRST_NAME}"}
    assert data["inbox_messages"][0]["from_email"] == ADDRESS
    assert data["caught_messages"][0]["recipients"] == [ADDRESS.lower()]
    assert data["suppressions"][0]["reason"] == "unsubscribed"
    assert data["counts"]["events"] == len(data["events"])
    assert data["truncated"] == []


def test_export_says_when_a_list_is_cut(
    client: TestClient,
    org: Org,
    person: Person,
    as_owner: psycopg.Connection,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("outreach.contacts.privacy.service.EXPORT_LIMIT", 2)
    data = ok(export(client, org, person.contact_id))
    assert len(data["events"]) == 2
    assert data["counts"]["events"] == 4
    assert data["truncated"] == ["events"]
    newest = [e["event_type"] for e in data["events"]]
    assert newest == ["response_received", "clicked"]


def test_erase_leaves_no_trace_but_the_hash(
    client: TestClient, org: Org, person: Person, as_owner: psycopg.Connection
) -> None:
    assert traces(as_owner, org, [ADDRESS, FIRST_NAME, LAST_NAME])  # the search sees them before
    erased = ok(erase(client, org, person.contact_id, Role.TA_MANAGER))
    assert erased["suppressed"] is True
    assert erased["erased"]["events"] == 4
    assert erased["erased"]["caught_messages"] == 1
    assert erased["erased"]["idempotent_answers"] == 1
    assert traces(as_owner, org, [ADDRESS, FIRST_NAME, LAST_NAME]) == []
    assert traces(as_owner, org, ["203.0.113.7", "Mozilla/5.0"]) == []
    hashed = as_owner.execute(
        "SELECT email, reason, note FROM suppressions WHERE org_id = %s AND email_hash = %s",
        (org.id, email_hash(ADDRESS)),
    ).fetchall()
    assert hashed == [(None, "unsubscribed", "erased")]
    ip = as_owner.execute(
        "SELECT count(*) FROM engagement_events WHERE campaign_contact_id = %s "
        "AND (ip_address IS NOT NULL OR clicked_url LIKE '%%?%%')",
        (person.member_id,),
    ).fetchone()
    assert ip == (0,)


def test_erase_ends_what_was_pending(
    client: TestClient, org: Org, person: Person, as_owner: psycopg.Connection
) -> None:
    ok(erase(client, org, person.contact_id))
    message = as_owner.execute(
        "SELECT status, last_error FROM outbox_messages WHERE campaign_contact_id = %s",
        (person.member_id,),
    ).fetchone()
    assert message == ("cancelled", "contact erased")
    task = as_owner.execute(
        "SELECT status FROM tasks WHERE campaign_contact_id = %s", (person.member_id,)
    ).fetchone()
    assert task == ("cancelled",)
    walk = as_owner.execute(
        "SELECT workflow_status, exit_reason, workflow_variables FROM campaign_workflow_states "
        "WHERE campaign_contact_id = %s",
        (person.member_id,),
    ).fetchone()
    assert walk == ("exited", "contact erased", {})


def test_erase_keeps_the_counters_equal_to_a_recount(
    client: TestClient,
    org: Org,
    person: Person,
    database_urls: DatabaseUrls,
    as_owner: psycopg.Connection,
) -> None:
    before = as_owner.execute(
        "SELECT opens_total, clicks_total FROM campaigns WHERE id = %s", (person.campaign_id,)
    ).fetchone()
    assert before == (1, 1)
    ok(erase(client, org, person.contact_id))
    drift = in_org(database_urls, org, reconcile_counters)
    assert drift == {}
    after = as_owner.execute(
        "SELECT opens_total, clicks_total FROM campaigns WHERE id = %s", (person.campaign_id,)
    ).fetchone()
    assert after == before


def test_an_erased_person_added_again_is_refused_as_suppressed(
    client: TestClient, org: Org, person: Person
) -> None:
    ok(erase(client, org, person.contact_id))
    added = ok(post_contacts(client, org, person.campaign_id, [{"email": ADDRESS.upper()}]))
    assert added["results"][0]["status"] == "skipped"
    assert added["results"][0]["code"] == "CONTACT_UNSUBSCRIBED"
    again = client.post(
        "/api/v1/suppressions", json={"email": ADDRESS}, headers=org.headers(Role.RECRUITER)
    )
    assert again.status_code == 409, again.text


def test_delete_with_erase_is_the_erasure(
    client: TestClient, org: Org, person: Person, as_owner: psycopg.Connection
) -> None:
    answer = client.delete(
        f"/api/v1/contacts/{person.contact_id}", params={"erase": "true"}, headers=org.headers()
    )
    assert answer.status_code == 204, answer.text
    left = as_owner.execute(
        "SELECT email, first_name FROM contacts WHERE id = %s", (person.contact_id,)
    ).fetchone()
    assert left == (None, None)
    [entry] = ok(audit(client, org))["items"]
    assert entry["action"] == "contact.erased"
    listed_ids = [
        p["id"] for p in ok(client.get("/api/v1/contacts", headers=org.headers()))["items"]
    ]
    assert person.contact_id not in listed_ids  # an erased row is no one: not listed


def test_the_send_claim_skips_an_erased_address(
    client: TestClient,
    org: Org,
    person: Person,
    database_urls: DatabaseUrls,
    as_owner: psycopg.Connection,
) -> None:
    ok(erase(client, org, person.contact_id))
    # the address back by a path that checks nothing (as a database restore would)
    contact = insert_row(as_owner, "contacts", org, email=ADDRESS)
    member = insert_row(
        as_owner, "campaign_contacts", org, campaign_id=person.campaign_id, contact_id=contact
    )
    as_owner.execute(
        "UPDATE campaigns SET send_days = '{1,2,3,4,5,6,7}', send_start = '00:00', "
        "send_end = '23:59:59' WHERE id = %s",
        (person.campaign_id,),
    )
    sms = insert_row(
        as_owner,
        "outbox_messages",
        org,
        campaign_id=person.campaign_id,
        campaign_contact_id=member,
        channel="sms",
        step="text",
        status="queued",
        due_at=T0,
    )
    claimed = in_org(
        database_urls,
        org,
        lambda s: queue.claim(s, sender=None, limit=10, lease=timedelta(minutes=1)),
    )
    assert uuid.UUID(sms) not in claimed
    row = as_owner.execute(
        "SELECT status, last_error FROM outbox_messages WHERE id = %s", (sms,)
    ).fetchone()
    assert row == ("cancelled", "address on the suppression list")


def test_erased_suppressions_are_listed_without_address(
    client: TestClient, org: Org, person: Person
) -> None:
    ok(erase(client, org, person.contact_id))
    items = ok(client.get("/api/v1/suppressions", headers=org.headers(Role.VIEWER)))["items"]
    assert [(s["email"], s["note"]) for s in items] == [(None, "erased")]


@pytest.mark.parametrize("role", [Role.RECRUITER, Role.VIEWER])
def test_only_managers_export_and_erase(
    client: TestClient, org: Org, person: Person, role: Role
) -> None:
    assert export(client, org, person.contact_id, role).status_code == 403
    assert erase(client, org, person.contact_id, role).status_code == 403
    assert ok(export(client, org, person.contact_id))["contact"]["email"] == ADDRESS


def test_another_orgs_person_is_not_found(
    client: TestClient, org: Org, other_org: Org, person: Person
) -> None:
    assert export(client, other_org, person.contact_id).status_code == 404
    assert erase(client, other_org, person.contact_id).status_code == 404
    unknown = str(uuid.uuid4())
    assert export(client, org, unknown).status_code == 404


def test_both_requests_are_audited_with_counts_only(
    client: TestClient, org: Org, person: Person, as_owner: psycopg.Connection
) -> None:
    ok(export(client, org, person.contact_id, Role.TA_MANAGER))
    ok(erase(client, org, person.contact_id))
    entries = ok(audit(client, org))["items"]
    assert [e["action"] for e in entries] == ["contact.erased", "contact.exported"]
    erased, exported = entries
    assert erased["actor_id"] == str(org.user(Role.ADMIN))
    assert exported["actor_id"] == str(org.user(Role.TA_MANAGER))
    assert erased["subject_id"] == person.contact_id
    assert erased["details"]["counts"]["events"] == 4
    assert exported["details"]["counts"]["events"] == 4
    assert traces(as_owner, org, [ADDRESS, FIRST_NAME]) == []


def test_the_audit_log_pages_and_filters(client: TestClient, org: Org, person: Person) -> None:
    for _ in range(3):
        ok(export(client, org, person.contact_id))
    ok(erase(client, org, person.contact_id))
    first = ok(audit(client, org, limit=2, action="contact.exported"))
    assert [e["action"] for e in first["items"]] == ["contact.exported"] * 2
    rest = ok(audit(client, org, limit=2, action="contact.exported", cursor=first["next_cursor"]))
    assert len(rest["items"]) == 1
    assert rest["next_cursor"] is None
    ids = [e["id"] for e in first["items"] + rest["items"]]
    assert ids == sorted(ids, reverse=True)
    bad = audit(client, org, cursor="bm90LWEtY3Vyc29y")
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["code"] == "CURSOR_INVALID"


def test_only_admins_read_the_audit_log(client: TestClient, org: Org, person: Person) -> None:
    assert audit(client, org, Role.TA_MANAGER).status_code == 403
    assert audit(client, org, Role.VIEWER).status_code == 403


def test_another_orgs_audit_log_is_not_shown(
    client: TestClient, org: Org, other_org: Org, person: Person
) -> None:
    ok(export(client, org, person.contact_id))
    assert ok(audit(client, other_org))["items"] == []


def test_erase_twice_is_harmless(client: TestClient, org: Org, person: Person) -> None:
    ok(erase(client, org, person.contact_id))
    second = ok(erase(client, org, person.contact_id))
    assert second["suppressed"] is False
