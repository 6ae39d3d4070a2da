"""Small builders for tests: resources created through the API, as a client would."""

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
import psycopg
from fastapi.testclient import TestClient
from psycopg import sql
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from outreach.auth.tokens import Role, mint_token
from outreach.config import Settings
from outreach.db import DatabaseUrls, create_engine, create_sessionmaker
from outreach.events.service import NewEvent, record_events


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
            async with sessionmaker() as session:
                session.info["org_id"] = org_id
                async with session.begin():
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
