"""Builders shared by the tests: resources created through the API, as a client would; real
servers on loopback (an SMTP sink); the planner and send loop run as the scheduler would."""

import asyncio
import itertools
import socket
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any, TypeVar

import httpx
import psycopg
from fastapi.testclient import TestClient
from psycopg import sql
from psycopg.types.json import Jsonb
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from outreach.auth.tokens import Role, mint_token
from outreach.config import Settings
from outreach.db import DatabaseUrls, create_engine, create_sessionmaker
from outreach.embedded import INSTANCE_HEADER, ORG_HEADER
from outreach.events.service import NewEvent, record_events
from outreach.events.state import EventType
from outreach.kit.dburls import libpq_url
from outreach.kit.tenancy import org_session
from outreach.models import Campaign
from outreach.sending.delivery.worker import SendingContext, send_org
from outreach.sending.planner.service import plan_org
from outreach.workflows.engine.clock import MovableClock
from outreach.workflows.engine.service import EngineContext, run_org
from outreach.workflows.enrollments.service import enroll
from outreach.workflows.graph.default import default_canvas
from outreach.workflows.versions import repository as versions_repository
from outreach.workflows.versions import service as versions_service


def production_settings(settings: Settings, **changes: Any) -> Settings:
    """The test settings as production runs them: env production, with the secrets production
    requires set to real (non-default) values; `changes` on top."""
    values: dict[str, Any] = {
        "env": "production",
        "database_url": settings.database_url,
        "run_jobs": False,
        "jwt_secret": "production-jwt-secret-for-tests-0123456789abcdef",
        "tracking_secrets": ["production-tracking-secret-for-tests-0123456789"],
        "sender_secret_keys": ["cHJvZHVjdGlvbi1zZW5kZXIta2V5LWZvci10ZXN0cyE="],
        "public_url": "https://outreach.example.com",
        "_env_file": None,
    }
    return Settings(**values | changes)


@dataclass
class Org:
    """A fresh organization of the test, with a helper to act as one of its users."""

    settings: Settings
    id: uuid.UUID = field(default_factory=uuid.uuid4)
    users: dict[Role, uuid.UUID] = field(default_factory=dict)

    def user(self, role: Role = Role.ADMIN) -> uuid.UUID:
        return self.users.setdefault(role, uuid.uuid4())

    def headers(self, role: Role = Role.ADMIN, user_id: uuid.UUID | None = None) -> dict[str, str]:
        token = mint_token(
            self.settings, org_id=self.id, user_id=user_id or self.user(role), role=role
        )
        return {"Authorization": f"Bearer {token}"}


T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # a fixed moment for events of the tests


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def eventually(check: Callable[[], bool], seconds: float = 3.0) -> bool:
    """Work done in the background (the event writer records in batches): give it a moment."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return check()


def someone_waits_for_a_lock(as_owner: psycopg.Connection, mentioning: str) -> bool:
    """Whether a statement mentioning `mentioning` waits for a lock (a test holds it)."""
    waiting = as_owner.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE %s",
        (f"%{mentioning}%",),
    ).fetchone()
    return waiting is not None and waiting[0] > 0


def message(org_header: str | None, instance: str | None) -> EmailMessage:
    """A mail for the local catcher, naming the org and the catcher's instance (or not)."""
    mail = EmailMessage()
    mail["From"] = "recruiting@example.com"
    mail["To"] = "ada@example.com"
    mail["Subject"] = "Hello Ada"
    if org_header is not None:
        mail[ORG_HEADER] = org_header
    if instance is not None:
        mail[INSTANCE_HEADER] = instance
    mail.set_content("Hi Ada")
    return mail


def ok(answer: httpx.Response, status: int = 200) -> Any:
    """The JSON of an answer that must have the status."""
    assert answer.status_code == status, answer.text
    return answer.json()


def listed(client: TestClient, org: Org, path: str, role: Role = Role.VIEWER, **params: Any) -> Any:
    """One page of a list endpoint, as a user of the role reads it."""
    return ok(client.get(path, params=params, headers=org.headers(role)))


def listed_items(
    client: TestClient, org: Org, path: str, role: Role = Role.VIEWER, **params: Any
) -> Any:
    """The items of one page of a list endpoint."""
    return listed(client, org, path, role, **params)["items"]


def post(
    client: TestClient, org: Org, path: str, body: dict[str, Any], role: Role = Role.ADMIN
) -> httpx.Response:
    return client.post(path, json=body, headers=org.headers(role))


def patch(
    client: TestClient, org: Org, path: str, body: Any, role: Role = Role.ADMIN
) -> httpx.Response:
    return client.patch(path, json=body, headers=org.headers(role))


def known(client: TestClient, org: Org) -> Org:
    """The org exists in the database once it made a request."""
    assert client.get("/api/v1/campaigns", headers=org.headers()).status_code == 200
    return org


def create_api_key(
    client: TestClient, org: Org, role: Role = Role.ADMIN, **fields: Any
) -> dict[str, Any]:
    """An API key of the organization (with its secret `key`), made by one of its admins."""
    body = {"name": f"{role.value} integration", "role": role.value} | fields
    return dict(ok(post(client, org, "/api/v1/api-keys", body), 201))


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def add_sender(client: TestClient, org: Org, **fields: Any) -> dict[str, Any]:
    """A sender of the organization, at an SMTP host no test connects to."""
    body = {"from_email": "talent@example.com", "smtp_host": "smtp.example.com"} | fields
    return dict(ok(post(client, org, "/api/v1/senders", body), 201))


def act(client: TestClient, org: Org, campaign_id: str, action: str, **body: Any) -> httpx.Response:
    """A campaign action (activate, pause, ...) with its body, if any."""
    return client.post(
        f"/api/v1/campaigns/{campaign_id}/{action}", json=body or None, headers=org.headers()
    )


def create_campaign(
    client: TestClient, org: Org, role: Role = Role.ADMIN, **fields: Any
) -> dict[str, Any]:
    body = {"name": "Java developers Paris", "channel": "email", **fields}
    answer = client.post("/api/v1/campaigns", json=body, headers=org.headers(role))
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def create_template(client: TestClient, org: Org, **fields: Any) -> dict[str, Any]:
    body = {
        "name": "First touch",
        "channel": "email",
        "subject": "Hello {{first_name}}",
        "body_text": "Hi {{first_name}}, are you open to a new role?",
        **fields,
    }
    answer = client.post("/api/v1/templates", json=body, headers=org.headers())
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def create_ab_campaign(
    client: TestClient, org: Org, split: int = 50, **fields: Any
) -> dict[str, Any]:
    """A draft A/B test campaign with two email templates, `split` % to variant A."""
    a = create_template(client, org, name="Variant A")
    b = create_template(client, org, name="Variant B")
    return create_campaign(
        client,
        org,
        is_ab_test=True,
        variant_a_template_id=a["id"],
        variant_b_template_id=b["id"],
        ab_split_percentage=split,
        **fields,
    )


def post_contacts(
    client: TestClient,
    org: Org,
    campaign_id: str,
    rows: list[Any],
    role: Role = Role.ADMIN,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    return client.post(
        f"/api/v1/campaigns/{campaign_id}/contacts",
        json={"contacts": rows},
        headers={**org.headers(role), **(headers or {})},
    )


def autopilot_campaign_all_week(
    client: TestClient, org: Org, as_owner: psycopg.Connection, contacts: int, **template: Any
) -> dict[str, Any]:
    """An autopilot email campaign of `contacts` people whose window is open all week: it sends
    once activated."""
    template_id = create_template(client, org, **template)["id"]
    campaign = create_campaign(client, org, template_id=template_id, permission_mode="autopilot")
    add_contacts(client, org, campaign["id"], contacts)
    as_owner.execute(
        "UPDATE campaigns SET send_days = '{1,2,3,4,5,6,7}', send_start = '00:00', "
        "send_end = '23:59:59' WHERE id = %s",
        (campaign["id"],),
    )
    return campaign


def add_contacts(
    client: TestClient, org: Org, campaign_id: str, count: int, start: int = 0
) -> dict[str, Any]:
    rows = [
        {"email": f"person{i}@example.com", "first_name": f"Person{i}"}
        for i in range(start, start + count)
    ]
    answer = post_contacts(client, org, campaign_id, rows)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def record_concurrently(
    urls: DatabaseUrls, org_id: uuid.UUID, events: list[NewEvent], writers: int
) -> None:
    """Record `events` in batches of 25 from `writers` concurrent transactions."""
    engine = create_engine(urls.app, pool_size=writers)
    sessionmaker = create_sessionmaker(engine)

    async def writer(batches: list[list[NewEvent]]) -> None:
        for batch in batches:
            async with org_session(sessionmaker, org_id) as session, session.begin():
                await record_events(session, org_id, batch)

    batches = [events[i : i + 25] for i in range(0, len(events), 25)]
    await asyncio.gather(*(writer(batches[w::writers]) for w in range(writers)))
    await engine.dispose()


@dataclass
class RunningCampaign:
    """An active campaign owned by a recruiter, with its campaign contacts' ids."""

    id: str
    owner_id: uuid.UUID
    members: list[str]


def start_campaign(
    client: TestClient, org: Org, contacts: list[dict[str, Any]], **fields: Any
) -> RunningCampaign:
    """A recruiter's campaign with these contacts, activated."""
    campaign = create_campaign(client, org, Role.RECRUITER, **fields)
    answer = post_contacts(client, org, campaign["id"], contacts)
    assert answer.status_code == 200, answer.text
    members = [row["campaign_contact_id"] for row in answer.json()["results"]]
    activated = client.post(f"/api/v1/campaigns/{campaign['id']}/activate", headers=org.headers())
    assert activated.status_code == 200, activated.text
    return RunningCampaign(campaign["id"], org.user(Role.RECRUITER), members)


def insert_row(conn: psycopg.Connection, table: str, org: Org, **values: Any) -> str:
    """A row written straight into `table` (as the planner would), for tests of what reads
    and acts on it; `conn` is the owner's connection, so row-level security does not apply."""
    columns = ["org_id", *values]
    query = sql.SQL("INSERT INTO {} ({}) VALUES ({}) RETURNING id::text").format(
        sql.Identifier(table),
        sql.SQL(", ").join(map(sql.Identifier, columns)),
        sql.SQL(", ").join(sql.Placeholder() * len(columns)),
    )
    row = conn.execute(query, [org.id, *values.values()]).fetchone()
    assert row is not None
    return str(row[0])


T = TypeVar("T")


def run_job(
    urls: DatabaseUrls, job: Callable[[async_sessionmaker[AsyncSession]], Awaitable[T]]
) -> T:
    """Run a background job once, as the application role, with a sessionmaker of its own."""

    async def main() -> T:
        engine = create_engine(urls.app, pool_size=4)
        try:
            return await job(create_sessionmaker(engine))
        finally:
            await engine.dispose()

    return asyncio.run(main())


def in_org(urls: DatabaseUrls, org: Org, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """`work` in one transaction of the organization, as the application role."""

    async def job(sessionmaker: async_sessionmaker[AsyncSession]) -> T:
        async with org_session(sessionmaker, org.id) as session, session.begin():
            return await work(session)

    return run_job(urls, job)


def publish_canvas(urls: DatabaseUrls, org: Org, campaign_id: str, canvas: dict[str, Any]) -> int:
    """The campaign's draft set to `canvas` and published (versions' own service); answers the
    version's number."""

    async def work(session: AsyncSession) -> int:
        campaign = await session.scalar(select(Campaign).where(Campaign.id == campaign_id))
        assert campaign is not None
        await versions_repository.create_workflow(session, org.id, campaign.id, canvas, None)
        return await versions_service.publish(session, campaign)

    return in_org(urls, org, work)


def triggered_campaign(
    client: TestClient,
    org: Org,
    urls: DatabaseUrls,
    as_owner: psycopg.Connection,
    trigger: dict[str, Any],
    *,
    contacts: Sequence[dict[str, Any]] = (),
    status: str = "active",
) -> RunningCampaign:
    """A recruiter's campaign with these contacts whose published graph is the default one
    started by `trigger` (a trigger node's config), put in `status` as its transitions would."""
    template = create_template(client, org)
    campaign = create_campaign(client, org, Role.RECRUITER, template_id=template["id"])
    members: list[str] = []
    if contacts:
        answer = ok(post_contacts(client, org, campaign["id"], list(contacts)))
        members = [row["campaign_contact_id"] for row in answer["results"]]
    canvas = default_canvas().model_dump(mode="json")
    canvas["nodes"][0]["data"]["config"] = trigger
    publish_canvas(urls, org, campaign["id"], canvas)
    as_owner.execute("UPDATE campaigns SET status = %s WHERE id = %s", (status, campaign["id"]))
    return RunningCampaign(campaign["id"], org.user(Role.RECRUITER), members)


def enrolled_members(as_owner: psycopg.Connection, campaign_id: str) -> set[str]:
    """The campaign contacts of the campaign that have a workflow state."""
    rows = as_owner.execute(
        "SELECT campaign_contact_id::text FROM campaign_workflow_states WHERE campaign_id = %s",
        (campaign_id,),
    ).fetchall()
    return {row[0] for row in rows}


def enrollment_row(
    conn: psycopg.Connection,
    org: Org,
    campaign_id: str,
    member: str,
    *,
    version: int = 1,
    node: str = "start",
    started_at: datetime = T0,
    variants: dict[str, Any] | None = None,
) -> str:
    """A workflow state written straight into `campaign_workflow_states` (as enrollment would),
    for tests of what reads states; `variants` as the state keeps them."""
    return insert_row(
        conn,
        "campaign_workflow_states",
        org,
        campaign_id=campaign_id,
        campaign_contact_id=member,
        version=version,
        current_node_id=node,
        started_at=started_at,
        variants=Jsonb(variants or {}),
    )


def split_canvas(ab_test: dict[str, Any] | None = None) -> dict[str, Any]:
    """trigger -> split `test` (variants `a` "Short" and `b` "Long", 50/50, with `ab_test`)
    -> one message per variant -> exit."""
    config: dict[str, Any] = {
        "variants": [
            {"id": "a", "name": "Short", "percentage": 50},
            {"id": "b", "name": "Long", "percentage": 50},
        ]
    }
    if ab_test is not None:
        config["ab_test"] = ab_test

    def node(id_: str, type_: str, config: dict[str, Any], label: str = "") -> dict[str, Any]:
        return {"id": id_, "type": type_, "data": {"label": label, "config": config}}

    def edge(source: str, target: str, type_: str = "default") -> dict[str, Any]:
        return {"id": f"{source}-{target}", "source": source, "target": target, "type": type_}

    return {
        "nodes": [
            node("start", "trigger", {"type": "manual"}),
            node("test", "split", config, "Subject test"),
            node("short", "message", {}),
            node("long", "message", {}),
            node("done", "exit", {}),
        ],
        "edges": [
            edge("start", "test"),
            edge("test", "short", "variant-a"),
            edge("test", "long", "variant-b"),
            edge("short", "done"),
            edge("long", "done"),
        ],
    }


def split_contacts(
    client: TestClient,
    org: Org,
    as_owner: psycopg.Connection,
    campaign_id: str,
    counts: dict[str, int],
    at: datetime = T0,
    node: str = "test",
) -> dict[str, list[str]]:
    """`counts[variant]` new campaign contacts per variant, enrolled (version 1) and assigned
    that variant at split `node` at `at`; answers their ids by variant."""
    rows = [{"email": f"split{i}@example.com"} for i in range(sum(counts.values()))]
    answer = post_contacts(client, org, campaign_id, rows)
    assert answer.status_code == 200, answer.text
    ids = iter(row["campaign_contact_id"] for row in answer.json()["results"])
    assigned: dict[str, list[str]] = {}
    for variant, count in counts.items():
        assigned[variant] = [next(ids) for _ in range(count)]
        for member in assigned[variant]:
            enrollment_row(
                as_owner,
                org,
                campaign_id,
                member,
                node=node,
                variants={node: {"variant": variant, "at": at.isoformat()}},
            )
    return assigned


def insert_events(
    as_owner: psycopg.Connection,
    org: Org,
    campaign_id: str,
    members: list[str],
    event_type: str,
    at: datetime = T0,
    *,
    machine: bool = False,
    data: dict[str, Any] | None = None,
) -> None:
    """One `event_type` event at `at` for each of `members`, written straight into
    `engagement_events` (owner's connection: no counters move), for tests of what reads them."""
    as_owner.cursor().executemany(
        "INSERT INTO engagement_events (org_id, campaign_id, campaign_contact_id, event_type, "
        "event_timestamp, is_machine, event_data) VALUES (%s, %s, %s, %s, %s, %s, %s)",
        [
            (org.id, campaign_id, member, event_type, at, machine, Jsonb(data or {}))
            for member in members
        ],
    )


@contextmanager
def failing_writes(conn: psycopg.Connection, table: str, when: str) -> Iterator[None]:
    """Inside the block, every insert or update of a `table` row for which `when` holds (a
    trigger's WHEN condition, on NEW) fails, as a bug or a broken row would make it fail;
    `conn` is the owner's connection."""
    name = f"fail_{uuid.uuid4().hex[:12]}"
    conn.execute(
        sql.SQL(
            "CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'injected failure'; END $$"
        ).format(name=sql.Identifier(name))
    )
    conn.execute(
        sql.SQL(
            "CREATE TRIGGER {name} BEFORE INSERT OR UPDATE ON {table} FOR EACH ROW "
            "WHEN ({when}) EXECUTE FUNCTION {name}()"
        ).format(name=sql.Identifier(name), table=sql.Identifier(table), when=sql.SQL(when))
    )
    try:
        yield
    finally:
        conn.execute(
            sql.SQL("DROP TRIGGER {} ON {}").format(sql.Identifier(name), sql.Identifier(table))
        )
        conn.execute(sql.SQL("DROP FUNCTION {}()").format(sql.Identifier(name)))


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
        return SendingContext.from_settings(self.settings, libpq_url(self.urls.app))

    def plan(self, org: Org) -> int:
        """One planning run over the organization; answers how many contacts it started."""
        return run(self._with_sessionmaker(plan_org, self.settings, org.id)).started

    def send(self, org: Org) -> int:
        """One pass of the send loop over the organization, as the worker makes it."""
        return run(self._with_sessionmaker(send_org, self.context(), org.id))


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


def canvas(
    nodes: list[tuple[str, str, dict[str, Any]]], edges: list[tuple[str, ...]]
) -> dict[str, Any]:
    """A sequence's canvas: nodes as (id, type, config), edges as (source, target) or
    (source, target, type)."""
    return {
        "nodes": [
            {"id": node_id, "type": kind, "data": {"label": node_id, "config": config}}
            for node_id, kind, config in nodes
        ],
        "edges": [
            {"id": f"{edge[0]}-{edge[1]}", "source": edge[0], "target": edge[1]}
            | ({"type": edge[2]} if len(edge) > 2 else {})
            for edge in edges
        ],
    }


def chain(*nodes: tuple[str, str, dict[str, Any]]) -> dict[str, Any]:
    """A straight sequence: each node followed by the next."""
    ids = [node[0] for node in nodes]
    return canvas(list(nodes), list(itertools.pairwise(ids)))


@dataclass
class Walker:
    """The workflow engine run in the test with a clock the test moves."""

    settings: Settings
    urls: DatabaseUrls
    clock: MovableClock = field(default_factory=MovableClock)

    def context(self) -> EngineContext:
        return EngineContext.for_settings(self.settings, self.clock)

    def enroll(self, org: Org, campaign_id: str, members: list[str]) -> list[uuid.UUID]:
        """These campaign contacts enrolled at the clock's time."""

        async def work(session: AsyncSession) -> list[uuid.UUID]:
            campaign = await session.scalar(select(Campaign).where(Campaign.id == campaign_id))
            assert campaign is not None
            ids = [uuid.UUID(m) for m in members]
            return await enroll(session, campaign, ids, self.clock.now())

        return in_org(self.urls, org, work)

    def walk(self, org: Org, batch_size: int = 500) -> int:
        """One engine run over the organization; answers the node executions."""

        async def job(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
            return await run_org(sessionmaker, self.context(), org.id, batch_size=batch_size)

        return run_job(self.urls, job)

    def later(self, org: Org, by: timedelta) -> int:
        """The clock moved on by `by`, then one engine run."""
        self.clock.advance(by)
        return self.walk(org)


def record(urls: DatabaseUrls, org: Org, *events: NewEvent) -> None:
    """Events recorded as the tracking endpoints and inbound parsers record them."""

    async def work(session: AsyncSession) -> None:
        await record_events(session, org.id, list(events))

    in_org(urls, org, work)


def event(member: str, kind: EventType, at: datetime, **fields: Any) -> NewEvent:
    """An event of the campaign contact `member` (its id as the API gives it)."""
    return NewEvent(uuid.UUID(member), kind, at, **fields)


def sequence_campaign(
    client: TestClient,
    org: Org,
    as_owner: psycopg.Connection,
    urls: DatabaseUrls,
    sink: MailSink,
    graph: dict[str, Any],
    contacts: int = 2,
) -> tuple[str, list[str]]:
    """An active campaign sending through the sink, whose published sequence is `graph`."""
    sender = create_sender(client, org, sink.port)
    campaign = ready_campaign(client, org, as_owner, sender, contacts=contacts, activate=False)
    publish_canvas(urls, org, campaign["id"], graph)
    ok(act(client, org, campaign["id"], "activate"))
    return campaign["id"], [str(row["id"]) for row in contact_rows(as_owner, campaign["id"])]


def states(as_owner: psycopg.Connection, campaign_id: str) -> list[dict[str, Any]]:
    """The campaign's workflow states."""
    with as_owner.cursor(row_factory=psycopg.rows.dict_row) as cursor:
        cursor.execute(
            "SELECT * FROM campaign_workflow_states WHERE campaign_id = %s ORDER BY id",
            (campaign_id,),
        )
        return cursor.fetchall()


def workflow_events(as_owner: psycopg.Connection, campaign_id: str) -> Counter[str]:
    """How many workflow events of each type the campaign's walks logged."""
    rows = as_owner.execute(
        "SELECT event_type FROM engagement_events WHERE campaign_id = %s "
        "AND enrollment_id IS NOT NULL",
        (campaign_id,),
    ).fetchall()
    return Counter(row[0] for row in rows)


def drip_canvas(template_id: str, follow_up_id: str | None = None) -> dict[str, Any]:
    """A canvas of two emails two days apart: start → intro → wait → follow → done (the
    trigger and exit as the default graph has them)."""

    def step(node_id: str, type_: str, y: int, **config: Any) -> dict[str, Any]:
        return {
            "id": node_id,
            "type": type_,
            "position": {"x": 0, "y": y},
            "data": {"label": node_id, "config": config},
        }

    nodes = [
        step("start", "trigger", 0, type="manual"),
        step("intro", "email", 120, template_id=template_id),
        step("wait", "wait", 240, type="duration", value=2, unit="days"),
        step("follow", "email", 360, template_id=follow_up_id or template_id),
        step("done", "exit", 480),
    ]
    ids = [node["id"] for node in nodes]
    edges = [{"id": f"{a}-{b}", "source": a, "target": b} for a, b in itertools.pairwise(ids)]
    return {"nodes": nodes, "edges": edges}


def put_workflow(
    client: TestClient, org: Org, campaign_id: str, canvas: dict[str, Any], role: Role = Role.ADMIN
) -> httpx.Response:
    return client.put(
        f"/api/v1/campaigns/{campaign_id}/workflow", json=canvas, headers=org.headers(role)
    )
