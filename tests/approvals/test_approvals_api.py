"""Approvals (co-pilot): previews of suggested messages, edit-then-approve, rejection, bulk."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from outreach.auth.tokens import Role
from tests.factories import (
    Org,
    RunningCampaign,
    create_template,
    insert_row,
    listed_items,
    start_campaign,
)

APPROVALS = "/api/v1/approvals"
PEOPLE = [{"email": f"person{i}@example.com", "first_name": f"Person{i}"} for i in range(6)]
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.fixture
def running(client: TestClient, org: Org) -> RunningCampaign:
    return start_campaign(client, org, PEOPLE, name="Java developers")


@pytest.fixture
def sender(client: TestClient, org: Org) -> dict[str, Any]:
    body = {"from_email": "talent@example.com", "from_name": "Sam", "smtp_host": "127.0.0.1"}
    answer = client.post("/api/v1/senders", json=body, headers=org.headers())
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


@pytest.fixture
def template(client: TestClient, org: Org) -> dict[str, Any]:
    return create_template(
        client,
        org,
        subject="Hello {{first_name}}",
        body_text="Hi {{first_name}}, {{sender_name}} here about {{campaign_name}}.",
    )


class Outbox:
    """Writes outbox rows as the planner will: one per campaign contact."""

    def __init__(
        self,
        conn: psycopg.Connection,
        org: Org,
        sender: dict[str, Any],
        template: dict[str, Any],
    ) -> None:
        self.conn, self.org, self.sender, self.template = conn, org, sender, template

    def add(self, campaign: RunningCampaign, member: int, **fields: Any) -> str:
        values = {
            "campaign_id": campaign.id,
            "campaign_contact_id": campaign.members[member],
            "channel": "email",
            "status": "awaiting_approval",
            "sender_id": self.sender["id"],
            "template_id": self.template["id"],
            "due_at": T0 + timedelta(days=365),
            "created_at": T0 + timedelta(minutes=member),
            "step": "message",
            **fields,
        }
        return insert_row(self.conn, "outbox_messages", self.org, **values)

    def row(self, message_id: str) -> dict[str, Any]:
        with self.conn.cursor(row_factory=psycopg.rows.dict_row) as cursor:
            found = cursor.execute(
                "SELECT * FROM outbox_messages WHERE id = %s", (message_id,)
            ).fetchone()
        assert found is not None
        return found


@pytest.fixture
def outbox(
    as_owner: psycopg.Connection, org: Org, sender: dict[str, Any], template: dict[str, Any]
) -> Outbox:
    return Outbox(as_owner, org, sender, template)


def decide(
    client: TestClient,
    org: Org,
    message_id: str,
    action: str = "approve",
    role: Role = Role.RECRUITER,
    **body: Any,
) -> Any:
    return client.post(
        f"{APPROVALS}/{message_id}/{action}", json=body or None, headers=org.headers(role)
    )


def test_pending_messages_are_listed_oldest_first_with_their_preview(
    client: TestClient, org: Org, running: RunningCampaign, outbox: Outbox
) -> None:
    newer = outbox.add(running, 1)
    older = outbox.add(running, 0)
    outbox.add(running, 2, status="queued")
    items = listed_items(client, org, APPROVALS)
    assert [item["id"] for item in items] == [older, newer]
    first = items[0]
    assert (first["status"], first["channel"], first["edited"]) == (
        "awaiting_approval",
        "email",
        False,
    )
    assert (first["campaign_name"], first["contact"]["email"]) == (
        "Java developers",
        "person0@example.com",
    )
    assert first["preview"] == {
        "subject": "Hello Person0",
        "body_text": "Hi Person0, Sam here about Java developers.",
        "body_html": None,
        "missing_values": [],
        "problems": [],
    }


def test_approvals_filter_by_campaign_and_page_through(
    client: TestClient, org: Org, running: RunningCampaign, outbox: Outbox
) -> None:
    other = start_campaign(client, org, PEOPLE[:1], name="Other")
    elsewhere = outbox.add(other, 0)
    ids = [outbox.add(running, i) for i in range(3)]
    assert [item["id"] for item in listed_items(client, org, APPROVALS, campaign_id=other.id)] == [
        elsewhere
    ]
    seen, cursor = [], None
    while True:
        params: dict[str, Any] = {"limit": 2, "campaign_id": running.id}
        page = client.get(
            APPROVALS, params=params | ({"cursor": cursor} if cursor else {}), headers=org.headers()
        ).json()
        seen += [item["id"] for item in page["items"]]
        if (cursor := page["next_cursor"]) is None:
            break
    assert seen == ids


def test_a_message_that_cannot_be_rendered_shows_its_problems_not_an_error(
    client: TestClient,
    org: Org,
    running: RunningCampaign,
    outbox: Outbox,
    as_owner: psycopg.Connection,
) -> None:
    no_name = start_campaign(client, org, [{"email": "anonymous@example.com"}], name="Anon")
    missing = outbox.add(no_name, 0)
    broken = outbox.add(running, 0, body_text_override="Hi {{ first_name")
    no_text = outbox.add(running, 1, template_id=None)
    fine = outbox.add(running, 2)
    previews = {item["id"]: item["preview"] for item in listed_items(client, org, APPROVALS)}
    assert previews[missing]["subject"] == "Hello "
    assert previews[missing]["missing_values"] == ["first_name"]
    assert [p["code"] for p in previews[missing]["problems"]] == ["PREVIEW_MISSING_VALUES"]
    assert previews[broken]["body_text"] is None
    assert [p["code"] for p in previews[broken]["problems"]] == ["TEMPLATE_SYNTAX_INVALID"]
    assert {p["code"] for p in previews[no_text]["problems"]} == {
        "TEMPLATE_SUBJECT_REQUIRED",
        "TEMPLATE_BODY_REQUIRED",
    }
    assert previews[fine]["problems"] == []


def test_a_message_over_the_rendering_limits_shows_its_problem_in_the_list(
    client: TestClient, org: Org, running: RunningCampaign, outbox: Outbox
) -> None:
    # stored behind the API's back (edits are checked when they are made)
    included = outbox.add(running, 0, body_text_override="{% include 'footer.txt' %}")
    looping = outbox.add(
        running,
        1,
        body_text_override="{% for i in range(first_name|length * 2000) %}"
        "{% for j in range(100) %}{% endfor %}{% endfor %}",
    )
    failing = outbox.add(running, 2, body_text_override="{{ (first_name|length) / 0 }}")
    fine = outbox.add(running, 3)
    previews = {item["id"]: item["preview"] for item in listed_items(client, org, APPROVALS)}
    assert [p["code"] for p in previews[included]["problems"]] == ["TEMPLATE_TAG_NOT_ALLOWED"]
    assert [p["code"] for p in previews[looping]["problems"]] == ["TEMPLATE_LIMIT_EXCEEDED"]
    assert [p["code"] for p in previews[failing]["problems"]] == ["PREVIEW_RENDER_FAILED"]
    assert previews[fine]["problems"] == []


def test_an_sms_is_signed_by_the_campaign_owner(
    client: TestClient,
    org: Org,
    running: RunningCampaign,
    outbox: Outbox,
    as_owner: psycopg.Connection,
) -> None:
    sms = create_template(
        client, org, channel="sms", subject=None, body_text="{{sender_name}}: hi {{first_name}}"
    )
    message = outbox.add(running, 0, channel="sms", sender_id=None, template_id=sms["id"])
    unnamed = client.get(f"{APPROVALS}/{message}", headers=org.headers()).json()["preview"]
    assert unnamed["missing_values"] == ["sender_name"]
    as_owner.execute("UPDATE user_profiles SET name = 'Riley' WHERE id = %s", (running.owner_id,))
    named = client.get(f"{APPROVALS}/{message}", headers=org.headers()).json()["preview"]
    assert (named["body_text"], named["problems"]) == ("Riley: hi Person0", [])


def test_approving_queues_the_message_to_send_now(
    client: TestClient,
    org: Org,
    running: RunningCampaign,
    outbox: Outbox,
    as_owner: psycopg.Connection,
) -> None:
    message_id = outbox.add(running, 0)
    answer = decide(client, org, message_id)
    assert answer.status_code == 200, answer.text
    approved = answer.json()
    assert (approved["status"], approved["decided_by"]) == ("queued", str(running.owner_id))
    row = outbox.row(message_id)
    assert row["status"] == "queued"
    assert row["decided_at"] is not None
    assert row["due_at"] <= datetime.now(UTC)
    assert row["subject_override"] is None
    due = as_owner.execute("SELECT outbox_due_at FROM tenant_directory WHERE id = %s", (org.id,))
    assert due.fetchone() == (row["due_at"],)
    assert listed_items(client, org, APPROVALS) == []


def test_edits_are_kept_for_this_message_and_previewed(
    client: TestClient, org: Org, running: RunningCampaign, outbox: Outbox
) -> None:
    message_id = outbox.add(running, 0)
    answer = decide(
        client, org, message_id, subject="Quick question, {{first_name}}", body_html="<p>Hi</p>"
    )
    assert answer.status_code == 200, answer.text
    approved = answer.json()
    assert approved["edited"] is True
    assert approved["preview"]["subject"] == "Quick question, Person0"
    assert approved["preview"]["body_text"] == "Hi Person0, Sam here about Java developers."
    row = outbox.row(message_id)
    assert (row["subject_override"], row["body_text_override"], row["body_html_override"]) == (
        "Quick question, {{first_name}}",
        None,
        "<p>Hi</p>",
    )


@pytest.mark.parametrize(
    ("edits", "code"),
    [
        ({"subject": "Hi {{nickname}}"}, "TEMPLATE_UNKNOWN_TOKEN"),
        ({"body_text": "Hi {{ first_name"}, "TEMPLATE_SYNTAX_INVALID"),
        ({"body_text": "   "}, "APPROVAL_EDIT_BLANK"),
        ({"subject": "x" * 999}, "VALUE_TOO_LONG"),
        ({"subject": "Hi {{first_name}}\r\nBcc: x@evil.example"}, "TEXT_CONTROL_CHARACTERS"),
        ({"subject": "Hi\u2028there"}, "TEXT_CONTROL_CHARACTERS"),
        ({"signature": "Sam"}, "FIELD_UNKNOWN"),
        ({"body_text": "{% include 'footer.txt' %}"}, "TEMPLATE_TAG_NOT_ALLOWED"),
        ({"body_text": "{% for i in range(100000) %}{% endfor %}"}, "TEMPLATE_LIMIT_EXCEEDED"),
    ],
)
def test_edits_follow_the_template_rules(
    client: TestClient,
    org: Org,
    running: RunningCampaign,
    outbox: Outbox,
    edits: dict[str, str],
    code: str,
) -> None:
    message_id = outbox.add(running, 0)
    answer = decide(client, org, message_id, **edits)
    assert (answer.status_code, answer.json()["code"]) == (422, code)
    assert outbox.row(message_id)["status"] == "awaiting_approval"


def test_a_subject_stored_with_a_line_break_is_not_approved(
    client: TestClient, org: Org, running: RunningCampaign, outbox: Outbox
) -> None:
    """A message whose stored text breaks the one-line rule (saved before the rule, or by
    hand) shows why and is held back, one by one or in bulk."""
    injected = outbox.add(running, 0, subject_override="Hi\r\nBcc: x@evil.example")
    (preview,) = [
        item["preview"] for item in listed_items(client, org, APPROVALS) if item["id"] == injected
    ]
    assert [p["code"] for p in preview["problems"]] == ["TEXT_CONTROL_CHARACTERS"]
    one = decide(client, org, injected)
    assert (one.status_code, one.json()["code"]) == (422, "TEXT_CONTROL_CHARACTERS")
    bulk = client.post(f"{APPROVALS}/approve", json={"ids": [injected]}, headers=org.headers())
    (result,) = bulk.json()["results"]
    assert result["outcome"] == "invalid"
    assert [e["code"] for e in result["errors"]] == ["TEXT_CONTROL_CHARACTERS"]
    fixed = decide(client, org, injected, subject="Hi {{first_name}}")
    assert fixed.status_code == 200, fixed.text
    assert outbox.row(injected)["status"] == "queued"


def test_an_sms_edit_cannot_add_a_subject(
    client: TestClient, org: Org, running: RunningCampaign, outbox: Outbox
) -> None:
    sms = create_template(client, org, channel="sms", subject=None, body_text="Hi {{first_name}}")
    message_id = outbox.add(running, 0, channel="sms", sender_id=None, template_id=sms["id"])
    answer = decide(client, org, message_id, subject="Hello")
    assert answer.json()["code"] == "TEMPLATE_FIELD_NOT_ALLOWED"


def test_only_a_pending_message_can_be_decided(
    client: TestClient, org: Org, running: RunningCampaign, outbox: Outbox
) -> None:
    message_id = outbox.add(running, 0)
    assert decide(client, org, message_id).status_code == 200
    for action in ("approve", "reject"):
        again = decide(client, org, message_id, action)
        assert (again.status_code, again.json()["code"]) == (409, "APPROVAL_NOT_PENDING")


def test_rejecting_keeps_the_reason_and_never_queues(
    client: TestClient, org: Org, running: RunningCampaign, outbox: Outbox
) -> None:
    message_id = outbox.add(running, 0)
    answer = decide(client, org, message_id, "reject", reason="Wrong tone for this person")
    assert answer.status_code == 200, answer.text
    rejected = answer.json()
    assert (rejected["status"], rejected["rejection_reason"]) == (
        "rejected",
        "Wrong tone for this person",
    )
    row = outbox.row(message_id)
    assert (row["status"], row["last_error"]) == ("rejected", "Wrong tone for this person")
    assert row["decided_by"] == running.owner_id


def test_completing_the_campaign_cancels_its_pending_approvals(
    client: TestClient, org: Org, running: RunningCampaign, outbox: Outbox
) -> None:
    first, second = outbox.add(running, 0), outbox.add(running, 1)
    assert client.post(f"/api/v1/campaigns/{running.id}/complete", headers=org.headers()).is_success
    refused = decide(client, org, first)
    assert (refused.status_code, refused.json()["code"]) == (409, "APPROVAL_NOT_PENDING")
    assert decide(client, org, second, "reject").status_code == 409
    assert outbox.row(first)["status"] == "cancelled"


def test_a_paused_campaigns_message_can_be_approved(
    client: TestClient, org: Org, running: RunningCampaign, outbox: Outbox
) -> None:
    message_id = outbox.add(running, 0)
    assert client.post(f"/api/v1/campaigns/{running.id}/pause", headers=org.headers()).is_success
    assert decide(client, org, message_id).status_code == 200


def test_only_the_campaign_owner_or_a_manager_may_decide(
    client: TestClient, org: Org, running: RunningCampaign, outbox: Outbox
) -> None:
    message_id = outbox.add(running, 0)
    stranger = org.headers(Role.RECRUITER, user_id=uuid.uuid4())
    for action in ("approve", "reject"):
        answer = client.post(f"{APPROVALS}/{message_id}/{action}", headers=stranger)
        assert answer.status_code == 403
        assert decide(client, org, message_id, action, role=Role.VIEWER).status_code == 403
    answer = decide(client, org, message_id, role=Role.TA_MANAGER)
    assert answer.status_code == 200
    assert answer.json()["decided_by"] == str(org.user(Role.TA_MANAGER))


def test_bulk_approval_answers_row_by_row(
    client: TestClient,
    org: Org,
    other_org: Org,
    running: RunningCampaign,
    outbox: Outbox,
) -> None:
    pending = outbox.add(running, 0)
    queued = outbox.add(running, 1, status="queued")
    no_text = outbox.add(running, 2, template_id=None)
    stopped = start_campaign(client, org, PEOPLE[:1], name="Stopped")
    assert client.post(f"/api/v1/campaigns/{stopped.id}/complete", headers=org.headers()).is_success
    of_stopped = outbox.add(stopped, 0)  # completion cancelled the others: a late one stays
    foreign = start_campaign(client, other_org, PEOPLE[:1])
    theirs = insert_row(
        outbox.conn,
        "outbox_messages",
        other_org,
        campaign_id=foreign.id,
        campaign_contact_id=foreign.members[0],
        channel="sms",
        status="awaiting_approval",
        step="message",
    )
    unknown = str(uuid.uuid4())
    ids = [pending, queued, no_text, of_stopped, theirs, unknown, pending]
    answer = client.post(
        f"{APPROVALS}/approve", json={"ids": ids}, headers=org.headers(Role.RECRUITER)
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    outcomes = [(r["id"], r["outcome"]) for r in body["results"]]
    assert outcomes == [
        (pending, "approved"),
        (queued, "not_pending"),
        (no_text, "invalid"),
        (of_stopped, "campaign_not_active"),
        (theirs, "not_found"),
        (unknown, "not_found"),
    ]
    assert body["approved"] == 1
    assert {e["code"] for e in body["results"][2]["errors"]} == {
        "TEMPLATE_SUBJECT_REQUIRED",
        "TEMPLATE_BODY_REQUIRED",
    }
    assert [outbox.row(i)["status"] for i in (pending, no_text, of_stopped)] == [
        "queued",
        "awaiting_approval",
        "awaiting_approval",
    ]
    assert outbox.row(theirs)["status"] == "awaiting_approval"


def test_bulk_approval_refuses_another_owners_messages_to_a_recruiter(
    client: TestClient, org: Org, running: RunningCampaign, outbox: Outbox
) -> None:
    message_id = outbox.add(running, 0)
    stranger = org.headers(Role.RECRUITER, user_id=uuid.uuid4())
    answer = client.post(f"{APPROVALS}/approve", json={"ids": [message_id]}, headers=stranger)
    assert answer.json()["results"] == [{"id": message_id, "outcome": "forbidden", "errors": []}]
    viewer = client.post(
        f"{APPROVALS}/approve", json={"ids": [message_id]}, headers=org.headers(Role.VIEWER)
    )
    assert viewer.status_code == 403
    assert outbox.row(message_id)["status"] == "awaiting_approval"


def test_bulk_approval_takes_at_most_500_ids(client: TestClient, org: Org) -> None:
    ids = [str(uuid.uuid4()) for _ in range(501)]
    answer = client.post(f"{APPROVALS}/approve", json={"ids": ids}, headers=org.headers())
    assert (answer.status_code, answer.json()["code"]) == (422, "TOO_MANY_ITEMS")
    empty = client.post(f"{APPROVALS}/approve", json={"ids": []}, headers=org.headers())
    assert empty.status_code == 422


def test_another_organizations_approval_is_not_found(
    client: TestClient, org: Org, other_org: Org, running: RunningCampaign, outbox: Outbox
) -> None:
    message_id = outbox.add(running, 0)
    headers = other_org.headers()
    assert client.get(f"{APPROVALS}/{message_id}", headers=headers).status_code == 404
    assert client.post(f"{APPROVALS}/{message_id}/approve", headers=headers).status_code == 404
    assert client.post(f"{APPROVALS}/{message_id}/reject", headers=headers).status_code == 404
    assert client.get(APPROVALS, headers=headers).json()["items"] == []
    assert outbox.row(message_id)["status"] == "awaiting_approval"


def test_a_deleted_campaigns_messages_are_gone(
    client: TestClient, org: Org, running: RunningCampaign, outbox: Outbox
) -> None:
    message_id = outbox.add(running, 0)
    assert client.delete(f"/api/v1/campaigns/{running.id}", headers=org.headers()).is_success
    assert listed_items(client, org, APPROVALS) == []
    assert client.get(f"{APPROVALS}/{message_id}", headers=org.headers()).status_code == 404


def test_approvals_need_a_token(client: TestClient) -> None:
    assert client.get(APPROVALS).status_code == 401
    assert client.post(f"{APPROVALS}/approve", json={"ids": []}).status_code == 401
    assert client.post(f"{APPROVALS}/{uuid.uuid4()}/approve").status_code == 401
