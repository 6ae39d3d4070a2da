"""The inbox: replies across campaigns (order, pages, filters, who sees which), a reply with
its thread, marking read, and answering through the reply's sender (headers at a real SMTP
server, limits, a refusal, the record)."""

import uuid
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from outreach.auth.tokens import Role
from tests.factories import MailSink, Org, create_campaign, listed, ok, post
from tests.inbox.inbox_rows import Mailroom, add_message, mailroom

INBOX = "/api/v1/inbox"


@pytest.fixture
def room(
    client: TestClient, as_owner: psycopg.Connection, org: Org, mail_sink: MailSink
) -> Mailroom:
    return mailroom(client, as_owner, org, mail_sink.port)


def ids(client: TestClient, org: Org, role: Role = Role.ADMIN, **params: Any) -> list[str]:
    return [item["id"] for item in listed(client, org, INBOX, role, **params)["items"]]


def answer(
    client: TestClient, org: Org, reply_id: str, role: Role = Role.ADMIN, **body: Any
) -> Any:
    return post(
        client, org, f"{INBOX}/{reply_id}/reply", {"body_text": "Glad to hear it!"} | body, role
    )


def usage(as_owner: psycopg.Connection, sender_id: str) -> int:
    row = as_owner.execute(
        "SELECT coalesce(sum(sends), 0) FROM sender_usage WHERE sender_id = %s", (sender_id,)
    ).fetchone()
    assert row is not None
    return int(row[0])


def test_replies_are_listed_newest_first_with_their_contact_and_campaign(
    client: TestClient, org: Org, room: Mailroom, as_owner: psycopg.Connection
) -> None:
    older = add_message(as_owner, room, 0, minutes=1)
    newer = add_message(as_owner, room, 1, minutes=5, step="follow_up", matched_by="address")
    add_message(
        as_owner, room, 0, minutes=9, direction="outbound", message_id="<answer@example.com>"
    )
    items = listed(client, org, INBOX, Role.ADMIN)["items"]
    assert [item["id"] for item in items] == [newer, older]
    first = items[0]
    assert first["contact"] == {
        "campaign_contact_id": room.members[1],
        "contact_id": first["contact"]["contact_id"],
        "name": "Cand1 Idate",
        "email": "candidate1@example.org",
    }
    assert first["campaign"] == {
        "id": room.campaign_id,
        "name": "Java developers Paris",
        "owner_id": room.owner_id,
    }
    assert (first["step"], first["matched_by"], first["text"]) == (
        "follow_up",
        "address",
        "Sounds interesting, tell me more.",
    )
    assert (first["read_at"], first["answered_at"], first["sender_id"]) == (
        None,
        None,
        room.sender_id,
    )


def test_pages_follow_the_cursor(
    client: TestClient, org: Org, room: Mailroom, as_owner: psycopg.Connection
) -> None:
    made = [add_message(as_owner, room, 0, minutes=minutes) for minutes in (1, 2, 2, 3, 4)]
    seen: list[str] = []
    cursor = None
    while True:
        page = listed(
            client, org, INBOX, Role.ADMIN, limit=2, **({"cursor": cursor} if cursor else {})
        )
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 5
    assert set(seen) == set(made)
    assert seen[0] == made[4]
    assert seen[-1] == made[0]


def test_a_cursor_not_given_out_is_refused(client: TestClient, org: Org) -> None:
    answer = client.get(INBOX, params={"cursor": "nonsense"}, headers=org.headers())
    assert (answer.status_code, answer.json()["code"]) == (422, "CURSOR_INVALID")


def test_filters_by_campaign_sender_owner_and_unread(
    client: TestClient, org: Org, room: Mailroom, as_owner: psycopg.Connection, mail_sink: MailSink
) -> None:
    other = mailroom(client, as_owner, org, mail_sink.port, from_email="sales@example.com")
    mine = add_message(as_owner, room, 0, minutes=1)
    theirs = add_message(as_owner, other, 0, minutes=2)
    as_owner.execute("UPDATE inbox_messages SET read_at = now() WHERE id = %s", (theirs,))
    assert ids(client, org, campaign_id=room.campaign_id) == [mine]
    assert ids(client, org, sender_id=other.sender_id) == [theirs]
    assert ids(client, org, owner_id=room.owner_id) == [theirs, mine]  # one recruiter owns both
    assert ids(client, org, owner_id=str(uuid.uuid4())) == []
    assert ids(client, org, unread="true") == [mine]
    assert ids(client, org, unread="false") == [theirs]


def test_recruiters_see_the_replies_to_their_own_campaigns(
    client: TestClient, org: Org, room: Mailroom, as_owner: psycopg.Connection
) -> None:
    reply = add_message(as_owner, room, 0)
    managers = create_campaign(client, org, Role.TA_MANAGER)
    add_message(
        as_owner,
        room,
        1,
        minutes=1,
        campaign_id=managers["id"],
        campaign_contact_id=room.members[1],
    )
    assert ids(client, org, Role.RECRUITER) == [reply]
    assert len(ids(client, org, Role.TA_MANAGER)) == 2
    assert len(ids(client, org, Role.ADMIN)) == 2


def test_a_reply_comes_with_its_thread_oldest_first(
    client: TestClient, org: Org, room: Mailroom, as_owner: psycopg.Connection
) -> None:
    first = add_message(as_owner, room, 0, minutes=1)
    sent = add_message(
        as_owner, room, 0, minutes=2, direction="outbound", message_id="<a@example.com>"
    )
    second = add_message(as_owner, room, 0, minutes=3, body_text="When can we talk?")
    add_message(as_owner, room, 1, minutes=4)  # another contact's thread
    reply = ok(client.get(f"{INBOX}/{second}", headers=org.headers(Role.VIEWER)))
    assert reply["text"] == "When can we talk?"
    assert [m["id"] for m in reply["thread"]] == [first, sent, second]
    assert [m["direction"] for m in reply["thread"]] == ["inbound", "outbound", "inbound"]


def test_marking_read_keeps_the_first_moment(
    client: TestClient, org: Org, room: Mailroom, as_owner: psycopg.Connection
) -> None:
    reply = add_message(as_owner, room, 0)
    first = ok(post(client, org, f"{INBOX}/{reply}/read", {}, Role.RECRUITER))
    assert first["read_at"] is not None
    again = ok(post(client, org, f"{INBOX}/{reply}/read", {}, Role.TA_MANAGER))
    assert again["read_at"] == first["read_at"]
    assert ids(client, org, unread="true") == []


@pytest.mark.parametrize("role", [Role.VIEWER, Role.RECRUITER])
def test_only_the_owner_and_managers_act_on_a_reply(
    client: TestClient, org: Org, room: Mailroom, as_owner: psycopg.Connection, role: Role
) -> None:
    reply = add_message(as_owner, room, 0)
    someone_else = org.headers(role, user_id=uuid.uuid4())
    assert client.post(f"{INBOX}/{reply}/read", headers=someone_else).status_code == 403
    assert (
        client.post(
            f"{INBOX}/{reply}/reply", json={"body_text": "Hi"}, headers=someone_else
        ).status_code
        == 403
    )


def test_another_organizations_reply_is_not_found(
    client: TestClient,
    org: Org,
    other_org: Org,
    room: Mailroom,
    as_owner: psycopg.Connection,
    mail_sink: MailSink,
) -> None:
    reply = add_message(as_owner, room, 0)
    assert client.get(f"{INBOX}/{reply}", headers=other_org.headers()).status_code == 404
    assert post(client, other_org, f"{INBOX}/{reply}/read", {}).status_code == 404
    assert answer(client, other_org, reply).status_code == 404
    assert ids(client, other_org) == []
    assert mail_sink.messages == []


def test_an_answer_goes_out_in_the_thread_through_the_replys_sender(
    client: TestClient, org: Org, room: Mailroom, as_owner: psycopg.Connection, mail_sink: MailSink
) -> None:
    reply = add_message(
        as_owner,
        room,
        0,
        subject="Hello Cand",
        message_id="<their-reply@example.org>",
        references_ids=["<first-touch@example.com>"],
    )
    answered = ok(
        answer(client, org, reply, role=Role.RECRUITER, body_html="<p>Glad to hear it!</p>")
    )
    assert answered["message_id"] == "<their-reply@example.org>"
    (mail,) = mail_sink.messages
    assert mail["Subject"] == "Re: Hello Cand"
    assert mail["In-Reply-To"] == "<their-reply@example.org>"
    assert mail["References"] == "<first-touch@example.com> <their-reply@example.org>"
    assert mail["Message-ID"].endswith("@example.com>")
    assert mail["To"].addresses[0].addr_spec == "candidate0@example.org"
    assert mail["From"].addresses[0].addr_spec == "recruiting@example.com"
    assert mail.get_body(("plain",)).get_content().strip() == "Glad to hear it!"
    assert "<p>Glad to hear it!</p>" in mail.get_body(("html",)).get_content()
    assert answered["answered_at"] is not None
    sent = answered["thread"][-1]
    assert (sent["direction"], sent["message_id"], sent["subject"]) == (
        "outbound",
        mail["Message-ID"],
        "Re: Hello Cand",
    )
    assert usage(as_owner, room.sender_id) == 1
    assert ids(client, org) == [reply]  # the answer is in the thread, not in the inbox


def test_an_answer_to_a_re_subject_is_not_re_re(
    client: TestClient, org: Org, room: Mailroom, as_owner: psycopg.Connection, mail_sink: MailSink
) -> None:
    reply = add_message(as_owner, room, 0, subject="RE: Hello Cand")
    ok(answer(client, org, reply))
    assert mail_sink.messages[0]["Subject"] == "RE: Hello Cand"


def test_a_paused_sender_does_not_answer(
    client: TestClient, org: Org, room: Mailroom, as_owner: psycopg.Connection, mail_sink: MailSink
) -> None:
    reply = add_message(as_owner, room, 0)
    as_owner.execute("UPDATE senders SET paused_at = now() WHERE id = %s", (room.sender_id,))
    refused = answer(client, org, reply)
    assert (refused.status_code, refused.json()["code"]) == (409, "SENDER_PAUSED")
    assert mail_sink.messages == []


@pytest.mark.parametrize(
    ("limits", "which"), [({"hourly_limit": 1}, "hourly"), ({"daily_limit": 1}, "daily")]
)
def test_a_sender_at_its_limit_does_not_answer(
    client: TestClient,
    org: Org,
    as_owner: psycopg.Connection,
    mail_sink: MailSink,
    limits: dict[str, int],
    which: str,
) -> None:
    room = mailroom(client, as_owner, org, mail_sink.port, **limits)
    first, second = add_message(as_owner, room, 0), add_message(as_owner, room, 1, minutes=1)
    ok(answer(client, org, first))
    refused = answer(client, org, second)
    assert (refused.status_code, refused.json()["code"]) == (409, "SENDER_LIMIT_REACHED")
    assert which in refused.json()["detail"]
    assert len(mail_sink.messages) == 1
    assert usage(as_owner, room.sender_id) == 1


def test_a_suppressed_address_is_not_answered(
    client: TestClient, org: Org, room: Mailroom, as_owner: psycopg.Connection, mail_sink: MailSink
) -> None:
    reply = add_message(as_owner, room, 0)
    ok(
        post(
            client,
            org,
            "/api/v1/suppressions",
            {"email": "candidate0@example.org", "reason": "unsubscribed"},
        ),
        201,
    )
    refused = answer(client, org, reply)
    assert (refused.status_code, refused.json()["code"]) == (409, "ADDRESS_SUPPRESSED")
    assert mail_sink.messages == []


def test_an_answer_the_server_refuses_records_nothing(
    client: TestClient, org: Org, room: Mailroom, as_owner: psycopg.Connection, mail_sink: MailSink
) -> None:
    reply = add_message(as_owner, room, 0)
    mail_sink.refusals["candidate0@example.org"] = "550 5.1.1 No such mailbox here"
    refused = answer(client, org, reply)
    assert (refused.status_code, refused.json()["code"]) == (502, "REPLY_NOT_SENT")
    assert refused.json()["detail"] == "550 5.1.1 No such mailbox here"
    assert ok(client.get(f"{INBOX}/{reply}", headers=org.headers()))["answered_at"] is None
    assert as_owner.execute(
        "SELECT count(*) FROM inbox_messages WHERE campaign_id = %s AND direction = 'outbound'",
        (room.campaign_id,),
    ).fetchone() == (0,)
    assert usage(as_owner, room.sender_id) == 0


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"body_text": "   "}, "VALUE_TOO_SHORT"),
        ({"body_text": "x" * 100_001}, "VALUE_TOO_LONG"),
        ({"body_text": "Hi", "body_html": "x" * 500_001}, "VALUE_TOO_LONG"),
        ({"body_text": "Hi", "subject": "Other"}, "FIELD_UNKNOWN"),
        ({}, "FIELD_REQUIRED"),
    ],
)
def test_an_invalid_answer_is_refused_with_its_code(
    client: TestClient,
    org: Org,
    room: Mailroom,
    as_owner: psycopg.Connection,
    mail_sink: MailSink,
    body: dict[str, Any],
    code: str,
) -> None:
    reply = add_message(as_owner, room, 0)
    refused = post(client, org, f"{INBOX}/{reply}/reply", body)
    assert (refused.status_code, refused.json()["code"]) == (422, code)
    assert mail_sink.messages == []
