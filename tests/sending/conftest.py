"""Sending fixtures: a real SMTP server on loopback (aiosmtpd) that keeps what it receives and
answers what a test tells it to, and builders for a campaign that is ready to send."""

import asyncio
import socket
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any, TypeVar

import psycopg
import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient

from outreach.config import Settings
from outreach.db import DatabaseUrls, create_engine, create_sessionmaker
from outreach.kit.dburls import libpq_url
from outreach.sending.delivery.worker import SendingContext, send_org
from outreach.sending.planner.service import plan_org
from outreach.sending.secrets import sender_secrets
from outreach.tracking.tokens import TrackingSigner
from tests.factories import Org, add_contacts, create_campaign, create_template

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class MailSink:
    """What the SMTP server received, and how it answers recipients (default: 250)."""

    port: int
    messages: list[EmailMessage] = field(default_factory=list)
    refusals: dict[str, str] = field(default_factory=dict)  # address -> "550 ..." or "451 ..."
    rcpt_attempts: list[str] = field(default_factory=list)
    delay: float = 0.0

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        self.rcpt_attempts.append(address)
        if address in self.refusals:
            return self.refusals[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        parsed = message_from_bytes(envelope.original_content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        return f"250 queued as q{len(self.messages)}"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"].addresses[0].addr_spec == address]


@pytest.fixture
def mail_sink() -> Iterator[MailSink]:
    sink = MailSink(port=free_port())
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    yield sink
    controller.stop()


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


@dataclass
class Engine:
    """Runs the planner and the send loop in the test, as the scheduler would."""

    settings: Settings
    urls: DatabaseUrls

    async def _with_sessionmaker(self, job: Callable[..., Coroutine[Any, Any, T]], *args: Any) -> T:
        engine = create_engine(self.urls.app, pool_size=2)
        try:
            return await job(create_sessionmaker(engine), *args)
        finally:
            await engine.dispose()

    def context(self) -> SendingContext:
        return SendingContext(
            settings=self.settings,
            dsn=libpq_url(self.urls.app),
            signer=TrackingSigner(self.settings.tracking_secrets),
            secrets=sender_secrets(tuple(self.settings.sender_secret_keys)),
        )

    def plan(self, org: Org) -> int:
        """One planning run over the organization; answers how many contacts it started."""
        return run(self._with_sessionmaker(plan_org, self.settings, org.id)).started

    def send(self, org: Org) -> int:
        """One pass of the send loop over the organization, as the worker makes it."""
        return run(self._with_sessionmaker(send_org, self.context(), org.id))


@pytest.fixture
def engine(settings: Settings, database_urls: DatabaseUrls) -> Engine:
    return Engine(settings, database_urls)


def create_sender(client: TestClient, org: Org, port: int, **fields: Any) -> dict[str, Any]:
    body = {
        "from_email": "recruiting@example.com",
        "from_name": "Ada Recruiter",
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "smtp_tls": "none",
        "min_spacing_seconds": 0,
        "hourly_limit": 1000,
        **fields,
    }
    answer = client.post("/api/v1/senders", json=body, headers=org.headers())
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


TEMPLATE_HTML = (
    "<html><body><p>Hi {{first_name}},</p>"
    '<p>See <a href="https://jobs.example.com/role?id=7">the role</a>.</p></body></html>'
)


def ready_campaign(
    client: TestClient,
    org: Org,
    as_owner: psycopg.Connection,
    sender: dict[str, Any],
    contacts: int = 3,
    *,
    template: dict[str, Any] | None = None,
    window: tuple[list[int], str, str] = ([1, 2, 3, 4, 5, 6, 7], "00:00", "23:59:59"),
    activate: bool = True,
    **fields: Any,
) -> dict[str, Any]:
    """An autopilot email campaign with `contacts` people, sending through `sender` at any
    hour (the default window is weekdays 9-17, which would make tests depend on the clock)."""
    template = template or create_template(
        client, org, subject="Hello {{first_name}}", body_html=TEMPLATE_HTML, body_text=None
    )
    campaign = create_campaign(
        client, org, template_id=template["id"], **{"permission_mode": "autopilot", **fields}
    )
    if contacts:
        add_contacts(client, org, campaign["id"], contacts)
    days, start, end = window
    as_owner.execute(
        "UPDATE campaigns SET sender_id = %s, send_days = %s, send_start = %s, send_end = %s "
        "WHERE id = %s",
        (sender["id"], days, start, end, campaign["id"]),
    )
    if activate:
        answer = client.post(f"/api/v1/campaigns/{campaign['id']}/activate", headers=org.headers())
        assert answer.status_code == 200, answer.text
    return campaign


def outbox_rows(as_owner: psycopg.Connection, campaign_id: str) -> list[dict[str, Any]]:
    with as_owner.cursor(row_factory=psycopg.rows.dict_row) as cursor:
        cursor.execute(
            "SELECT o.*, c.email FROM outbox_messages o "
            "JOIN campaign_contacts cc ON cc.id = o.campaign_contact_id "
            "JOIN contacts c ON c.id = cc.contact_id WHERE o.campaign_id = %s ORDER BY c.email",
            (campaign_id,),
        )
        return cursor.fetchall()


def contact_rows(as_owner: psycopg.Connection, campaign_id: str) -> list[dict[str, Any]]:
    with as_owner.cursor(row_factory=psycopg.rows.dict_row) as cursor:
        cursor.execute(
            "SELECT cc.*, c.email FROM campaign_contacts cc "
            "JOIN contacts c ON c.id = cc.contact_id WHERE cc.campaign_id = %s ORDER BY c.email",
            (campaign_id,),
        )
        return cursor.fetchall()
