"""The workflow engine at scale: 100,000 enrollments walking email -> wait -> condition ->
email -> exit, with 1 and then 2 engine processes, next to a bare claim-and-write-back loop
in the same run (the ceiling); and the delay from a wait's end (or its event) to the next step
with the real job (`outreach worker`, the engine every second).

Phases: a fresh database (OUTREACH_TEST_ADMIN_URL or the embedded PostgreSQL, as
campaign_reads.py); three organizations, each with an active campaign of N contacts (COPY)
whose published sequence is the one above; the ceiling: one connection claiming due states
500 at a time (`FOR UPDATE SKIP LOCKED`) and writing each batch back with one UPDATE and one
event INSERT, no engine in between; then the engine walks the second organization's
enrollments with 1 process and the third's with 2 processes, the clock moved forward
between the steps (messages are marked sent between them: sending is not in the figure). Node
executions per second over the measured steps, and as a ratio of the ceiling's states per
second (target: at least 2,000 node executions/s with 2 processes). Last, 2 `outreach worker`
processes with the real clock: waits of a few seconds ending at staggered times and waits for
a click answered by clicks, and the delay to the next step (target: p95 under 2 s).

    .venv/bin/python bench/workflows.py                        # 100,000 enrollments
    .venv/bin/python bench/workflows.py --contacts 20000       # quicker
"""

import argparse
import asyncio
import multiprocessing
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from sqlalchemy import select

from campaign_reads import fresh_database, phase
from outreach.config import Settings
from outreach.db import DatabaseUrls, create_engine, create_sessionmaker
from outreach.events.service import NewEvent, record_events
from outreach.events.state import EventType
from outreach.kit.dburls import libpq_url
from outreach.kit.tenancy import org_session
from outreach.models import Campaign, CampaignContact
from outreach.workflows.engine.clock import MovableClock
from outreach.workflows.engine.service import EngineContext, run_org
from outreach.workflows.enrollments.service import enroll
from outreach.workflows.versions import repository as versions_repository
from outreach.workflows.versions import service as versions_service
from sending import add_people

NODES_TARGET = 2_000.0
DELAY_TARGET_SECONDS = 2.0
BATCH = 500
SUBJECT = "Hello {{first_name}}"
BODY_TEXT = "Hi {{first_name}},\n\nWe are hiring engineers in Paris.\n"


def node(node_id: str, kind: str, config: dict[str, Any]) -> dict[str, Any]:
    return {"id": node_id, "type": kind, "data": {"label": node_id, "config": config}}


def edge(source: str, target: str, kind: str = "default") -> dict[str, Any]:
    return {"id": f"{source}-{target}", "source": source, "target": target, "type": kind}


def sequence(template: uuid.UUID, wait: dict[str, Any]) -> dict[str, Any]:
    """email -> wait -> condition (opened?) -> email -> exit; a contact who opened exits at once."""
    opened = {"type": "event", "event_type": "opened", "operator": ">=", "value": 1}
    return {
        "nodes": [
            node("start", "trigger", {"type": "manual"}),
            node("first", "email", {"template_id": str(template)}),
            node("wait", "wait", wait),
            node("opened", "condition", {"condition": opened}),
            node("second", "email", {"template_id": str(template)}),
            node("done", "exit", {}),
        ],
        "edges": [
            edge("start", "first"),
            edge("first", "wait"),
            edge("wait", "opened"),
            edge("opened", "done", "conditional-true"),
            edge("opened", "second", "conditional-false"),
            edge("second", "done"),
        ],
    }


def load(urls: DatabaseUrls, contacts: int) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID]:
    """An organization with an active campaign of `contacts` people (COPY)."""
    org, admin, template, campaign, sender = (uuid.uuid4() for _ in range(5))
    with psycopg.connect(libpq_url(urls.owner)) as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO organizations (id, name) VALUES (%s, 'Bench')", (org,))
        cur.execute("INSERT INTO tenant_directory (id) VALUES (%s)", (org,))
        cur.execute(
            "INSERT INTO user_profiles (id, org_id, role) VALUES (%s, %s, 'admin')", (admin, org)
        )
        cur.execute(
            "INSERT INTO message_templates (id, org_id, name, channel, subject, body_text) "
            "VALUES (%s, %s, 'Bench', 'email', %s, %s)",
            (template, org, SUBJECT, BODY_TEXT),
        )
        # paused: no send loop sends (the bench marks messages sent when it wants them sent)
        cur.execute(
            "INSERT INTO senders (id, org_id, from_email, smtp_host, smtp_port, smtp_tls, "
            "paused_at, paused_reason) VALUES (%s, %s, 'bench@example.com', '127.0.0.1', 9, "
            "'none', now(), 'the bench sends nothing')",
            (sender, org),
        )
        # manual: the planner leaves it alone, the bench enrolls
        cur.execute(
            "INSERT INTO campaigns (id, org_id, name, status, permission_mode, owner_id, "
            "template_id, sender_id, daily_lead_limit, send_days, send_start, send_end, "
            "started_at, is_ab_test) VALUES (%s, %s, 'Bench', 'active', 'manual', %s, %s, %s, "
            "100000, '{1,2,3,4,5,6,7}', '00:00', '23:59:59', now(), false)",
            (campaign, org, admin, template, sender),
        )
        add_people(cur, org, campaign, contacts)
    return org, campaign, template


async def publish_and_enroll(
    urls: DatabaseUrls,
    org: uuid.UUID,
    campaign_id: uuid.UUID,
    graph: dict[str, Any],
    now: datetime,
) -> int:
    """The sequence published, every campaign contact enrolled at `now`."""
    engine = create_engine(urls.app, pool_size=1)
    try:
        async with org_session(create_sessionmaker(engine), org) as session, session.begin():
            campaign = await session.scalar(select(Campaign).where(Campaign.id == campaign_id))
            assert campaign is not None
            await versions_repository.create_workflow(session, org, campaign_id, graph, None)
            await versions_service.publish(session, campaign)
            rows = await session.execute(
                select(CampaignContact.id).where(CampaignContact.campaign_id == campaign_id)
            )
            return len(await enroll(session, campaign, list(rows.scalars()), now))
    finally:
        await engine.dispose()


def mark_sent(urls: DatabaseUrls, org: uuid.UUID) -> int:
    """What the send loop would record for every queued message (not part of the figures)."""
    with psycopg.connect(libpq_url(urls.owner)) as conn:
        cur = conn.execute(
            "UPDATE outbox_messages SET status = 'sent', sent_at = now() "
            "WHERE org_id = %s AND status = 'queued'",
            (org,),
        )
        return cur.rowcount


# -- the ceiling: claim and write back, nothing in between --------------------------------

CEILING_CLAIM = """
SELECT s.id, s.campaign_id, s.campaign_contact_id FROM campaign_workflow_states s
JOIN campaign_contacts cc ON cc.org_id = s.org_id AND cc.id = s.campaign_contact_id
JOIN contacts c ON c.org_id = cc.org_id AND c.id = cc.contact_id
WHERE s.workflow_status IN ('running', 'waiting') AND s.next_execution_at <= %s
ORDER BY s.next_execution_at LIMIT %s FOR UPDATE OF s SKIP LOCKED
"""
CEILING_WRITE = """
UPDATE campaign_workflow_states s SET workflow_status = 'completed', next_execution_at = NULL,
  last_executed_at = %s, execution_path = s.execution_path || ARRAY['start']
FROM unnest(%s::uuid[]) AS u (id) WHERE s.id = u.id
"""
CEILING_EVENTS = """
INSERT INTO engagement_events (org_id, campaign_id, campaign_contact_id, event_type,
  event_timestamp, node_id, enrollment_id)
SELECT %s, %s, u.cc, 'enrollment_completed', %s, 'start', u.id
FROM unnest(%s::uuid[], %s::uuid[]) AS u (id, cc)
"""


def ceiling(urls: DatabaseUrls, org: uuid.UUID, at: datetime) -> tuple[int, float]:
    """States claimed and written back per second by bare SQL, one connection."""
    done, started = 0, time.perf_counter()
    with psycopg.connect(libpq_url(urls.app)) as conn:
        while True:
            with conn.transaction():
                conn.execute("SELECT set_config('app.org_id', %s, true)", (str(org),))
                rows = conn.execute(CEILING_CLAIM, (at, BATCH)).fetchall()
                if not rows:
                    break
                ids = [r[0] for r in rows]
                conn.execute(CEILING_WRITE, (at, ids))
                conn.execute(CEILING_EVENTS, (org, rows[0][1], at, ids, [r[2] for r in rows]))
            done += len(rows)
    return done, time.perf_counter() - started


# -- engine processes with a shared, moved clock ------------------------------------------


def engine_process(urls: DatabaseUrls, org: uuid.UUID, commands: Any, results: Any) -> None:
    """One engine process: for each moment it is given, walks the organization's due states
    until none is left, and reports its node executions and when it started and stopped."""

    async def walk(moment: datetime) -> tuple[int, float, float]:
        engine = create_engine(urls.app, pool_size=2)
        settings = Settings(database_url=urls.app, _env_file=None)  # type: ignore[call-arg]
        ctx = EngineContext.for_settings(settings, MovableClock(moment))
        sessionmaker = create_sessionmaker(engine)
        async with sessionmaker() as warm:  # the pool's connection, before the clock starts
            await warm.connection()
        started = time.time()
        try:
            done = await run_org(sessionmaker, ctx, org, batch_size=BATCH, max_seconds=3600)
        finally:
            ended = time.time()
            await engine.dispose()
        return done, started, ended

    while (moment := commands.get()) is not None:
        results.put(asyncio.run(walk(moment)))


class Engines:
    def __init__(self, urls: DatabaseUrls, org: uuid.UUID, count: int) -> None:
        context = multiprocessing.get_context("spawn")
        self.commands = [context.Queue() for _ in range(count)]
        self.results = context.Queue()
        self.processes = [
            context.Process(target=engine_process, args=(urls, org, queue, self.results))
            for queue in self.commands
        ]
        for process in self.processes:
            process.start()

    def walk(self, moment: datetime) -> tuple[int, float]:
        """Every process walks at `moment`; answers the node executions and the seconds from
        the first start to the last stop."""
        for queue in self.commands:
            queue.put(moment)
        reports = [self.results.get() for _ in self.commands]
        nodes = sum(r[0] for r in reports)
        return nodes, max(r[2] for r in reports) - min(r[1] for r in reports)

    def stop(self) -> None:
        for queue in self.commands:
            queue.put(None)
        for process in self.processes:
            process.join(timeout=30)


def walk_everyone(urls: DatabaseUrls, org: uuid.UUID, processes: int) -> tuple[int, float]:
    """The whole sequence for every enrollment of `org`; answers node executions and seconds
    spent walking (the clock moves a day at the wait, messages are marked sent in between)."""
    engines = Engines(urls, org, processes)
    offset = timedelta(seconds=1)
    total_nodes, total_seconds = 0, 0.0
    try:
        for step, after in (
            ("trigger, first email", None),
            ("first email sent, wait", timedelta(minutes=1)),
            ("wait over, condition, second email", timedelta(days=1, minutes=1)),
            ("second email sent, exit", timedelta(minutes=1)),
        ):
            if after is not None:
                offset += after
            nodes, seconds = engines.walk(datetime.now(UTC) + offset)
            sent = mark_sent(urls, org)
            total_nodes += nodes
            total_seconds += seconds
            print(
                f"  {step:<38} {nodes:>8,} nodes in {seconds:6.2f} s "
                f"= {nodes / seconds:8,.0f}/s  ({sent:,} messages marked sent)",
                flush=True,
            )
    finally:
        engines.stop()
    return total_nodes, total_seconds


EXECUTED = """
SELECT count(*) AS events, count(DISTINCT (enrollment_id, node_id, event_type)) AS distinct_events,
       count(*) FILTER (WHERE event_type = 'enrollment_completed') AS completed
FROM engagement_events WHERE org_id = %s AND enrollment_id IS NOT NULL
"""


def executed_once(urls: DatabaseUrls, org: uuid.UUID, contacts: int) -> str:
    """Every node of every walk logged once (the sequence visits each node once), every walk
    completed: what processes claiming side by side must not break."""
    with psycopg.connect(libpq_url(urls.owner)) as conn:
        row = conn.execute(EXECUTED, (org,)).fetchone()
    assert row is not None
    events, distinct, completed = row
    verdict = "yes" if events == distinct and completed == contacts else "NO"
    return (
        f"  every step of every walk exactly once: {verdict} ({events:,} workflow events, "
        f"{events - distinct:,} repeated; {completed:,} of {contacts:,} walks completed)"
    )


# -- the delay from a wait's end or its event to the next step, with the real job --------

DELAY_SQL = """
SELECT extract(epoch FROM q.event_timestamp - w.at) FROM engagement_events q
JOIN (SELECT enrollment_id, {moment} AS at FROM {source}) w ON w.enrollment_id = q.enrollment_id
WHERE q.org_id = %s AND q.event_type = 'message_queued' AND q.node_id = 'second'
"""


def delays(urls: DatabaseUrls, org: uuid.UUID) -> list[float]:
    """Per enrollment: from the wait's end (a duration wait: its `wait_until` as the
    wait_started event said; an event wait: the click) to the second email being queued."""
    by_end = DELAY_SQL.format(
        moment="CAST(event_data ->> 'until' AS timestamptz)",
        source=f"engagement_events WHERE org_id = '{org}' AND event_type = 'wait_started'"
        " AND event_data ->> 'event' IS NULL",
    )
    by_click = DELAY_SQL.format(
        moment="created_at",
        source="(SELECT s.id AS enrollment_id, e.created_at FROM engagement_events e "
        "JOIN campaign_workflow_states s ON s.campaign_contact_id = e.campaign_contact_id "
        f"WHERE e.org_id = '{org}' AND e.event_type = 'clicked') AS clicks",
    )
    with psycopg.connect(libpq_url(urls.owner)) as conn:
        return [float(r[0]) for q in (by_end, by_click) for r in conn.execute(q, (org,))]


async def click(urls: DatabaseUrls, org: uuid.UUID, members: list[uuid.UUID]) -> None:
    engine = create_engine(urls.app, pool_size=1)
    try:
        async with org_session(create_sessionmaker(engine), org) as session, session.begin():
            now = datetime.now(UTC)
            await record_events(
                session, org, [NewEvent(m, EventType.CLICKED, now) for m in members]
            )
    finally:
        await engine.dispose()


def members_of(urls: DatabaseUrls, campaign: uuid.UUID) -> list[uuid.UUID]:
    with psycopg.connect(libpq_url(urls.owner)) as conn:
        rows = conn.execute(
            "SELECT id FROM campaign_contacts WHERE campaign_id = %s ORDER BY id", (campaign,)
        )
        return [r[0] for r in rows]


def measure_delays(urls: DatabaseUrls, contacts: int) -> list[float]:
    """Waits of 5 s started in 10 groups 0.5 s apart, and waits for a click answered by
    clicks in 10 groups 0.5 s apart, walked by 2 `outreach worker` processes. The campaigns'
    sender is paused, so the messages stay queued until the bench marks them sent, a group at
    a time."""
    env = {
        **os.environ,
        "DATABASE_URL": urls.app,
        "DATABASE_OWNER_URL": urls.owner,
        "OUTREACH_PUBLIC_URL": "https://outreach.example.com",
        "OUTREACH_PLAN_MINUTES": "1440",
        "OUTREACH_RECONCILE_MINUTES": "1440",
        "OUTREACH_LOG_LEVEL": "WARNING",
    }
    workers = [
        subprocess.Popen([sys.executable, "-m", "outreach.cli", "worker"], env=env)
        for _ in range(2)
    ]
    timed = {"type": "duration", "value": 5, "unit": "seconds"}
    on_click = {"type": "until_event", "event": "clicked", "timeout": {"value": 1, "unit": "hours"}}
    orgs = []
    try:
        time.sleep(3)  # the workers start
        for wait in (timed, on_click):
            org, campaign, template = load(urls, contacts)
            orgs.append(org)
            members = members_of(urls, campaign)
            group = max(1, len(members) // 10)
            chunks = [members[i : i + group] for i in range(0, len(members), group)]
            graph = sequence(template, wait)
            asyncio.run(publish_and_enroll(urls, org, campaign, graph, datetime.now(UTC)))
            time.sleep(2)
            # the workers queued the first emails: marked sent in groups, so that the waits
            # start (and end, or get their clicks) at staggered times
            for chunk in chunks:
                with psycopg.connect(libpq_url(urls.owner)) as conn:
                    conn.execute(
                        "UPDATE outbox_messages SET status = 'sent', sent_at = now() "
                        "WHERE campaign_contact_id = ANY(%s) AND status = 'queued'",
                        (chunk,),
                    )
                time.sleep(0.5)
            if wait is on_click:
                time.sleep(2)  # every wait has started
                for chunk in chunks:
                    asyncio.run(click(urls, org, chunk))
                    time.sleep(0.5)
            time.sleep(8)  # every wait ends and is walked on
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            worker.wait(timeout=60)
    return [d for org in orgs for d in delays(urls, org)]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--delay-contacts", type=int, default=2_000)
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    one_day = {"type": "duration", "value": 1, "unit": "days"}
    results: dict[int, tuple[int, float]] = {}
    with fresh_database() as urls:
        phase(f"load: 3 organizations, each an active campaign of {args.contacts:,} contacts")
        started = time.perf_counter()
        loaded = [load(urls, args.contacts) for _ in range(3)]
        now = datetime.now(UTC)
        for org, campaign, template in loaded:
            asyncio.run(publish_and_enroll(urls, org, campaign, sequence(template, one_day), now))
        print(f"loaded and enrolled in {time.perf_counter() - started:.1f} s")

        phase("ceiling: bare claim and write-back of every state, one connection")
        states, seconds = ceiling(urls, loaded[0][0], now + timedelta(seconds=1))
        top = states / seconds
        print(f"{states:,} states in {seconds:.2f} s = {top:,.0f} states/s")

        for processes, (org, _, _) in zip((1, 2), loaded[1:], strict=True):
            phase(f"engine: {processes} process(es), the whole sequence")
            results[processes] = walk_everyone(urls, org, processes)
            print(executed_once(urls, org, args.contacts))

        phase(f"delay: 2 `outreach worker` processes, {args.delay_contacts:,} x 2 waits")
        waited = sorted(measure_delays(urls, args.delay_contacts))

    phase("summary")
    print(f"ceiling (bare claim + write-back, one connection): {top:,.0f} states/s")
    for processes, (nodes, seconds) in results.items():
        rate = nodes / seconds
        verdict = "pass" if rate >= NODES_TARGET else "MISSED"
        print(
            f"{processes} engine process(es): {nodes:,} node executions in {seconds:.1f} s = "
            f"{rate:,.0f}/s = {rate / top:.2f} x the ceiling's states/s "
            f"(target >= {NODES_TARGET:,.0f}/s with 2): {verdict}"
        )
    if waited:
        p50 = statistics.median(waited)
        p95 = waited[min(len(waited) - 1, round(0.95 * (len(waited) - 1)))]
        verdict = "pass" if p95 < DELAY_TARGET_SECONDS else "MISSED"
        print(
            f"delay from a wait's end or its event to the next step: "
            f"n={len(waited):,} of {2 * args.delay_contacts:,} "
            f"p50={p50:.2f} s p95={p95:.2f} s max={waited[-1]:.2f} s "
            f"(target p95 < {DELAY_TARGET_SECONDS:.0f} s): {verdict}"
        )
    print(f"finished {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    return 0


if __name__ == "__main__":
    sys.exit(main())
