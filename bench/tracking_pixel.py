"""The open pixel under load: requests/s and latency next to a bare FastAPI app serving the
same GIF, and every request accounted for as an event.

Phases: a fresh database (as campaign_reads.py); one campaign with 100,000 contacts (COPY) and
an open token signed for each; wrk over 64 connections against a bare FastAPI app (bare_pixel.py:
one route, no middleware, the same 2 uvicorn workers and settings: the reference), then against
the real service (as the app role), first on pixels whose token does not verify (the same route
answering the same GIF with no database work), then on the real tokens; the opens recorded by
the end of that run are counted (a pixel answered faster than its open is recorded defers the
work), then the server is stopped (its writer records what is queued, the spool included) and
the events are counted against wrk's requests.

    .venv/bin/python bench/tracking_pixel.py                 # 100k contacts, 20 s per run
    .venv/bin/python bench/tracking_pixel.py --contacts 10000 --seconds 5
"""

import argparse
import os
import random
import shutil
import socket
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg

from campaign_reads import Timings, fresh_database, phase, run_wrk, running_service
from outreach.config import get_settings
from outreach.db import DatabaseUrls
from outreach.kit.dburls import libpq_url
from outreach.tracking.tokens import TokenKind, TrackingSigner, TrackingToken

CONNECTIONS = 64
TARGET_RATIO = 0.60  # of the bare FastAPI app's requests/s
BARE_APP = ("bare_pixel:app", "--app-dir", str(Path(__file__).parent))
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


def load(urls: DatabaseUrls, contacts: int) -> tuple[uuid.UUID, uuid.UUID, list[uuid.UUID]]:
    org, owner, campaign = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    members = [uuid.uuid4() for _ in range(contacts)]
    with psycopg.connect(libpq_url(urls.owner)) as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO organizations (id, name) VALUES (%s, 'Bench')", (org,))
        cur.execute(
            "INSERT INTO user_profiles (id, org_id, role) VALUES (%s, %s, 'admin')", (owner, org)
        )
        cur.execute(
            "INSERT INTO campaigns (id, org_id, name, status, owner_id) "
            "VALUES (%s, %s, 'Pixel bench', 'active', %s)",
            (campaign, org, owner),
        )
        with cur.copy("COPY contacts (id, org_id, email) FROM STDIN") as copy:
            for n, member in enumerate(members):
                copy.write_row((member, org, f"person{n}@example.com"))
        with cur.copy(
            "COPY campaign_contacts (id, org_id, campaign_id, contact_id) FROM STDIN"
        ) as copy:
            for member in members:
                copy.write_row((member, org, campaign, member))
    return org, campaign, members


def pixel(path_token: str) -> str:
    return f'wrk.format("GET", "/t/o/{path_token}.gif", {{["User-Agent"] = "{CHROME}"}})'


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def count_events(urls: DatabaseUrls, campaign: uuid.UUID) -> tuple[int, int]:
    with psycopg.connect(libpq_url(urls.owner)) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM engagement_events WHERE campaign_id = %s), "
            "(SELECT opens_total FROM campaigns WHERE id = %s)",
            (campaign, campaign),
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--tokens", type=int, default=20_000, help="distinct tokens wrk cycles")
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--port", type=int, default=0, help="default: a free port")
    args = parser.parse_args()
    args.port = args.port or free_port()
    # The service's spool (opens it could not record in time) in a folder of the run's own.
    os.environ["OUTREACH_DATA_DIR"] = tempfile.mkdtemp(prefix="outreach-bench-")
    if shutil.which("wrk") is None:
        print("this benchmark drives the pixel with wrk: install it (apt-get install wrk)")
        return 2
    signer = TrackingSigner(get_settings().tracking_secrets)
    with fresh_database() as urls:
        phase(f"load: one campaign with {args.contacts:,} contacts (COPY)")
        org, campaign, members = load(urls, args.contacts)
        chosen = random.Random(3).sample(members, min(args.tokens, len(members)))
        tokens = [
            signer.sign(TrackingToken(TokenKind.OPEN, org, campaign, member)) for member in chosen
        ]
        forged = TrackingSigner(["not-the-service-secret-" + "x" * 16])
        invalid = [forged.sign(TrackingToken(TokenKind.OPEN, org, campaign, m)) for m in chosen]

        phase(f"wrk: {CONNECTIONS} connections, 2 uvicorn workers, {args.seconds} s each")
        print(f"load before the runs (1, 5, 15 min): {os.getloadavg()}")

        def pixels(label: str, base_url: str, signed: list[str], seconds: int) -> Timings:
            return run_wrk(label, base_url, [pixel(t) for t in signed], seconds, CONNECTIONS)

        with running_service(urls, args.port, 2, BARE_APP, "/t/o/warm.gif") as base_url:
            pixels("warm-up", base_url, invalid, 3)
            bare = pixels("bare FastAPI: same GIF", base_url, invalid, args.seconds)
        with running_service(urls, args.port, 2) as base_url:
            pixels("warm-up", base_url, invalid, 3)
            ceiling = pixels("pixel, token does not verify", base_url, invalid, args.seconds)
            tracked = pixels("pixel: open recorded", base_url, tokens, args.seconds)
            time.sleep(1)  # the writer's last gather
            kept_up, _ = count_events(urls, campaign)
        events, opens = count_events(urls, campaign)  # the server has drained its writer
        print(f"load after the runs (1, 5, 15 min): {os.getloadavg()}")
        for timings in (bare, ceiling, tracked):
            print(timings.line())

        phase("summary")
        return 0 if summary(bare, ceiling, tracked, kept_up, events, opens) else 1


def summary(
    bare: Timings, ceiling: Timings, tracked: Timings, kept_up: int, events: int, opens: int
) -> bool:
    ratio = tracked.per_second / bare.per_second
    # Pixels answered faster than their opens are recorded defer that work (to memory, then the
    # spool) until the load drops: the rate the opens were recorded at while wrk ran, apart.
    recorded = min(tracked.requests, kept_up) / tracked.elapsed
    errors = bare.errors + ceiling.errors + tracked.errors
    checks = [
        ("pixel vs bare FastAPI", f"{ratio:.0%}", f">= {TARGET_RATIO:.0%}", ratio >= TARGET_RATIO),
        ("bad token vs bare", f"{ceiling.per_second / bare.per_second:.0%}", "", True),
        (
            "opens recorded in the run",
            f"{kept_up:,}: {recorded:.0f}/s, {recorded / bare.per_second:.0%} of bare",
            "",
            True,
        ),
        ("errors", str(errors), "0", errors == 0),
        # wrk stops with requests in flight: the server may have recorded those too.
        (
            "events recorded",
            f"{events:,} (answered {tracked.requests:,}, sent {tracked.sent:,})",
            "all",
            tracked.requests <= events <= tracked.sent,
        ),
        ("campaign opens_total", f"{opens:,}", "= events", opens == events),
    ]
    for name, value, target, ok in checks:
        print(f"{name:<26} {value:>42}  {target:>8}  {'PASS' if ok else 'FAIL'}")
    return all(ok for *_, ok in checks)


if __name__ == "__main__":
    sys.exit(main())
