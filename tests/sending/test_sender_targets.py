"""Where a tenant's SMTP host and SMS provider URL may point: refused at save (422
TARGET_NOT_ALLOWED) and again at every connection, against real servers on loopback."""

import asyncio
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
import trustme
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient

from outreach.auth.tokens import Role
from outreach.config import Settings
from outreach.db import DatabaseUrls
from outreach.kit.targets import TargetGuard
from outreach.main import create_app
from outreach.sending.transports.sms import SmsAccount, SmsSendError, send_sms, sms_client
from outreach.sending.transports.smtp import SmtpServer, check_connection
from tests.factories import (
    Engine,
    MailSink,
    Org,
    create_sender,
    free_port,
    outbox_rows,
    production_settings,
    ready_campaign,
)
from tests.sending.system_senders import add_system_sender
from tests.sending.tcp_servers import Listener, greet_after, tcp_listener
from tests.sending.twilio_server import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    FROM_NUMBER,
    OK_NUMBER,
    TwilioServer,
    twilio_server,
)

PUBLIC_ADDRESS = "93.184.216.34"
SENDERS = "/api/v1/senders"
SMS_PROVIDER = "/api/v1/sms-provider"


@pytest.fixture(scope="module")
def production(settings: Settings, database_urls: DatabaseUrls) -> Iterator[TestClient]:
    with TestClient(create_app(production_settings(settings), database_urls)) as client:
        yield client


@pytest.fixture(scope="module")
def production_allowing_private(
    settings: Settings, database_urls: DatabaseUrls
) -> Iterator[TestClient]:
    allowing = production_settings(settings, allow_private_targets=True)
    with TestClient(create_app(allowing, database_urls)) as client:
        yield client


@pytest.fixture
def smtp_listener() -> Iterator[Listener]:
    with tcp_listener(greet_after(0)) as listener:
        yield listener


@pytest.fixture(scope="module")
def twilio() -> Iterator[TwilioServer]:
    with twilio_server() as server:
        yield server


def org_of(client: TestClient) -> Org:
    return Org(client.app.state.settings)  # type: ignore[attr-defined]


def post_sender(client: TestClient, org: Org, host: str, port: int = 587) -> Any:
    body = {"from_email": "recruiting@example.com", "smtp_host": host, "smtp_port": port}
    return client.post(SENDERS, json=body | {"smtp_tls": "none"}, headers=org.headers())


def put_sms_provider(client: TestClient, org: Org, base_url: str) -> Any:
    body = {
        "base_url": base_url,
        "account_sid": ACCOUNT_SID,
        "auth_token": AUTH_TOKEN,
        "from_number": FROM_NUMBER,
    }
    return client.put(SMS_PROVIDER, json=body, headers=org.headers())


def assert_refused(answer: Any, field: str, why: str) -> None:
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert problem["code"] == "TARGET_NOT_ALLOWED"
    assert problem["errors"][0]["field"] == field
    assert why in problem["errors"][0]["message"]


@contextmanager
def resolving(client: TestClient, guard: TargetGuard) -> Iterator[None]:
    """The app's guard with a resolver of the test's own, for the duration."""
    state = client.app.state  # type: ignore[attr-defined]
    before = state.target_guard
    state.target_guard = guard
    try:
        yield
    finally:
        state.target_guard = before


def dns(*answers: list[str]) -> Any:
    """A resolver that gives each answer in turn (the last one from then on): a DNS that
    changes its mind between the save and the connection."""
    given = list(answers)

    async def resolve(host: str, port: int) -> list[str]:
        return given.pop(0) if len(given) > 1 else given[0]

    return resolve


@pytest.mark.parametrize(
    ("host", "why"),
    [
        ("169.254.169.254", "cloud metadata"),
        ("localhost", "loopback"),
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.0.0.1", "private"),
        ("::ffff:127.0.0.1", "loopback"),
        ("metadata.google.internal", "cloud metadata"),
    ],
)
def test_production_refuses_internal_smtp_hosts_at_save(
    production: TestClient, host: str, why: str
) -> None:
    assert_refused(post_sender(production, org_of(production), host), "smtp_host", why)


def test_production_refuses_an_internal_smtp_host_on_patch(production: TestClient) -> None:
    org = org_of(production)
    created = post_sender(production, org, PUBLIC_ADDRESS)
    assert created.status_code == 201, created.text
    answer = production.patch(
        f"{SENDERS}/{created.json()['id']}", json={"smtp_host": "10.1.2.3"}, headers=org.headers()
    )
    assert_refused(answer, "smtp_host", "private")
    kept = production.get(f"{SENDERS}/{created.json()['id']}", headers=org.headers()).json()
    assert kept["smtp_host"] == PUBLIC_ADDRESS


@pytest.mark.parametrize(
    ("host", "why"),
    [
        ("169.254.169.254", "cloud metadata"),
        ("169.254.10.1", "link-local"),
        ("fe80::1", "link-local"),
        ("fd00:ec2::254", "cloud metadata"),
        ("metadata.google.internal", "cloud metadata"),
        ("0.0.0.0", "unspecified"),  # noqa: S104 - an address to refuse, not to bind
        ("224.0.0.251", "multicast"),
    ],
)
def test_link_local_and_metadata_hosts_are_refused_in_every_environment(
    client: TestClient, org: Org, production_allowing_private: TestClient, host: str, why: str
) -> None:
    assert_refused(post_sender(client, org, host), "smtp_host", why)
    allowing = production_allowing_private
    assert_refused(post_sender(allowing, org_of(allowing), host), "smtp_host", why)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "10.0.0.1", "100.64.1.2", "fd12::1"])
def test_the_operator_may_allow_private_hosts_in_production(
    production_allowing_private: TestClient, host: str
) -> None:
    client = production_allowing_private
    answer = post_sender(client, org_of(client), host)
    assert answer.status_code == 201, answer.text


def test_a_name_that_does_not_resolve_yet_is_saved(production: TestClient) -> None:
    answer = post_sender(production, org_of(production), "smtp.not-yet-delegated.invalid")
    assert answer.status_code == 201, answer.text


def test_the_sms_provider_url_is_checked_at_save(
    client: TestClient, org: Org, production: TestClient
) -> None:
    refused = put_sms_provider(client, org, "http://169.254.169.254/latest")
    assert_refused(refused, "base_url", "cloud metadata")
    assert_refused(
        put_sms_provider(production, org_of(production), "http://127.0.0.1:8080"),
        "base_url",
        "loopback",
    )
    assert client.get(SMS_PROVIDER, headers=org.headers()).status_code == 404


def test_a_host_that_turns_internal_after_its_save_is_refused_at_connect(
    production: TestClient, smtp_listener: Listener
) -> None:
    org = org_of(production)
    rebinding = TargetGuard(allow_private=False, resolve=dns([PUBLIC_ADDRESS], ["127.0.0.1"]))
    with resolving(production, rebinding):
        created = post_sender(production, org, "mail.rebind.test", smtp_listener.port)
        assert created.status_code == 201, created.text
        answer = production.post(f"{SENDERS}/{created.json()['id']}/test", headers=org.headers())
    assert answer.status_code == 200, answer.text
    assert (answer.json()["ok"], answer.json()["stage"]) == (False, "connect")
    assert answer.json()["detail"] == (
        "mail.rebind.test resolves to a loopback address, which outbound connections may not reach"
    )
    assert smtp_listener.connections == 0


def test_the_connection_goes_to_the_address_that_was_checked(
    client: TestClient, org: Org, smtp_listener: Listener
) -> None:
    # The name exists only in the test's resolver: a second lookup by the SMTP client would fail.
    pinned = TargetGuard(allow_private=True, resolve=dns(["127.0.0.1"]))
    with resolving(client, pinned):
        created = post_sender(client, org, "mail.pinned.test", smtp_listener.port)
        assert created.status_code == 201, created.text
        answer = client.post(f"{SENDERS}/{created.json()['id']}/test", headers=org.headers())
    assert (answer.json()["ok"], answer.json()["stage"]) == (True, "done"), answer.text
    assert smtp_listener.connections == 1


def test_the_send_loop_refuses_a_host_it_may_not_reach_and_retries_later(
    client: TestClient,
    org: Org,
    as_owner: psycopg.Connection,
    settings: Settings,
    database_urls: DatabaseUrls,
    mail_sink: MailSink,
) -> None:
    # Saved where loopback is allowed; sent by a production worker, where it is not.
    sender = create_sender(client, org, mail_sink.port)
    campaign = ready_campaign(client, org, as_owner, sender, contacts=1)
    Engine(settings, database_urls).plan(org)
    Engine(production_settings(settings), database_urls).send(org)
    row = outbox_rows(as_owner, campaign["id"])[0]
    assert (row["status"], row["attempts"]) == ("queued", 1)
    assert row["last_error"] == (
        "connection failed: 127.0.0.1 is a loopback address, which outbound connections may "
        "not reach"
    )
    assert mail_sink.messages == []
    assert mail_sink.rcpt_attempts == []


def sms_account(base_url: str) -> SmsAccount:
    return SmsAccount(base_url, ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER)


def sms_through(guard: TargetGuard, base_url: str) -> Any:
    async def send() -> Any:
        async with sms_client(guard) as http:
            return await send_sms(sms_account(base_url), OK_NUMBER, "Hello", http=http)

    return asyncio.run(send())


def test_an_sms_provider_url_that_turns_internal_is_refused_at_connect(
    twilio: TwilioServer,
) -> None:
    port = twilio.url.rsplit(":", 1)[1]
    rebinding = TargetGuard(allow_private=False, resolve=dns([PUBLIC_ADDRESS], ["127.0.0.1"]))
    asyncio.run(rebinding.check("sms.rebind.test", int(port)))  # what the save saw
    sent_before = len(twilio.requests)
    with pytest.raises(SmsSendError) as failed:
        sms_through(rebinding, f"http://sms.rebind.test:{port}")
    assert failed.value.permanent is False
    assert "sms.rebind.test resolves to a loopback address" in failed.value.message
    assert len(twilio.requests) == sent_before


def test_an_sms_goes_to_the_address_that_was_checked(twilio: TwilioServer) -> None:
    port = twilio.url.rsplit(":", 1)[1]
    pinned = TargetGuard(allow_private=True, resolve=dns(["127.0.0.1"]))
    sent = sms_through(pinned, f"http://sms.pinned.test:{port}")
    assert sent.sid.startswith("SM")


def test_the_services_own_relay_may_be_on_loopback_in_production(
    settings: Settings,
    database_urls: DatabaseUrls,
    as_owner: psycopg.Connection,
    mail_sink: MailSink,
) -> None:
    relay = f"smtp://127.0.0.1:{mail_sink.port}?tls=none"  # the operator's, not a tenant's
    with TestClient(
        create_app(production_settings(settings, smtp_url=relay), database_urls)
    ) as client:
        org = org_of(client)
        sender_id = add_system_sender(client, as_owner, org)
        answer = client.post(f"{SENDERS}/{sender_id}/test", headers=org.headers())
    assert (answer.json()["ok"], answer.json()["stage"]) == (True, "done"), answer.text


def test_a_recruiter_is_refused_before_the_host_is_looked_at(production: TestClient) -> None:
    org = org_of(production)
    body = {"from_email": "a@example.com", "smtp_host": "169.254.169.254"}
    answer = production.post(SENDERS, json=body, headers=org.headers(Role.RECRUITER))
    assert answer.status_code == 403


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def trusting_the_test_ca(ca: trustme.CA, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The clients' default trust (OpenSSL's, and httpx's with trust_env) is the test CA."""
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    monkeypatch.setenv("SSL_CERT_FILE", str(path))


def server_tls(ca: trustme.CA, name: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(name).configure_cert(context)
    return context


@pytest.mark.usefixtures("trusting_the_test_ca")
def test_tls_to_a_pinned_address_checks_the_certificate_for_the_host_name(
    ca: trustme.CA,
) -> None:
    port = free_port()
    controller = Controller(
        MailSink(port), hostname="127.0.0.1", port=port, ssl_context=server_tls(ca, "mail.test")
    )
    controller.start()
    try:
        pinned = TargetGuard(allow_private=True, resolve=dns(["127.0.0.1"]))
        for_the_name = SmtpServer("mail.test", port, "tls", guard=pinned)
        assert asyncio.run(check_connection(for_the_name, timeout=2)).ok is True
        another_name = SmtpServer("other.test", port, "tls", guard=pinned)
        refused = asyncio.run(check_connection(another_name, timeout=2))
    finally:
        controller.stop()
    assert (refused.ok, refused.detail) == (False, f"No SMTP server answered at other.test:{port}")


@pytest.mark.usefixtures("trusting_the_test_ca")
def test_https_to_a_pinned_address_checks_the_certificate_for_the_host_name(
    ca: trustme.CA,
) -> None:
    pinned = TargetGuard(allow_private=True, resolve=dns(["127.0.0.1"]))
    with twilio_server(tls=server_tls(ca, "sms.test")) as https:
        port = https.url.rsplit(":", 1)[1]
        assert sms_through(pinned, f"https://sms.test:{port}").sid.startswith("SM")
        with pytest.raises(SmsSendError, match="CERTIFICATE_VERIFY_FAILED"):
            sms_through(pinned, f"https://other.test:{port}")
