"""Counters stay equal to what contacts and events say, with thousands of concurrent events."""

import asyncio
import random
import uuid
from datetime import timedelta

import psycopg
from fastapi.testclient import TestClient

from outreach.db import DatabaseUrls, create_engine, create_sessionmaker
from outreach.events.jobs import reconcile_all_counters
from outreach.events.service import NewEvent, reconcile_counters
from outreach.events.state import EventType
from outreach.kit.tenancy import org_session
from tests.factories import (
    T0,
    Org,
    add_contacts,
    create_ab_campaign,
    create_campaign,
    record_concurrently,
)

KINDS = [
    (EventType.EMAIL_SENT, {}),
    (EventType.DELIVERED, {}),
    (EventType.OPENED, {}),
    (EventType.CLICKED, {}),
    (EventType.RESPONSE_RECEIVED, {"response_text": "Yes"}),
    (EventType.AUTO_REPLIED, {}),
    (EventType.BOUNCED, {"bounce_type": "hard", "reason": "550 no such user"}),
    (EventType.BOUNCED, {"bounce_type": "soft", "reason": "451 try later"}),
    (EventType.UNSUBSCRIBED, {}),
    (EventType.SPAM_REPORTED, {}),
    (EventType.CONVERTED, {"conversion_type": "interview"}),
]


def random_events(members: list[uuid.UUID], count: int, seed: int) -> list[NewEvent]:
    rng = random.Random(seed)
    events = []
    for n in range(count):
        kind, data = rng.choice(KINDS)
        # Some events come from a provider and are retried: the same id several times.
        provider_id = f"p-{rng.randrange(count // 4)}" if rng.random() < 0.3 else None
        events.append(
            NewEvent(
                campaign_contact_id=rng.choice(members),
                event_type=kind,
                occurred_at=T0 + timedelta(seconds=rng.randrange(86_400)),
                is_machine=kind in (EventType.OPENED, EventType.CLICKED) and rng.random() < 0.3,
                data=data,
                provider="test" if provider_id else None,
                provider_event_id=provider_id and f"{provider_id}-{n % 3}",
            )
        )
    return events


async def drift(urls: DatabaseUrls, org_id: uuid.UUID) -> dict[uuid.UUID, object]:
    engine = create_engine(urls.app, pool_size=1)
    async with org_session(create_sessionmaker(engine), org_id) as session, session.begin():
        found = await reconcile_counters(session)
        await session.rollback()
    await engine.dispose()
    return dict(found)


def test_thousands_of_concurrent_events_leave_counters_equal_to_a_recount(
    client: TestClient, org: Org, database_urls: DatabaseUrls, as_owner: psycopg.Connection
) -> None:
    campaign = create_campaign(client, org)
    added = add_contacts(client, org, campaign["id"], 150)
    members = [uuid.UUID(r["campaign_contact_id"]) for r in added["results"]]
    events = random_events(members, 4000, seed=3)
    asyncio.run(record_concurrently(database_urls, org.id, events, writers=16))

    assert asyncio.run(drift(database_urls, org.id)) == {}
    recorded = as_owner.execute(
        "SELECT count(*) FROM engagement_events WHERE campaign_id = %s", (campaign["id"],)
    ).fetchone()
    distinct_provider_ids = {e.provider_event_id for e in events if e.provider_event_id}
    expected = sum(1 for e in events if e.provider_event_id is None) + len(distinct_provider_ids)
    assert recorded == (expected,)
    statuses = as_owner.execute(
        "SELECT count(*) FROM campaign_contacts WHERE campaign_id = %s AND status = 'pending' "
        "AND (sent_at IS NOT NULL OR opened_at IS NOT NULL)",
        (campaign["id"],),
    ).fetchone()
    assert statuses == (0,)


def test_reconciliation_repairs_drift(
    client: TestClient, org: Org, database_urls: DatabaseUrls, as_owner: psycopg.Connection
) -> None:
    campaign = create_campaign(client, org)
    added = add_contacts(client, org, campaign["id"], 5)
    members = [uuid.UUID(r["campaign_contact_id"]) for r in added["results"]]
    asyncio.run(record_concurrently(database_urls, org.id, random_events(members, 60, 5), 2))
    as_owner.execute(
        "UPDATE campaigns SET opens_total = opens_total + 7, emails_sent = 999 WHERE id = %s",
        (campaign["id"],),
    )
    found = asyncio.run(drift(database_urls, org.id))
    assert set(found[uuid.UUID(campaign["id"])]) == {"opens_total", "emails_sent"}

    engine = create_engine(database_urls.app, pool_size=1)
    repaired = asyncio.run(reconcile_all_counters(create_sessionmaker(engine)))
    asyncio.run(engine.dispose())
    assert repaired >= 1
    assert asyncio.run(drift(database_urls, org.id)) == {}


def test_unsubscribes_complaints_and_hard_bounces_suppress_the_address(
    client: TestClient, org: Org, database_urls: DatabaseUrls, as_owner: psycopg.Connection
) -> None:
    campaign = create_campaign(client, org)
    added = add_contacts(client, org, campaign["id"], 4)
    m = [uuid.UUID(r["campaign_contact_id"]) for r in added["results"]]
    events = [
        NewEvent(m[0], EventType.UNSUBSCRIBED, T0),
        NewEvent(m[1], EventType.SPAM_REPORTED, T0),
        NewEvent(m[2], EventType.BOUNCED, T0, data={"bounce_type": "hard"}),
        NewEvent(m[3], EventType.BOUNCED, T0, data={"bounce_type": "soft"}),
    ]
    asyncio.run(record_concurrently(database_urls, org.id, events, 1))
    rows = as_owner.execute(
        "SELECT email, reason FROM suppressions WHERE org_id = %s ORDER BY email", (org.id,)
    ).fetchall()
    assert rows == [
        ("person0@example.com", "unsubscribed"),
        ("person1@example.com", "complaint"),
        ("person2@example.com", "hard_bounce"),
    ]


def test_variant_counters_follow_adds_events_edits_and_deletes(
    client: TestClient, org: Org, database_urls: DatabaseUrls, as_owner: psycopg.Connection
) -> None:
    campaign = create_ab_campaign(client, org, split=50)
    added = add_contacts(client, org, campaign["id"], 120)
    members = [uuid.UUID(r["campaign_contact_id"]) for r in added["results"]]
    asyncio.run(record_concurrently(database_urls, org.id, random_events(members, 1500, 7), 8))
    base = f"/api/v1/campaigns/{campaign['id']}/contacts"
    assert client.delete(f"{base}/{members[0]}", headers=org.headers()).status_code == 204
    client.patch(f"{base}/{members[1]}", json={"ab_variant": "B"}, headers=org.headers())

    held = as_owner.execute(
        "SELECT ab_variant, contacts, responses, conversions, converted_responders "
        "FROM campaign_variant_counters WHERE campaign_id = %s ORDER BY 1",
        (campaign["id"],),
    ).fetchall()
    recount = as_owner.execute(
        "SELECT ab_variant, count(*), count(responded_at), count(converted_at), "
        "count(*) FILTER (WHERE responded_at IS NOT NULL AND converted_at IS NOT NULL) "
        "FROM campaign_contacts WHERE campaign_id = %s GROUP BY 1 ORDER BY 1",
        (campaign["id"],),
    ).fetchall()
    assert held == recount
    assert sum(row[1] for row in held) == 119
