"""A database outage under a running service: the API answers 503 DATABASE_UNAVAILABLE with
Retry-After (never 500), the pixel and clicks still answer and every open and click taken is
recorded once the database is back, a one-click unsubscribe is recorded or refused with 503,
the mail catcher stores mail again, and the log says it once, not once per request.

The database is a private PostgreSQL server of this module (the session's is shared by every
test and must never stop); the service is the real app under uvicorn, in its own process.
"""

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiosmtplib
import httpx
import psycopg
import pytest
from sqlalchemy import make_url

from outreach.config import Settings
from outreach.db import DatabaseUrls
from outreach.embedded import MailCatcher, create_database_if_missing
from outreach.kit.dburls import libpq_url
from outreach.schema import upgrade
from outreach.tracking.router import PIXEL
from outreach.tracking.tokens import TokenKind, TrackingSigner, TrackingToken
from tests.factories import Org, add_contacts, create_campaign, eventually, free_port, message
from tests.postgres import PrivatePostgres

JWT_SECRET = "outage-test-jwt-secret-0123456789abcdef"
TRACKING_SECRET = "outage-test-tracking-secret-0123456789abcdef"
CHROME = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)
LINK = "https://jobs.example.com/rust"


@dataclass
class Database:
    server: PrivatePostgres
    urls: DatabaseUrls
    socket_dir: str


@pytest.fixture(scope="module")
def database() -> Iterator[Database]:
    server = PrivatePostgres()
    try:
        admin = libpq_url(server.url())
        create_database_if_missing(admin, "outreach")
        owner = make_url(admin).set(database="outreach")
        urls = DatabaseUrls(
            app=owner.set(username="outreach_app").render_as_string(hide_password=False),
            owner=owner.render_as_string(hide_password=False),
        )
        upgrade(urls)
        yield Database(server, urls, str(owner.query["host"]))
    finally:
        server.close()


@pytest.fixture(autouse=True)
def running_again(database: Database) -> Iterator[None]:
    """Whatever a test did, the next one starts with the server up."""
    yield
    database.server.start()


class Service:
    """The app under uvicorn in a process of its own, its log in a file."""

    def __init__(self, database: Database, data_dir: Path, memory_limit: int) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = data_dir / f"service-{self.port}.log"
        env = os.environ | {
            "DATABASE_URL": database.urls.app,
            "DATABASE_OWNER_URL": database.urls.owner,
            "OUTREACH_ENV": "test",
            "OUTREACH_DATA_DIR": str(data_dir),
            "OUTREACH_JWT_SECRET": JWT_SECRET,
            "OUTREACH_TRACKING_SECRETS": f'["{TRACKING_SECRET}"]',
            "OUTREACH_TRACKING_BUFFER_EVENTS": str(memory_limit),
            "OUTREACH_SMTP_URL": "smtp://127.0.0.1:9",  # no mail is sent here
        }
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            "outreach.main:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--log-level",
            "info",
        ]
        with self.log_path.open("w") as log:
            self.process = subprocess.Popen(command, env=env, stdout=log, stderr=log)  # noqa: S603
        self.http = httpx.Client(base_url=self.base_url, timeout=20)
        self.statuses: list[int] = []
        deadline = time.monotonic() + 60
        while not self._ready():
            assert self.process.poll() is None, self.log()
            assert time.monotonic() < deadline, self.log()
            time.sleep(0.2)

    def _ready(self) -> bool:
        try:
            return self.http.get("/readyz").status_code == 200
        except httpx.TransportError:
            return False

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        answer = self.http.request(method, path, **kwargs)
        self.statuses.append(answer.status_code)
        return answer

    def stop(self) -> None:
        self.http.close()
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=30)

    def log(self) -> str:
        return self.log_path.read_text()


def sign(org: Org, campaign_id: str, member: str, kind: TokenKind, url: str | None = None) -> str:
    return TrackingSigner([TRACKING_SECRET]).sign(
        TrackingToken(kind, org.id, uuid.UUID(campaign_id), uuid.UUID(member), url=url)
    )


def events(database: Database, members: list[str]) -> list[tuple[str, str]]:
    with psycopg.connect(libpq_url(database.urls.owner)) as conn:
        rows = conn.execute(
            "SELECT event_type, provider_event_id FROM engagement_events "
            "WHERE campaign_contact_id = ANY(%s::uuid[])",
            (members,),
        ).fetchall()
    return [(kind, event_id) for kind, event_id in rows]


def hits(service: Service, org: Org, campaign_id: str, members: list[str], rounds: int) -> int:
    """Opens and clicks of every member, `rounds` times; each answered as if nothing were
    wrong. Answers how many were taken."""
    for _ in range(rounds):
        for member in members:
            pixel = service.request(
                "GET",
                f"/t/o/{sign(org, campaign_id, member, TokenKind.OPEN)}.gif",
                headers={"User-Agent": CHROME},
            )
            assert (pixel.status_code, pixel.content) == (200, PIXEL)
            click = service.request(
                "GET",
                f"/t/c/{sign(org, campaign_id, member, TokenKind.CLICK, LINK)}",
                headers={"User-Agent": CHROME},
            )
            assert (click.status_code, click.headers["location"]) == (302, LINK)
    return 2 * rounds * len(members)


def test_an_outage_is_a_503_and_loses_no_open_or_click(database: Database, tmp_path: Path) -> None:
    org = Org(Settings(jwt_secret=JWT_SECRET, _env_file=None))  # type: ignore[call-arg]
    service = Service(database, tmp_path, memory_limit=5)  # most of the outage's hits spill
    try:
        campaign = create_campaign(service.http, org)  # type: ignore[arg-type]
        added = add_contacts(service.http, org, campaign["id"], 4)  # type: ignore[arg-type]
        members = [row["campaign_contact_id"] for row in added["results"]]
        unsubscribe = f"/t/u/{sign(org, campaign['id'], members[0], TokenKind.UNSUBSCRIBE)}"
        taken = hits(service, org, campaign["id"], members, 1)

        database.server.stop()
        newcomer = Org(org.settings)
        for path, headers in (
            ("/api/v1/campaigns", org.headers()),
            (f"/api/v1/campaigns/{campaign['id']}", org.headers()),
            ("/api/v1/campaigns", newcomer.headers()),  # just-in-time creation of its org
        ):
            answer = service.request("GET", path, headers=headers)
            assert answer.status_code == 503, answer.text
            assert answer.headers["content-type"] == "application/problem+json"
            assert answer.json()["code"] == "DATABASE_UNAVAILABLE"
            assert int(answer.headers["retry-after"]) > 0
        created = service.request(
            "POST", "/api/v1/campaigns", json={"name": "Rust", "channel": "email"},
            headers=org.headers(),
        )  # fmt: skip
        assert (created.status_code, created.json()["code"]) == (503, "DATABASE_UNAVAILABLE")
        ready = service.request("GET", "/readyz")
        assert ready.status_code == 503
        assert database.socket_dir not in ready.text
        assert ".s.PGSQL" not in ready.text
        taken += hits(service, org, campaign["id"], members, 5)
        refused = service.request("POST", unsubscribe, data={"List-Unsubscribe": "One-Click"})
        assert refused.status_code in (200, 503)
        if refused.status_code == 503:
            assert int(refused.headers["retry-after"]) > 0
        asks = service.request("GET", unsubscribe)  # the page still asks, naming nobody
        assert (asks.status_code, f'action="{unsubscribe}"' in asks.text) == (200, True)
        time.sleep(1.5)  # the writer tries the database, and fails, at least once

        database.server.start()
        assert service.request("GET", "/api/v1/campaigns", headers=org.headers()).status_code == 200
        # A restart between two requests: the pool's connections, closed by the old server,
        # are replaced before use, so the next request is answered.
        database.server.stop()
        database.server.start()
        again = service.request("GET", "/api/v1/campaigns", headers=org.headers())
        assert again.status_code == 200, again.text
        taken += hits(service, org, campaign["id"], members, 1)
        assert eventually(lambda: len(events(database, members)) >= taken, 30)
        time.sleep(0.5)  # nothing more arrives
        recorded = events(database, members)
        assert len(recorded) == len({event_id for _, event_id in recorded}) == taken
        assert sorted({kind for kind, _ in recorded}) == ["clicked", "opened"]

        for _ in range(2):
            done = service.request("POST", unsubscribe, data={"List-Unsubscribe": "One-Click"})
            assert done.status_code == 200
        kinds = [kind for kind, _ in events(database, members)]
        assert kinds.count("unsubscribed") == 1
    finally:
        service.stop()
    assert 500 not in service.statuses
    log = service.log()
    assert "Traceback" not in log
    # One line each way per outage (the restart is a second one when a job saw it), not one
    # per request.
    outages = log.count("database unreachable:")
    assert 1 <= outages == log.count("database reachable again after") <= 2, log


def test_events_held_when_the_service_stops_during_an_outage_are_recorded_at_its_next_start(
    database: Database, tmp_path: Path
) -> None:
    org = Org(Settings(jwt_secret=JWT_SECRET, _env_file=None))  # type: ignore[call-arg]
    first = Service(database, tmp_path, memory_limit=1000)  # all of them in memory
    try:
        campaign = create_campaign(first.http, org)  # type: ignore[arg-type]
        added = add_contacts(first.http, org, campaign["id"], 3)  # type: ignore[arg-type]
        members = [row["campaign_contact_id"] for row in added["results"]]
        database.server.stop()
        taken = hits(first, org, campaign["id"], members, 3)
    finally:
        first.stop()  # the writer spools what the database could not take
    assert list((tmp_path / "tracking-spool").glob("*.jsonl"))
    database.server.start()
    second = Service(database, tmp_path, memory_limit=1000)
    try:
        assert eventually(lambda: len(events(database, members)) >= taken, 30)
        recorded = events(database, members)
        assert len(recorded) == len({event_id for _, event_id in recorded}) == taken
        assert eventually(lambda: not list((tmp_path / "tracking-spool").glob("*.jsonl")), 30)
    finally:
        second.stop()
    assert 500 not in first.statuses + second.statuses


def test_the_mail_catcher_stores_mail_again_once_the_database_is_back(
    database: Database,
) -> None:
    org = Org(Settings(jwt_secret=JWT_SECRET, _env_file=None))  # type: ignore[call-arg]
    with psycopg.connect(libpq_url(database.urls.owner), autocommit=True) as conn:
        conn.execute("INSERT INTO tenant_directory (id) VALUES (%s)", (org.id,))
        conn.execute("INSERT INTO organizations (id, name) VALUES (%s, 'Acme')", (org.id,))
    catcher = MailCatcher(database.urls.app, port=0)
    catcher.start()

    def send() -> None:
        mail = message(str(org.id), catcher.instance)
        asyncio.run(aiosmtplib.send(mail, hostname=catcher.host, port=catcher.port))

    try:
        send()
        # A restart between two messages: the next one is stored, on its first try.
        database.server.stop()
        database.server.start()
        send()
        database.server.stop()
        with pytest.raises(aiosmtplib.SMTPDataError) as refused:
            send()
        assert refused.value.code == 451  # the sender tries again later
        database.server.start()
        send()
    finally:
        catcher.stop()
    with psycopg.connect(libpq_url(database.urls.owner)) as conn:
        stored = conn.execute("SELECT count(*) FROM caught_messages WHERE org_id = %s", (org.id,))
        assert stored.fetchone() == (3,)
