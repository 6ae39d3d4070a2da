"""The cost of metrics and JSON logs: requests/s of the campaign list (GET /api/v1/campaigns)
and of the open pixel (GET /t/o/{token}.gif) with them off and on, in the same run.

Off: OUTREACH_METRICS=false, text logs, no access log (what the service did before /metrics).
On: OUTREACH_METRICS=true and OUTREACH_LOG_FORMAT=json, whose access log is on by default (a
JSON line per request but the pixel's and the click's, written to a pipe as to a container
runtime's log collector). Each is `outreach serve --workers 2` (multiprocess metrics, as
deployed), both running at once, read by wrk in turns: in each round, each route is read off
then on (or on then off, alternating) within seconds, so that the machine's drift falls on
both alike; each pair gives a cost, 1 - on/off; the summary is the median of the rounds' costs;
the target is under 10 % for each route. At the end, the pixel requests the "on" server's
/metrics counted (wrk's, warm-up included).

    .venv/bin/python bench/observability.py                      # 6 rounds of 5 s per run
    .venv/bin/python bench/observability.py --rounds 2 --seconds 3   # quick
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg
from prometheus_client.parser import text_string_to_metric_families

from campaign_reads import (
    Timings,
    fresh_database,
    phase,
    run_wrk,
    stop,
    wait_until_ready,
    wrk_request,
)
from outreach.auth.tokens import Role, mint_token
from outreach.config import get_settings
from outreach.db import DatabaseUrls
from outreach.kit.dburls import libpq_url
from outreach.tracking.tokens import TokenKind, TrackingSigner, TrackingToken
from tracking_pixel import free_port, load, pixel

TARGET_COST = 0.10
CONNECTIONS = 32
LIST_CAMPAIGNS = 50
OUTREACH = str(Path(sys.executable).parent / "outreach")
OFF = {"OUTREACH_METRICS": "false", "OUTREACH_LOG_FORMAT": "text", "OUTREACH_ACCESS_LOG": "false"}
ON = {"OUTREACH_METRICS": "true", "OUTREACH_LOG_FORMAT": "json"}


def add_campaigns(urls: DatabaseUrls, org: uuid.UUID, owner: uuid.UUID) -> None:
    with psycopg.connect(libpq_url(urls.owner)) as conn, conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO campaigns (org_id, name, owner_id) VALUES (%s, %s, %s)",
            [(org, f"Campaign {n}", owner) for n in range(LIST_CAMPAIGNS)],
        )


def owner_of(urls: DatabaseUrls, org: uuid.UUID) -> uuid.UUID:
    with psycopg.connect(libpq_url(urls.owner)) as conn:
        row = conn.execute("SELECT id FROM user_profiles WHERE org_id = %s", (org,)).fetchone()
    assert row is not None
    return uuid.UUID(str(row[0]))


@contextmanager
def served(urls: DatabaseUrls, port: int, settings: dict[str, str], log: Path) -> Iterator[str]:
    """`outreach serve --workers 2`, its log (stderr and stdout) to `log`; stopped on the way
    out."""
    env = (
        os.environ
        | settings
        | {
            "DATABASE_URL": urls.app,
            "DATABASE_OWNER_URL": urls.owner,
            "OUTREACH_RUN_JOBS": "false",  # the same quiet machine for both: no job passes
            "OUTREACH_SMTP_URL": "smtp://127.0.0.1:25",  # no mail catcher: nothing is sent
            "OUTREACH_DATA_DIR": tempfile.mkdtemp(prefix="outreach-bench-"),
            # every request counted against its caller's budget, never refused (both alike)
            "OUTREACH_RATE_LIMIT_PER_MINUTE": "1000000",
        }
    )
    # Through a pipe, as to a container runtime or a log shipper, which `cat` files. (While the
    # lines were written on the event loop, a busy reader or disk stalled the workers: the
    # pixel lost 40 to 77 % of its throughput; logs.BackgroundHandler writes from a thread.)
    with log.open("ab") as output:
        shipper = subprocess.Popen(["cat"], stdin=subprocess.PIPE, stdout=output)
    assert shipper.stdin is not None
    server = subprocess.Popen(
        [OUTREACH, "serve", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=shipper.stdin,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    shipper.stdin.close()
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(server, base_url)
        yield base_url
    finally:
        stop(server)
        shipper.wait(timeout=10)


def counted(base_url: str, route: str) -> float:
    text = httpx.get(f"{base_url}/metrics", timeout=10).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "outreach_http_requests_total" and sample.labels.get("route") == route
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seconds", type=int, default=5, help="per route, configuration and round")
    parser.add_argument("--contacts", type=int, default=2000, help="pixel tokens")
    args = parser.parse_args()
    if subprocess.run(["which", "wrk"], capture_output=True, check=False).returncode:
        print("this benchmark drives the service with wrk: install it (apt-get install wrk)")
        return 2
    settings = get_settings()
    signer = TrackingSigner(settings.tracking_secrets)
    logs = Path(tempfile.mkdtemp(prefix="outreach-bench-logs-"))
    rounds: dict[tuple[str, str], list[Timings]] = {}
    with fresh_database() as urls:
        phase(f"load: {args.contacts:,} contacts to open, {LIST_CAMPAIGNS} campaigns to list")
        org, campaign, members = load(urls, args.contacts)
        owner = owner_of(urls, org)
        add_campaigns(urls, org, owner)
        token = mint_token(settings, org_id=org, user_id=owner, role=Role.ADMIN)
        lists = [wrk_request("/api/v1/campaigns?limit=50", token)]
        pixels = [
            pixel(signer.sign(TrackingToken(TokenKind.OPEN, org, campaign, m))) for m in members
        ]
        phase(f"wrk: {CONNECTIONS} connections, 2 workers, {args.seconds} s per route and run")
        print(f"load before the runs (1, 5, 15 min): {os.getloadavg()}")
        # Both servers up at once, idle while the other is read: each route's off and on runs
        # follow each other within seconds, the first of the pair alternating, so that the
        # machine's drift falls on both alike.
        with (
            served(urls, free_port(), OFF, logs / "off.log") as off_url,
            served(urls, free_port(), ON, logs / "on.log") as on_url,
        ):
            bases = {"off": off_url, "on": on_url}
            for base_url in bases.values():
                run_wrk("warm-up", base_url, lists + pixels[:100], 2, CONNECTIONS)
            for round_ in range(1, args.rounds + 1):
                order = ("off", "on") if round_ % 2 else ("on", "off")
                for route, requests in (("list", lists), ("pixel", pixels)):
                    for name in order:
                        label = f"{route}, observability {name} #{round_}"
                        timings = run_wrk(label, bases[name], requests, args.seconds, CONNECTIONS)
                        print(timings.line(), flush=True)
                        rounds.setdefault((route, name), []).append(timings)
            pixel_count = counted(on_url, "/t/o/{token}.gif")
            print(f"/metrics of the 'on' server counts {pixel_count:,.0f} pixel requests")
        print(f"load after the runs (1, 5, 15 min): {os.getloadavg()}")
        lines = sum(1 for _ in (logs / "on.log").open("rb"))
        print(f"JSON log lines written by the 'on' servers: {lines:,} ({logs / 'on.log'})")

    phase("summary: the cost in each round (1 - on/off), and their median")
    passed = True
    for route in ("list", "pixel"):
        pairs = list(zip(rounds[route, "off"], rounds[route, "on"], strict=True))
        costs = [1 - on.per_second / off.per_second for off, on in pairs]
        cost = statistics.median(costs)
        errors = sum(t.errors for pair in pairs for t in pair)
        ok = cost < TARGET_COST and errors == 0
        passed &= ok
        shown = ", ".join(
            f"{off.per_second:.0f} -> {on.per_second:.0f} req/s ({c:.1%})"
            for (off, on), c in zip(pairs, costs, strict=True)
        )
        print(
            f"{route:<6} {shown}; median cost {cost:.1%} (< {TARGET_COST:.0%}) errors={errors}"
            f"  {'PASS' if ok else 'FAIL'}"
        )
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
