"""The batching writer records every event it was handed, per organization, before it stops."""

import asyncio
import uuid

import psycopg
from fastapi.testclient import TestClient

from outreach.db import DatabaseUrls, create_engine, create_sessionmaker
from outreach.events.service import NewEvent
from outreach.events.state import EventType
from outreach.events.writer import EventWriter
from tests.events.test_counters_under_load import T0
from tests.factories import Org, add_contacts, create_campaign


def members(client: TestClient, org: Org, count: int) -> tuple[str, list[uuid.UUID]]:
    campaign = create_campaign(client, org)
    added = add_contacts(client, org, campaign["id"], count)
    return campaign["id"], [uuid.UUID(r["campaign_contact_id"]) for r in added["results"]]


async def write(urls: DatabaseUrls, submissions: list[tuple[uuid.UUID, NewEvent]]) -> int:
    engine = create_engine(urls.app, pool_size=2)
    writer = EventWriter(create_sessionmaker(engine), gather_seconds=0.001, max_batch=64)
    writer.start()
    for n, (org_id, event) in enumerate(submissions):
        writer.submit(org_id, event)
        if n % 100 == 0:
            await asyncio.sleep(0)  # let the writer run between bursts
    await writer.stop()
    await engine.dispose()
    return writer.recorded


def test_every_submitted_event_is_recorded_in_its_organization(
    client: TestClient,
    org: Org,
    other_org: Org,
    database_urls: DatabaseUrls,
    as_owner: psycopg.Connection,
) -> None:
    mine, my_members = members(client, org, 10)
    theirs, their_members = members(client, other_org, 10)
    submissions = [
        (owner.id, NewEvent(people[n % 10], EventType.OPENED, T0))
        for n in range(600)
        for owner, people in ((org, my_members), (other_org, their_members))
    ]
    assert asyncio.run(write(database_urls, submissions)) == 1200
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
) -> None:
    _, their_members = members(client, other_org, 1)
    asyncio.run(write(database_urls, [(org.id, NewEvent(their_members[0], EventType.OPENED, T0))]))
    row = as_owner.execute(
        "SELECT count(*) FROM engagement_events WHERE campaign_contact_id = %s",
        (their_members[0],),
    ).fetchone()
    assert row == (0,)
