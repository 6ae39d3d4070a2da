"""Reading the caught mail through the API: messages sent over real SMTP to the catcher."""

import asyncio
import uuid
from email.message import EmailMessage
from typing import Any

import aiosmtplib
import pytest
from fastapi.testclient import TestClient

from outreach.auth.tokens import Role
from outreach.embedded import INSTANCE_HEADER, ORG_HEADER, MailCatcher
from tests.factories import Org, known, listed

MESSAGES = "/api/v1/mail-catcher/messages"


def mail(
    org_id: uuid.UUID | str | None,
    subject: str = "Hello Ada",
    to: str = "ada@example.com",
    text: str = "Hi Ada, are you open to a new role?",
    html: str | None = "<p>Hi Ada, are you open to a <b>new role</b>?</p>",
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Recruiting <recruiting@example.com>"
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = f"<{uuid.uuid4()}@example.com>"
    if org_id is not None:
        message[ORG_HEADER] = str(org_id)
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    return message


def send(catcher: MailCatcher, message: EmailMessage, **kwargs: Any) -> None:
    message[INSTANCE_HEADER] = catcher.instance
    asyncio.run(aiosmtplib.send(message, hostname=catcher.host, port=catcher.port, **kwargs))


def test_a_sent_message_is_listed_and_read_with_its_parts(
    client: TestClient, org: Org, mail_catcher: MailCatcher
) -> None:
    sent = mail(known(client, org).id, subject="Café in Paris — Java role")
    send(mail_catcher, sent, recipients=["ada@example.com", "bcc@example.com"])

    [item] = listed(client, org, MESSAGES)["items"]
    assert item["from"] == "recruiting@example.com"
    assert item["to"] == ["ada@example.com", "bcc@example.com"]
    assert item["subject"] == "Café in Paris — Java role"
    assert item["message_id"] == sent["Message-ID"]

    answer = client.get(f"{MESSAGES}/{item['id']}", headers=org.headers(Role.VIEWER))
    assert answer.status_code == 200, answer.text
    message = answer.json()
    assert message["text"] == "Hi Ada, are you open to a new role?\n"
    assert message["html"] == "<p>Hi Ada, are you open to a <b>new role</b>?</p>\n"
    assert ["Subject", "Café in Paris — Java role"] in message["headers"]
    assert [ORG_HEADER, str(org.id)] in message["headers"]
    assert "multipart/alternative" in message["raw"]
    assert {key: message[key] for key in item} == item


def test_a_text_only_message_has_no_html(
    client: TestClient, org: Org, mail_catcher: MailCatcher
) -> None:
    send(mail_catcher, mail(known(client, org).id, text="Plain only", html=None))
    [item] = listed(client, org, MESSAGES)["items"]
    message = client.get(f"{MESSAGES}/{item['id']}", headers=org.headers()).json()
    assert (message["text"].strip(), message["html"]) == ("Plain only", None)


def test_the_list_is_newest_first_in_pages(
    client: TestClient, org: Org, mail_catcher: MailCatcher
) -> None:
    for number in range(3):
        send(mail_catcher, mail(known(client, org).id, subject=f"Message {number}"))
    first = listed(client, org, MESSAGES, limit=2)
    assert [item["subject"] for item in first["items"]] == ["Message 2", "Message 1"]
    second = listed(client, org, MESSAGES, limit=2, cursor=first["next_cursor"])
    assert [item["subject"] for item in second["items"]] == ["Message 0"]
    assert second["next_cursor"] is None


def test_the_list_filters_by_recipient_in_any_case(
    client: TestClient, org: Org, mail_catcher: MailCatcher
) -> None:
    send(mail_catcher, mail(known(client, org).id, subject="To Ada", to="Ada@Example.com"))
    send(mail_catcher, mail(org.id, subject="To Bob", to="bob@example.com"))
    subjects = [
        item["subject"] for item in listed(client, org, MESSAGES, to="ADA@example.COM")["items"]
    ]
    assert subjects == ["To Ada"]


def test_the_list_searches_subjects(
    client: TestClient, org: Org, mail_catcher: MailCatcher
) -> None:
    send(mail_catcher, mail(known(client, org).id, subject="Java role in Paris"))
    send(mail_catcher, mail(org.id, subject="Rust role in Lyon"))
    send(mail_catcher, mail(org.id, subject="100% remote"))
    assert [item["subject"] for item in listed(client, org, MESSAGES, q="paris")["items"]] == [
        "Java role in Paris"
    ]
    # % is a character to find, not a wildcard
    assert [item["subject"] for item in listed(client, org, MESSAGES, q="0%")["items"]] == [
        "100% remote"
    ]


def test_an_invalid_cursor_is_refused(client: TestClient, org: Org) -> None:
    answer = client.get(MESSAGES, params={"cursor": "nonsense"}, headers=org.headers())
    assert answer.status_code == 422
    assert answer.json()["code"] == "CURSOR_INVALID"


def test_a_manager_empties_the_catcher(
    client: TestClient, org: Org, other_org: Org, mail_catcher: MailCatcher
) -> None:
    send(mail_catcher, mail(known(client, org).id))
    send(mail_catcher, mail(known(client, other_org).id))
    answer = client.delete(MESSAGES, headers=org.headers(Role.TA_MANAGER))
    assert answer.status_code == 204, answer.text
    assert listed(client, org, MESSAGES)["items"] == []
    assert len(listed(client, other_org, MESSAGES)["items"]) == 1


@pytest.mark.parametrize("role", [Role.RECRUITER, Role.VIEWER])
def test_only_managers_empty_the_catcher(
    client: TestClient, org: Org, mail_catcher: MailCatcher, role: Role
) -> None:
    send(mail_catcher, mail(known(client, org).id))
    answer = client.delete(MESSAGES, headers=org.headers(role))
    assert answer.status_code == 403
    assert len(listed(client, org, MESSAGES)["items"]) == 1


def test_another_orgs_message_is_not_found(
    client: TestClient, org: Org, other_org: Org, mail_catcher: MailCatcher
) -> None:
    send(mail_catcher, mail(known(client, org).id))
    [item] = listed(client, org, MESSAGES)["items"]
    answer = client.get(f"{MESSAGES}/{item['id']}", headers=known(client, other_org).headers())
    assert answer.status_code == 404
    assert answer.json()["code"] == "NOT_FOUND"
    assert listed(client, other_org, MESSAGES)["items"] == []


def test_an_unknown_message_is_not_found(client: TestClient, org: Org) -> None:
    answer = client.get(f"{MESSAGES}/{uuid.uuid4()}", headers=org.headers())
    assert answer.status_code == 404
