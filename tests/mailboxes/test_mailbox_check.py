"""POST /senders/{id}/mailbox/test against a real IMAP server (pymap on loopback): how far it
got, the error recorded on the mailbox, the target guard at connection time."""

from typing import Any

from fastapi.testclient import TestClient

from outreach.auth.tokens import Role
from tests.factories import Org, add_sender, ok
from tests.mailboxes.imap_server import ImapServer

SENDERS = "/api/v1/senders"


def sender_with_mailbox(
    client: TestClient, org: Org, imap_server: ImapServer, password: str
) -> tuple[str, str]:
    """A sender whose mailbox is a new user of the IMAP server, set up with `password`;
    answers the sender's id and the user's name."""
    user = imap_server.add_user("right-password")
    sender = add_sender(client, org)
    body = {
        "imap_host": imap_server.host,
        "imap_port": imap_server.port,
        "imap_tls": "none",
        "imap_username": user,
        "imap_password": password,
    }
    ok(client.put(f"{SENDERS}/{sender['id']}/mailbox", json=body, headers=org.headers()))
    return sender["id"], user


def check_mailbox(client: TestClient, org: Org, sender_id: str, role: Role = Role.ADMIN) -> Any:
    return client.post(f"{SENDERS}/{sender_id}/mailbox/test", headers=org.headers(role))


def last_error(client: TestClient, org: Org, sender_id: str) -> Any:
    return ok(client.get(f"{SENDERS}/{sender_id}", headers=org.headers()))["mailbox"]["last_error"]


def test_the_right_password_opens_inbox(
    client: TestClient, org: Org, imap_server: ImapServer
) -> None:
    sender_id, user = sender_with_mailbox(client, org, imap_server, "right-password")
    answer = check_mailbox(client, org, sender_id)
    result = ok(answer)
    assert (result["ok"], result["stage"]) == (True, "done")
    assert user in result["detail"]
    assert "RateLimit-Remaining" in answer.headers
    assert last_error(client, org, sender_id) is None


def test_a_wrong_password_stops_at_login_and_is_recorded(
    client: TestClient, org: Org, imap_server: ImapServer
) -> None:
    sender_id, _ = sender_with_mailbox(client, org, imap_server, "wrong-password")
    result = ok(check_mailbox(client, org, sender_id))
    assert (result["ok"], result["stage"]) == (False, "login")
    assert "password" in result["detail"].lower()
    assert last_error(client, org, sender_id) == result["detail"]


def test_a_passing_test_clears_the_recorded_error(
    client: TestClient, org: Org, imap_server: ImapServer, as_owner: Any
) -> None:
    sender_id, _ = sender_with_mailbox(client, org, imap_server, "right-password")
    as_owner.execute(
        "UPDATE sender_mailboxes SET last_error = 'login refused' WHERE sender_id = %s",
        (sender_id,),
    )
    assert ok(check_mailbox(client, org, sender_id))["ok"] is True
    assert last_error(client, org, sender_id) is None


def test_a_host_the_guard_refuses_is_not_connected_to(
    client: TestClient, org: Org, imap_server: ImapServer, as_owner: Any
) -> None:
    # A host refused when saved cannot be saved; one whose name later resolves to a refused
    # address is refused when connecting, as this one is.
    sender_id, _ = sender_with_mailbox(client, org, imap_server, "right-password")
    as_owner.execute(
        "UPDATE sender_mailboxes SET imap_host = '169.254.169.254' WHERE sender_id = %s",
        (sender_id,),
    )
    result = ok(check_mailbox(client, org, sender_id))
    assert (result["ok"], result["stage"]) == (False, "connect")
    assert "cloud metadata" in result["detail"]
    assert last_error(client, org, sender_id) == result["detail"]


def test_a_sender_without_a_mailbox_is_not_found(client: TestClient, org: Org) -> None:
    sender = add_sender(client, org)
    answer = check_mailbox(client, org, sender["id"])
    assert (answer.status_code, answer.json()["title"]) == (404, "Mailbox not found")


def test_only_managers_test_a_mailbox(
    client: TestClient, org: Org, imap_server: ImapServer
) -> None:
    sender_id, _ = sender_with_mailbox(client, org, imap_server, "right-password")
    assert check_mailbox(client, org, sender_id, Role.RECRUITER).status_code == 403
    assert ok(check_mailbox(client, org, sender_id, Role.TA_MANAGER))["ok"] is True


def test_another_organizations_mailbox_is_not_found(
    client: TestClient, org: Org, other_org: Org, imap_server: ImapServer
) -> None:
    sender_id, _ = sender_with_mailbox(client, org, imap_server, "right-password")
    assert check_mailbox(client, other_org, sender_id).status_code == 404
