"""The sender connection check, against a real SMTP server on loopback (aiosmtpd)."""

import socket
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from fastapi.testclient import TestClient

from outreach.auth.tokens import Role
from outreach.config import Settings
from outreach.db import DatabaseUrls
from outreach.main import create_app
from tests.factories import Org
from tests.sending.system_senders import add_system_sender


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _authenticate(
    server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
) -> AuthResult:
    valid = isinstance(auth_data, LoginPassword) and (
        (auth_data.login, auth_data.password) == (b"mailer", b"s3cret")
    )
    return AuthResult(success=valid, handled=False)  # not handled: the server answers 535


class _Accept:
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return "250 OK"


@pytest.fixture(scope="module")
def smtp_port() -> Iterator[int]:
    port = _free_port()
    controller = Controller(
        _Accept(),
        hostname="127.0.0.1",
        port=port,
        authenticator=_authenticate,
        auth_require_tls=False,
    )
    controller.start()
    yield port
    controller.stop()


def sender(client: TestClient, org: Org, port: int, password: str = "s3cret") -> dict[str, Any]:
    body = {
        "from_email": "recruiting@example.com",
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "smtp_tls": "none",
        "smtp_username": "mailer",
        "smtp_password": password,
    }
    answer = client.post("/api/v1/senders", json=body, headers=org.headers())
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def check(client: TestClient, org: Org, sender_id: str, role: Role = Role.ADMIN) -> Any:
    return client.post(f"/api/v1/senders/{sender_id}/test", headers=org.headers(role))


def test_a_working_sender_connects_and_logs_in(
    client: TestClient, org: Org, smtp_port: int
) -> None:
    answer = check(client, org, sender(client, org, smtp_port)["id"])
    assert answer.status_code == 200, answer.text
    assert (answer.json()["ok"], answer.json()["stage"]) == (True, "done")


def test_a_wrong_password_fails_at_login(client: TestClient, org: Org, smtp_port: int) -> None:
    result = check(client, org, sender(client, org, smtp_port, password="wrong")["id"]).json()
    assert (result["ok"], result["stage"]) == (False, "login")
    assert "535" in result["detail"]


def test_a_server_that_does_not_answer_fails_at_connect(client: TestClient, org: Org) -> None:
    result = check(client, org, sender(client, org, _free_port())["id"]).json()
    assert (result["ok"], result["stage"]) == (False, "connect")


def test_only_managers_check_senders(client: TestClient, org: Org, smtp_port: int) -> None:
    created = sender(client, org, smtp_port)
    assert check(client, org, created["id"], Role.RECRUITER).status_code == 403


def test_another_organizations_sender_is_not_found(
    client: TestClient, org: Org, other_org: Org, smtp_port: int
) -> None:
    created = sender(client, org, smtp_port)
    assert check(client, other_org, created["id"]).status_code == 404


def test_a_system_sender_without_a_relay_fails_at_connect(
    client: TestClient, org: Org, as_owner: psycopg.Connection
) -> None:
    result = check(client, org, add_system_sender(client, as_owner, org)).json()
    assert (result["ok"], result["stage"]) == (False, "connect")
    assert "OUTREACH_SMTP_URL" in result["detail"]


def test_a_system_sender_checks_the_services_relay(
    settings: Settings,
    database_urls: DatabaseUrls,
    org: Org,
    as_owner: psycopg.Connection,
    smtp_port: int,
) -> None:
    with_relay = settings.model_copy(
        update={"smtp_url": f"smtp://mailer:s3cret@127.0.0.1:{smtp_port}?tls=none"}
    )
    with TestClient(create_app(with_relay, database_urls)) as relay_client:
        sender_id = add_system_sender(relay_client, as_owner, org)
        result = check(relay_client, org, sender_id).json()
    assert (result["ok"], result["stage"]) == (True, "done"), result
