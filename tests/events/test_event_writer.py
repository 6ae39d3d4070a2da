"""The batching writer records every event it was handed, per organization, before it stops;
while the database is unreachable the events wait in memory and, past its bound, in the spool,
which the next writer to start replays, each event once."""

import asyncio
import uuid
from pathlib import Path

import psycopg
from fastapi.testclient import TestClient
from sqlalchemy import make_url

from outreach.db import DatabaseUrls, create_engine, create_sessionmaker
from outreach.events.service import NewEvent
from outreach.events.spool import Spool
from outreach.events.state import EventType
from outreach.events.writer import EventWriter
from tests.factories import T0, Org, add_contacts, create_campaign


def members(client: TestClient, org: Org, count: int) -> tuple[str, list[uuid.UUID]]:
    campaign = create_campaign(client, org)
    added = add_contacts(client, org, campaign["id"], count)
    return campaign["id"], [uuid.UUID(r["campaign_contact_id"]) for r in added["results"]]


async def write(
    url: str,
    submissions: list[tuple[uuid.UUID, NewEvent]],
    spool: Path,
    memory_limit: int = 20_000,
) -> EventWriter:
    engine = create_engine(url, pool_size=2)
    writer = EventWriter(
        create_sessionmaker(engine),
        spool,
        memory_limit=memory_limit,
        gather_seconds=0.001,
        max_batch=64,
    )
    writer.start()
    for n, (org_id, event) in enumerate(submissions):
        writer.submit(org_id, event)
        if n % 100 == 0:
            await asyncio.sleep(0)  # let the writer run between bursts
    await asyncio.sleep(0.2)  # an unreachable database is tried at least once
    await writer.stop()
    await engine.dispose()
    return writer


def unreachable(urls: DatabaseUrls, tmp_path: Path) -> str:
    """The application's database behind a socket folder where no server listens."""
    return make_url(urls.app).set(query={"host": str(tmp_path)}).render_as_string(False)


def hit(org: Org, member: uuid.UUID) -> tuple[uuid.UUID, NewEvent]:
    """An open as the pixel hands it over: with an id of its own."""
    return org.id, NewEvent(
        member, EventType.OPENED, T0, provider="tracking", provider_event_id=uuid.uuid4().hex
    )


def recorded(as_owner: psycopg.Connection, members: list[uuid.UUID]) -> list[str]:
    rows = as_owner.execute(
        "SELECT provider_event_id FROM engagement_events WHERE campaign_contact_id = ANY(%s)",
        (members,),
    ).fetchall()
    return sorted(row[0] for row in rows)


def test_every_submitted_event_is_recorded_in_its_organization(
    client: TestClient,
    org: Org,
    other_org: Org,
    database_urls: DatabaseUrls,
    as_owner: psycopg.Connection,
    tmp_path: Path,
) -> None:
    mine, my_members = members(client, org, 10)
    theirs, their_members = members(client, other_org, 10)
    submissions = [
        (owner.id, NewEvent(people[n % 10], EventType.OPENED, T0))
        for n in range(600)
        for owner, people in ((org, my_members), (other_org, their_members))
    ]
    writer = asyncio.run(write(database_urls.app, submissions, tmp_path))
    assert (writer.recorded, writer.spilled) == (1200, 0)
    for campaign_id in (mine, theirs):
        row = as_owner.execute(
            "SELECT opens_total, opens_unique FROM campaigns WHERE id = %s", (campaign_id,)
        ).fetchone()
        assert row == (600, 10)


def test_an_event_for_another_organizations_contact_is_not_recorded(
    client: TestClient,
    org: Org,
    other_org: Org,
    database_urls: DatabaseUrls,
    as_owner: psycopg.Connection,
    tmp_path: Path,
) -> None:
    _, their_members = members(client, other_org, 1)
    event = NewEvent(their_members[0], EventType.OPENED, T0)
    asyncio.run(write(database_urls.app, [(org.id, event)], tmp_path))
    row = as_owner.execute(
        "SELECT count(*) FROM engagement_events WHERE campaign_contact_id = %s",
        (their_members[0],),
    ).fetchone()
    assert row == (0,)


def test_events_past_the_memory_bound_wait_in_the_spool_and_the_next_start_records_them(
    client: TestClient,
    org: Org,
    database_urls: DatabaseUrls,
    as_owner: psycopg.Connection,
    tmp_path: Path,
) -> None:
    _, people = members(client, org, 5)
    hits = [hit(org, people[n % 5]) for n in range(40)]
    spool = tmp_path / "spool"
    down = asyncio.run(write(unreachable(database_urls, tmp_path), hits, spool, memory_limit=3))
    # 37 spilled past the bound as they came, the 3 held in memory when it stopped
    assert (down.recorded, down.spilled) == (0, 40)
    lines = [line for path in spool.glob("*.jsonl") for line in path.read_text().splitlines()]
    assert len(lines) == 40
    assert recorded(as_owner, people) == []

    up = asyncio.run(write(database_urls.app, [], spool))
    assert up.recorded == 40
    assert recorded(as_owner, people) == sorted(e.provider_event_id or "" for _, e in hits)
    assert list(spool.iterdir()) == []


def test_a_spool_replayed_again_records_each_event_once(
    client: TestClient,
    org: Org,
    database_urls: DatabaseUrls,
    as_owner: psycopg.Connection,
    tmp_path: Path,
) -> None:
    """A process that dies while replaying its spool leaves it whole: written again, the events
    recorded the first time are recorded once."""
    campaign_id, people = members(client, org, 3)
    hits = [hit(org, people[n % 3]) for n in range(30)]
    asyncio.run(write(database_urls.app, hits[:20], tmp_path / "first"))
    dead = Spool(tmp_path / "spool")
    dead.append(hits)
    dead.close()  # its process is gone: the file is an orphan

    asyncio.run(write(database_urls.app, [], tmp_path / "spool"))
    assert recorded(as_owner, people) == sorted(e.provider_event_id or "" for _, e in hits)
    opens = as_owner.execute("SELECT opens_total FROM campaigns WHERE id = %s", (campaign_id,))
    assert opens.fetchone() == (30,)


def test_a_spool_file_its_process_still_holds_is_not_replayed(
    client: TestClient,
    org: Org,
    database_urls: DatabaseUrls,
    as_owner: psycopg.Connection,
    tmp_path: Path,
) -> None:
    _, people = members(client, org, 1)
    held = Spool(tmp_path)
    held.append([hit(org, people[0])])

    asyncio.run(write(database_urls.app, [], tmp_path))
    assert recorded(as_owner, people) == []
    held.close()
    asyncio.run(write(database_urls.app, [], tmp_path))
    assert len(recorded(as_owner, people)) == 1
