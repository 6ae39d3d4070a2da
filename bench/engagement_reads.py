"""Engagement at scale: ingest 1M events through the recorder, then time the dashboard and the
A/B test reads.

Phases: a fresh database (on OUTREACH_TEST_ADMIN_URL or the embedded PostgreSQL, as
campaign_reads.py); one organization with 20 active campaigns and 100,000 contacts (COPY), one
campaign an A/B test of 50,000; 1,000,000 events recorded by the real event recorder (contacts
locked, events appended, counters moved) from 4 concurrent writers; the counters checked
against a recount; then the real service read by wrk over 16 connections: GET /dashboard and
GET /campaigns/{id}/ab-test, p50/p95/p99 against the 100 ms p95 target.

    .venv/bin/python bench/engagement_reads.py            # the full run (several minutes)
    .venv/bin/python bench/engagement_reads.py --events 100000 --contacts 20000   # quick
"""

import argparse
import asyncio
import random
import shutil
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta

import psycopg

from campaign_reads import (
    CLIENTS,
    Timings,
    fresh_database,
    phase,
    run_wrk,
    running_service,
    wrk_request,
)
from outreach.auth.tokens import Role, mint_token
from outreach.config import get_settings
from outreach.db import DatabaseUrls, create_engine, create_sessionmaker
from outreach.events.service import NewEvent, reconcile_counters, record_events
from outreach.events.state import EventType
from outreach.kit.dburls import libpq_url

TARGET_P95_MS = 100.0
CAMPAIGNS = 20
T0 = datetime.now(UTC) - timedelta(days=14)
# Event mix of a cold outreach campaign (sends and deliveries come first, per contact).
ENGAGEMENT = [
    (EventType.OPENED, 50),
    (EventType.CLICKED, 25),
    (EventType.RESPONSE_RECEIVED, 4),
    (EventType.CONVERTED, 1),
    (EventType.BOUNCED, 2),
    (EventType.UNSUBSCRIBED, 1),
]


def load_people(
    urls: DatabaseUrls, contacts: int
) -> tuple[uuid.UUID, uuid.UUID, list[uuid.UUID], uuid.UUID]:
    """One org, its admin, CAMPAIGNS active campaigns (the first an A/B test with half of the
    contacts), every contact in one campaign. Answers org, admin, members, A/B campaign."""
    rng = random.Random(5)
    org, admin = uuid.uuid4(), uuid.uuid4()
    campaigns = [uuid.uuid4() for _ in range(CAMPAIGNS)]
    members = [uuid.uuid4() for _ in range(contacts)]
    with psycopg.connect(libpq_url(urls.owner)) as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO organizations (id, name) VALUES (%s, 'Bench')", (org,))
        cur.execute("INSERT INTO tenant_directory (id) VALUES (%s)", (org,))
        cur.execute(
            "INSERT INTO user_profiles (id, org_id, role) VALUES (%s, %s, 'admin')", (admin, org)
        )
        with cur.copy(
            "COPY campaigns (id, org_id, name, status, is_ab_test, owner_id, started_at) FROM STDIN"
        ) as copy:
            for n, campaign in enumerate(campaigns):
                copy.write_row((campaign, org, f"Campaign {n}", "active", n == 0, admin, T0))
        with cur.copy("COPY contacts (id, org_id, email, first_name) FROM STDIN") as copy:
            for n, member in enumerate(members):
                copy.write_row((member, org, f"person{n}@example.com", f"Person {n}"))
        columns = "id, org_id, campaign_id, contact_id, contact_type, ab_variant"
        with cur.copy(f"COPY campaign_contacts ({columns}) FROM STDIN") as copy:
            for n, member in enumerate(members):
                on_ab = n < contacts // 2
                campaign = campaigns[0] if on_ab else campaigns[1 + n % (CAMPAIGNS - 1)]
                variant = rng.choice("AB") if on_ab else None
                copy.write_row((member, org, campaign, member, "candidate", variant))
    return org, admin, members, campaigns[0]


def events_for(members: list[uuid.UUID], total: int) -> list[NewEvent]:
    """A send and a delivery per contact, then engagement drawn from the mix until `total`."""
    rng = random.Random(9)
    events = [
        NewEvent(member, kind, T0 + timedelta(minutes=n % 600))
        for n, member in enumerate(members)
        for kind in (EventType.EMAIL_SENT, EventType.DELIVERED)
    ]
    kinds, weights = zip(*ENGAGEMENT, strict=True)
    data = {
        EventType.CONVERTED: {"conversion_type": "interview"},
        EventType.BOUNCED: {"bounce_type": "hard"},
    }
    while len(events) < total:
        kind = rng.choices(kinds, weights)[0]
        at = T0 + timedelta(seconds=rng.randrange(14 * 86_400))
        machine = kind in (EventType.OPENED, EventType.CLICKED) and rng.random() < 0.2
        url = (
            "https://jobs.example.com/" + str(rng.randrange(5))
            if kind is EventType.CLICKED
            else None
        )
        events.append(
            NewEvent(rng.choice(members), kind, at, machine, data.get(kind, {}), clicked_url=url)
        )
    return events[:total]


async def ingest(urls: DatabaseUrls, org: uuid.UUID, events: list[NewEvent], writers: int) -> float:
    """Record the events from `writers` concurrent transactions of 2,000 events each."""
    engine = create_engine(urls.app, pool_size=writers)
    sessionmaker = create_sessionmaker(engine)
    batches = [events[i : i + 2000] for i in range(0, len(events), 2000)]
    done = 0
    started = time.perf_counter()

    async def writer(mine: list[list[NewEvent]]) -> None:
        nonlocal done
        for batch in mine:
            async with sessionmaker() as session:
                session.info["org_id"] = org
                async with session.begin():
                    await record_events(session, org, batch)
            done += len(batch)
            if done % 100_000 < len(batch):
                rate = done / (time.perf_counter() - started)
                print(f"  {done:>9,} events recorded ({rate:,.0f}/s)", flush=True)

    await asyncio.gather(*(writer(batches[w::writers]) for w in range(writers)))
    seconds = time.perf_counter() - started
    async with sessionmaker() as session:
        session.info["org_id"] = org
        async with session.begin():
            drift = await reconcile_counters(session)
            await session.rollback()
    await engine.dispose()
    print(f"counters == recount after ingest: {'yes' if not drift else f'NO {drift}'}")
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--port", type=int, default=8766)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("this benchmark drives the API with wrk: install it (apt-get install wrk)")
        return 2
    with fresh_database() as urls:
        phase(f"load: 1 org, {CAMPAIGNS} campaigns, {args.contacts:,} contacts (COPY)")
        org, admin, members, ab_campaign = load_people(urls, args.contacts)
        phase(f"ingest {args.events:,} events through the recorder, {args.writers} writers")
        events = events_for(members, args.events)
        seconds = asyncio.run(ingest(urls, org, events, args.writers))
        print(f"{args.events:,} events in {seconds:.1f} s ({args.events / seconds:,.0f} events/s)")
        with psycopg.connect(libpq_url(urls.owner), autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")

        phase(f"API: wrk, {CLIENTS} connections, 2 uvicorn workers")
        token = mint_token(get_settings(), org_id=org, user_id=admin, role=Role.ADMIN)
        with running_service(urls, args.port, 2) as base_url:
            dashboard = [wrk_request("/api/v1/dashboard?limit=50", token)]
            ab_test = [wrk_request(f"/api/v1/campaigns/{ab_campaign}/ab-test", token)]
            run_wrk("warm-up", base_url, dashboard + ab_test, 3)
            results: list[Timings] = [
                run_wrk("GET /dashboard?limit=50", base_url, dashboard, args.seconds),
                run_wrk("GET /campaigns/{id}/ab-test", base_url, ab_test, args.seconds),
            ]
        for timings in results:
            print(timings.line())

        phase("summary")
        passed = True
        for timings in results:
            p95 = timings.percentile_ms(95)
            ok = p95 < TARGET_P95_MS and timings.errors == 0
            passed &= ok
            print(
                f"{timings.label:<34} p95 {p95:7.1f} ms  < {TARGET_P95_MS:.0f} ms  "
                f"errors={timings.errors}  {'PASS' if ok else 'FAIL'}"
            )
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
