"""Real `outreach worker` processes against one database: limits hold across them, and a worker
killed mid-batch loses nothing and repeats at most one message per SMTP connection in flight."""

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

import psycopg
import pytest
from fastapi.testclient import TestClient

from outreach.db import DatabaseUrls
from tests.factories import (
    Engine,
    MailSink,
    Org,
    create_sender,
    outbox_rows,
    post_contacts,
    ready_campaign,
)

Start = Callable[[], subprocess.Popen[bytes]]


@pytest.fixture
def start_worker(
    database_urls: DatabaseUrls, mail_sink: MailSink, tmp_path: Path
) -> Iterator[Start]:
    env = {
        **os.environ,
        "DATABASE_URL": database_urls.app,
        "DATABASE_OWNER_URL": database_urls.owner,
        "OUTREACH_SMTP_URL": f"smtp://127.0.0.1:{mail_sink.port}",
        "OUTREACH_PUBLIC_URL": "https://outreach.example.com",  # no `outreach serve` runs
        "OUTREACH_SEND_POLL_SECONDS": "0.2",
        "OUTREACH_SEND_LEASE_SECONDS": "3",
        "OUTREACH_RECONCILE_MINUTES": "1440",
        "OUTREACH_PLAN_MINUTES": "1440",
    }
    workers: list[subprocess.Popen[bytes]] = []
    logs: list[BinaryIO] = []

    def start() -> subprocess.Popen[bytes]:
        logs.append((tmp_path / f"worker{len(workers)}.log").open("wb"))
        worker = subprocess.Popen(
            [sys.executable, "-m", "outreach.cli", "worker"],
            env=env,
            stdout=logs[-1],
            stderr=subprocess.STDOUT,
        )
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=20)
    for log in logs:
        log.close()


def _ours(sink: MailSink, domain: str) -> list[str]:
    return [
        m["To"].addresses[0].addr_spec
        for m in sink.messages
        if m["To"].addresses[0].addr_spec.endswith(domain)
    ]


def _wait_for(condition: Callable[[], bool], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def _campaign_with(
    client: TestClient,
    org: Org,
    as_owner: psycopg.Connection,
    sender: dict[str, object],
    domain: str,
    count: int,
) -> dict[str, object]:
    campaign = ready_campaign(client, org, as_owner, sender, contacts=0, activate=False)
    rows = [{"email": f"w{i}@{domain}", "first_name": f"W{i}"} for i in range(count)]
    assert post_contacts(client, org, str(campaign["id"]), rows).status_code == 200
    client.post(f"/api/v1/campaigns/{campaign['id']}/activate", headers=org.headers())
    return campaign


def test_two_workers_send_exactly_the_hourly_limit_and_nothing_twice(
    client: TestClient,
    org: Org,
    as_owner: psycopg.Connection,
    engine: Engine,
    mail_sink: MailSink,
    start_worker: Start,
) -> None:
    limit, domain = 5, "limit.workers.example"
    sender = create_sender(client, org, mail_sink.port, hourly_limit=limit)
    campaign = _campaign_with(client, org, as_owner, sender, domain, 12)
    engine.plan(org)

    start_worker()
    start_worker()
    _wait_for(lambda: len(_ours(mail_sink, domain)) >= limit, 60)
    time.sleep(3)  # both workers keep polling: nothing more may arrive

    received = _ours(mail_sink, domain)
    assert len(received) == limit
    assert len(set(received)) == limit
    statuses = Counter(row["status"] for row in outbox_rows(as_owner, str(campaign["id"])))
    assert statuses == {"sent": limit, "queued": 12 - limit}


def test_a_worker_killed_mid_batch_loses_nothing_and_repeats_at_most_one_message_per_connection(
    client: TestClient,
    org: Org,
    as_owner: psycopg.Connection,
    engine: Engine,
    mail_sink: MailSink,
    start_worker: Start,
) -> None:
    count, domain = 20, "kill.workers.example"
    mail_sink.delay = 0.3  # a slow server, so that the kill lands inside a batch
    sender = create_sender(client, org, mail_sink.port)
    campaign = _campaign_with(client, org, as_owner, sender, domain, count)
    engine.plan(org)

    first = start_worker()
    _wait_for(lambda: len(_ours(mail_sink, domain)) >= 3, 60)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    assert len(_ours(mail_sink, domain)) < count  # killed mid-batch

    start_worker()
    _wait_for(
        lambda: all(r["status"] == "sent" for r in outbox_rows(as_owner, str(campaign["id"]))), 60
    )
    time.sleep(1)
    received = Counter(_ours(mail_sink, domain))
    assert set(received) == {f"w{i}@{domain}" for i in range(count)}  # nothing lost
    connections = engine.settings.send_connections
    assert sum(received.values()) <= count + connections
    repeated = [address for address, n in received.items() if n > 1]
    assert len(repeated) <= connections
    assert all(received[address] == 2 for address in repeated)
    for address in repeated:  # a repeat is the same message, with the same Message-ID
        ids = {
            m["Message-ID"] for m in mail_sink.messages if m["To"].addresses[0].addr_spec == address
        }
        assert len(ids) == 1
