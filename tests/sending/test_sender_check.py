"""The sender connection check, against a real SMTP server on loopback (aiosmtpd)."""

import asyncio
import time
from collections.abc import Iterator
from dataclasses import asdict
from typing import Any

import httpx
import psycopg
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from fastapi.testclient import TestClient

from outreach.auth.tokens import Role
from outreach.config import Settings
from outreach.db import DatabaseUrls
from outreach.kit.targets import TargetGuard
from outreach.main import create_app
from outreach.sending.transports.smtp import SmtpServer, check_connection
from tests.factories import Org, free_port
from tests.sending.system_senders import add_system_sender
from tests.sending.tcp_servers import Listener, greet_after, speak_http, stay_silent, tcp_listener


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
    port = free_port()
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
    result = check(client, org, sender(client, org, free_port())["id"]).json()
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


def _generic_failure(port: int) -> dict[str, Any]:
    return {
        "ok": False,
        "stage": "connect",
        "detail": f"No SMTP server answered at 127.0.0.1:{port}",
    }


def _check(port: int, tls: str = "none") -> dict[str, Any]:
    # A tenant's server: through the guard, as the API and the send loop connect.
    server = SmtpServer("127.0.0.1", port, tls, guard=TargetGuard(allow_private=True))
    return asdict(asyncio.run(check_connection(server, timeout=1)))


def test_anything_but_an_smtp_greeting_fails_the_same_way(smtp_port: int) -> None:
    closed = free_port()
    assert _check(closed) == _generic_failure(closed)
    with tcp_listener(speak_http) as http:
        assert _check(http.port) == _generic_failure(http.port)
    with tcp_listener(stay_silent) as silent:
        assert _check(silent.port) == _generic_failure(silent.port)
    # Implicit TLS against a server that does not speak it: the handshake fails before a greeting.
    assert _check(smtp_port, tls="tls") == _generic_failure(smtp_port)


def test_a_host_that_does_not_resolve_answers_like_a_closed_port() -> None:
    server = SmtpServer("smtp.nowhere.invalid", 25, "none", guard=TargetGuard(allow_private=True))
    result = asdict(asyncio.run(check_connection(server, timeout=1)))
    assert result == {
        "ok": False,
        "stage": "connect",
        "detail": "No SMTP server answered at smtp.nowhere.invalid:25",
    }


def test_a_port_that_speaks_http_answers_like_a_closed_one(client: TestClient, org: Org) -> None:
    with tcp_listener(speak_http) as http:
        result = check(client, org, sender(client, org, http.port)["id"]).json()
    assert result == _generic_failure(http.port)


def test_an_smtp_server_without_starttls_says_so(
    client: TestClient, org: Org, smtp_port: int
) -> None:
    created = sender(client, org, smtp_port)
    client.patch(
        f"/api/v1/senders/{created['id']}", json={"smtp_tls": "starttls"}, headers=org.headers()
    )
    result = check(client, org, created["id"]).json()
    assert (result["ok"], result["stage"]) == (False, "connect")
    assert "STARTTLS" in result["detail"]


@pytest.fixture(scope="module")
def two_tests_a_minute(settings: Settings, database_urls: DatabaseUrls) -> Iterator[TestClient]:
    limited = settings.model_copy(update={"sender_tests_per_minute": 2})
    with TestClient(create_app(limited, database_urls)) as limited_client:
        yield limited_client


def test_sender_tests_are_rate_limited_per_organization(
    two_tests_a_minute: TestClient, org: Org, other_org: Org, smtp_port: int
) -> None:
    client = two_tests_a_minute
    if time.time() % 60 > 55:  # all three in one window: not across a minute's turn
        time.sleep(60 - time.time() % 60 + 0.1)
    sender_id = sender(client, org, smtp_port)["id"]
    first, second, third = (check(client, org, sender_id) for _ in range(3))
    assert (first.status_code, second.status_code) == (200, 200)
    assert first.headers["RateLimit-Limit"] == "2"
    assert (first.headers["RateLimit-Remaining"], second.headers["RateLimit-Remaining"]) == (
        "1",
        "0",
    )
    assert third.status_code == 429
    assert third.json()["code"] == "RATE_LIMITED"
    assert 1 <= int(third.headers["Retry-After"]) <= 60
    assert third.headers["RateLimit-Remaining"] == "0"
    other = check(client, other_org, sender(client, other_org, smtp_port)["id"])
    assert other.status_code == 200, other.text


SLOW_GREETING_SECONDS = 5.0
CONCURRENT_TESTS = 40


def test_sender_tests_hold_no_database_connection_while_they_wait(
    settings: Settings, database_urls: DatabaseUrls, org: Org, other_org: Org
) -> None:
    """40 tests against a server slow to greet, on a pool of 3 connections: another
    organization's list still answers at once."""
    small_pool = settings.model_copy(update={"db_pool_size": 2, "sender_tests_per_minute": 100})
    app = create_app(small_pool, database_urls)

    async def scenario(slow: Listener) -> tuple[float, list[Any]]:
        transport = httpx.ASGITransport(app=app)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://test", timeout=60) as http,
        ):
            body = {"from_email": "a@example.com", "smtp_host": "127.0.0.1"}
            created = await http.post(
                "/api/v1/senders",
                json=body | {"smtp_port": slow.port, "smtp_tls": "none"},
                headers=org.headers(),
            )
            sender_id = created.json()["id"]
            await http.get("/api/v1/senders", headers=other_org.headers())  # org and user exist
            tests = [
                asyncio.create_task(
                    http.post(f"/api/v1/senders/{sender_id}/test", headers=org.headers())
                )
                for _ in range(CONCURRENT_TESTS)
            ]
            await asyncio.sleep(1)  # the tests are waiting for the greeting by then
            started = time.monotonic()
            listed = await http.get("/api/v1/senders", headers=other_org.headers())
            elapsed = time.monotonic() - started
            assert listed.status_code == 200, listed.text
            return elapsed, [answer.json() for answer in await asyncio.gather(*tests)]

    with tcp_listener(greet_after(SLOW_GREETING_SECONDS)) as slow:
        elapsed, results = asyncio.run(scenario(slow))
    assert elapsed < 1.0, f"another organization's list took {elapsed:.2f} s"
    assert [result["ok"] for result in results] == [True] * CONCURRENT_TESTS
