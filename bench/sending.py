"""Sending throughput: outbox to a local SMTP sink with 1 and 2 `outreach worker` processes, next
to a bare aiosmtplib loop sending the same kind of messages in the same run (the ceiling); and
the planner enqueuing 100,000 contacts of one campaign.

Phases: a fresh database (OUTREACH_TEST_ADMIN_URL or the embedded PostgreSQL, as
campaign_reads.py); one organization with an active autopilot campaign of N contacts (COPY),
its sender pointed at the sink with the limits lifted and a window open all week; the real
planner (`plan_org`) enqueues them all (target < 30 s for 100,000); an SMTP sink (aiosmtpd) in
its own process; the ceiling: one aiosmtplib connection sending rendered messages back to back;
then 1 worker process, then 2, each measured over the same time by the outbox's `sent` count
(target: at least 50 % of the ceiling). The sink's own count is checked against both at the end.

    .venv/bin/python bench/sending.py                          # 100,000 contacts, 20 s phases
    .venv/bin/python bench/sending.py --contacts 20000 --seconds 10      # quicker
"""

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiosmtplib
import psycopg
import uvloop

from campaign_reads import fresh_database, phase
from outreach.config import Settings
from outreach.db import DatabaseUrls, create_engine, create_sessionmaker
from outreach.kit.dburls import libpq_url
from outreach.sending.outbox.queue import message_id_for
from outreach.sending.planner.service import plan_org
from outreach.sending.transports.messages import (
    Envelope,
    Recipient,
    TrackedLinks,
    build_email,
    render_content,
    wire_bytes,
)
from outreach.templates.compose import Composer, MessageText
from outreach.templates.rendering import Personalization
from outreach.tracking.tokens import TrackingSigner

ENQUEUE_TARGET_SECONDS = 30.0
THROUGHPUT_TARGET = 0.5
SUBJECT = "Hello {{first_name}}"
BODY_HTML = (
    "<html><body><p>Hi {{first_name}},</p><p>We are hiring engineers in Paris: "
    '<a href="https://jobs.example.com/role?id=7">see the role</a>.</p>'
    "<p>Best,<br>{{sender_name}}</p></body></html>"
)
BODY_TEXT = (
    "Hi {{first_name}},\n\nWe are hiring engineers in Paris: https://jobs.example.com/role?id=7\n"
)


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def load(urls: DatabaseUrls, contacts: int, sink_port: int) -> tuple[uuid.UUID, uuid.UUID]:
    org, admin, template, sender, campaign = (uuid.uuid4() for _ in range(5))
    with psycopg.connect(libpq_url(urls.owner)) as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO organizations (id, name) VALUES (%s, 'Bench')", (org,))
        cur.execute("INSERT INTO tenant_directory (id) VALUES (%s)", (org,))
        cur.execute(
            "INSERT INTO user_profiles (id, org_id, role) VALUES (%s, %s, 'admin')", (admin, org)
        )
        cur.execute(
            "INSERT INTO message_templates (id, org_id, name, channel, subject, body_text, "
            "body_html) VALUES (%s, %s, 'Bench', 'email', %s, %s, %s)",
            (template, org, SUBJECT, BODY_TEXT, BODY_HTML),
        )
        cur.execute(
            "INSERT INTO senders (id, org_id, from_email, from_name, smtp_host, smtp_port, "
            "smtp_tls, hourly_limit, daily_limit, min_spacing_seconds) "
            "VALUES (%s, %s, 'bench@example.com', 'Bench', '127.0.0.1', %s, 'none', "
            "1000000, 10000000, 0)",
            (sender, org, sink_port),
        )
        cur.execute(
            "INSERT INTO campaigns (id, org_id, name, status, permission_mode, owner_id, "
            "template_id, sender_id, daily_lead_limit, send_days, send_start, send_end, "
            "started_at, is_ab_test) VALUES (%s, %s, 'Bench', 'active', 'autopilot', %s, %s, %s, "
            "100000, '{1,2,3,4,5,6,7}', '00:00', '23:59:59', now(), false)",
            (campaign, org, admin, template, sender),
        )
        add_people(cur, org, campaign, contacts)
    return org, campaign


def add_people(
    cur: psycopg.Cursor[Any], org: uuid.UUID, campaign: uuid.UUID, contacts: int
) -> None:
    """`contacts` people, each a member of the campaign (COPY), with fresh statistics."""
    people = [uuid.uuid4() for _ in range(contacts)]
    with cur.copy("COPY contacts (id, org_id, email, first_name) FROM STDIN") as copy:
        for n, person in enumerate(people):
            copy.write_row((person, org, f"person{n}@example.com", f"Person{n}"))
    with cur.copy("COPY campaign_contacts (org_id, campaign_id, contact_id) FROM STDIN") as copy:
        for person in people:
            copy.write_row((org, campaign, person))
    cur.execute("ANALYZE")


async def enqueue(urls: DatabaseUrls, settings: Settings, org: uuid.UUID) -> tuple[int, float]:
    engine = create_engine(urls.app, pool_size=2)
    started = time.perf_counter()
    try:
        count = (await plan_org(create_sessionmaker(engine), settings, org)).started
    finally:
        await engine.dispose()
    return count, time.perf_counter() - started


def sample_messages(settings: Settings, count: int) -> list[tuple[str, bytes]]:
    """The messages a worker would send (rendered, tracked, MIME, as bytes on the wire), built
    ahead of the loop: the ceiling is the transport alone."""
    signer = TrackingSigner(settings.tracking_secrets)
    org, campaign = uuid.uuid4(), uuid.uuid4()
    envelope_from = "bench@example.com"
    messages = []
    composer = Composer(settings.template_render_seconds)
    for n in range(count):
        recipient = Recipient(org, campaign, uuid.uuid4(), f"person{n}@example.com", f"Person{n}")
        personalization = Personalization(
            values={"first_name": f"Person{n}", "sender_name": "Bench"}, custom={}
        )
        content = render_content(
            MessageText(SUBJECT, BODY_TEXT, BODY_HTML), personalization, composer
        )
        envelope = Envelope(envelope_from, "Bench", message_id_for(uuid.uuid4(), envelope_from))
        links = TrackedLinks(signer, "http://127.0.0.1:8000", recipient)
        messages.append(
            (recipient.email, wire_bytes(build_email(envelope, recipient, content, links)))
        )
    return messages


async def ceiling(port: int, messages: list[tuple[str, bytes]]) -> float:
    smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=port)
    await smtp.connect()
    started = time.perf_counter()
    for recipient, message in messages:
        await smtp.sendmail("bench@example.com", [recipient], message)
    elapsed = time.perf_counter() - started
    await smtp.quit()
    return len(messages) / elapsed


def sent_count(urls: DatabaseUrls) -> int:
    with psycopg.connect(libpq_url(urls.owner)) as conn:
        row = conn.execute("SELECT count(*) FROM outbox_messages WHERE status = 'sent'").fetchone()
    return int(row[0]) if row else 0


def with_workers(urls: DatabaseUrls, port: int, workers: int, seconds: float) -> float:
    env = {
        **os.environ,
        "DATABASE_URL": urls.app,
        "DATABASE_OWNER_URL": urls.owner,
        "OUTREACH_SMTP_URL": f"smtp://127.0.0.1:{port}",
        "OUTREACH_PUBLIC_URL": "https://outreach.example.com",  # no `outreach serve` runs
        "OUTREACH_SEND_POLL_SECONDS": "0.1",
        "OUTREACH_SEND_BATCH_SIZE": "200",
        "OUTREACH_PLAN_MINUTES": "1440",
        "OUTREACH_RECONCILE_MINUTES": "1440",
        "OUTREACH_LOG_LEVEL": "WARNING",
    }
    before = sent_count(urls)
    processes = [
        subprocess.Popen([sys.executable, "-m", "outreach.cli", "worker"], env=env)
        for _ in range(workers)
    ]
    try:
        while sent_count(urls) == before:  # the workers are starting
            time.sleep(0.05)
        start_count, started = sent_count(urls), time.perf_counter()
        time.sleep(seconds)
        end_count, elapsed = sent_count(urls), time.perf_counter() - started
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait(timeout=60)
    return (end_count - start_count) / elapsed


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=20.0, help="per measured phase")
    parser.add_argument("--ceiling-messages", type=int, default=5_000)
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    port = free_port()
    sink = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("smtp_sink.py")), str(port)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert sink.stdout is not None
    assert sink.stdout.readline().strip() == "ready"
    try:
        with fresh_database() as urls:
            settings = Settings(database_url=urls.app, _env_file=None)  # type: ignore[call-arg]
            phase(f"load: one active campaign of {args.contacts:,} contacts")
            org, _ = load(urls, args.contacts, port)

            phase("enqueue: the planner starts every contact (one outbox row each)")
            count, elapsed = asyncio.run(enqueue(urls, settings, org))
            verdict = "pass" if elapsed < ENQUEUE_TARGET_SECONDS else "MISSED"
            print(
                f"{count:,} contacts enqueued in {elapsed:.1f} s ({count / elapsed:,.0f}/s); "
                f"target < {ENQUEUE_TARGET_SECONDS:.0f} s for 100,000: {verdict}"
            )

            phase(f"ceiling: a bare aiosmtplib loop, {args.ceiling_messages:,} messages")
            messages = sample_messages(settings, args.ceiling_messages)
            top = uvloop.run(ceiling(port, messages))  # the loop the workers run on
            print(f"{top:,.0f} messages/s")

            results = {}
            for workers in (1, 2):
                phase(f"outreach: {workers} worker process(es), {args.seconds:.0f} s")
                rate = with_workers(urls, port, workers, args.seconds)
                results[workers] = rate
                print(f"{rate:,.0f} messages/s = {rate / top:.0%} of the ceiling")
            total_sent = sent_count(urls)
    finally:
        sink.send_signal(signal.SIGTERM)
        out, _ = sink.communicate(timeout=30)
    accepted = int(out.strip().rsplit(" ", 1)[-1])

    phase("summary")
    print(f"ceiling (bare aiosmtplib, same sink): {top:,.0f} msg/s")
    for workers, rate in results.items():
        verdict = "pass" if rate >= THROUGHPUT_TARGET * top else "MISSED"
        print(
            f"{workers} worker(s): {rate:,.0f} msg/s = {rate / top:.0%} of the ceiling "
            f"(target >= {THROUGHPUT_TARGET:.0%}): {verdict}"
        )
    expected = args.ceiling_messages + total_sent
    print(
        f"sink accepted {accepted:,}; ceiling {args.ceiling_messages:,} + outbox sent "
        f"{total_sent:,} = {expected:,} ({'equal' if accepted == expected else 'DIFFERENT'})"
    )
    print(f"finished {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    return 0


if __name__ == "__main__":
    sys.exit(main())
