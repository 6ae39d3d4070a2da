"""Every metric the service exports, declared in one place, and their exposition.

The domains import the metric they move from here (the package imports no domain back).
Labels are bounded sets only: route templates, never raw paths; job names; outcomes; channels.
No label names an organization, a sender or a campaign: their number grows with the tenants,
and every label value is a series of its own in Prometheus.

Several uvicorn workers (`outreach serve --workers N`) share the figures through
prometheus_client's multiprocess mode: the CLI gives every worker one empty folder in
PROMETHEUS_MULTIPROC_DIR (cli.py), each worker writes its values there, and whichever worker
answers the scrape adds them up. Counters of a worker that died still count (they happened);
its gauges are dropped (`sweep_dead_workers`).
"""

import glob
import os
import re
from collections.abc import Iterable

from prometheus_client import (
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import REGISTRY, Collector

from outreach.kit.processes import is_running
from outreach.observability.workers import multiprocess_dir

# Requests: from a 1 ms pixel to a 10 s report.
REQUEST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
# Jobs: from an idle pass to a long import batch.
JOB_BUCKETS = (0.005, 0.025, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300)

HTTP_REQUESTS = Counter(
    "outreach_http_requests",
    "HTTP requests answered, by method, route template and status",
    ["method", "route", "status"],
)
HTTP_DURATION = Histogram(
    "outreach_http_request_duration_seconds",
    "Time from a request's arrival to the end of its answer, by method and route template",
    ["method", "route"],
    buckets=REQUEST_BUCKETS,
)
TRACKING_HITS = Counter(
    "outreach_tracking_hits",
    "Public tracking requests (open pixel, click, one-click unsubscribe), by whether the "
    "token verified",
    ["kind", "token"],
)
EVENTS_WRITTEN = Counter(
    "outreach_event_writer_written",
    "Tracking events (opens, clicks) the batching writer committed, by event type",
    ["type"],
)
EVENT_QUEUE = Gauge(
    "outreach_event_writer_queue",
    "Tracking events waiting in memory for the writer (all live workers)",
    multiprocess_mode="livesum",
)
EVENTS_SPOOLED = Counter(
    "outreach_event_writer_spooled",
    "Tracking events the writer put in its spool file (memory full, or a stop)",
)
SENDS = Counter(
    "outreach_sends",
    "Messages the send loop tried, by outcome (sent, hard, soft, invalid), channel and "
    "sender transport (smtp: the tenant's server, system: the service's relay, sms)",
    ["outcome", "channel", "transport"],
)
BREAKER_TRIPS = Counter(
    "outreach_sender_breaker_trips",
    "Senders paused by their circuit breaker, by reason",
    ["reason"],
)
JOB_RUNS = Counter(
    "outreach_job_runs",
    "Runs (passes, for continuous jobs) of the background jobs, by job and outcome",
    ["job", "outcome"],
)
JOB_DURATION = Histogram(
    "outreach_job_duration_seconds",
    "How long one run (pass) of a background job took, by job",
    ["job"],
    buckets=JOB_BUCKETS,
)
# Moved by the outbound webhooks' delivery: outcome is `delivered` (a 2xx), `retried` (a
# failure that will be tried again) or `gave_up` (the last attempt failed, or the subscription
# was disabled).
WEBHOOK_DELIVERIES = Counter(
    "outreach_webhook_deliveries",
    "Outbound webhook delivery attempts, by outcome",
    ["outcome"],
)


_LIVE_GAUGE_FILE = re.compile(r"gauge_live\w+?_(\d+)\.db$")


def sweep_dead_workers(path: str) -> list[int]:
    """Drops the live gauges of workers that are gone (uvicorn restarts a worker that died, the
    new one has a new pid): a dead worker's event queue must not count. Done at each scrape, so
    a worker killed without a word (SIGKILL, out of memory) is swept too."""
    dead = set()
    for name in glob.glob(os.path.join(path, "gauge_live*.db")):
        found = _LIVE_GAUGE_FILE.search(name)
        if found and not is_running(int(found.group(1))):
            dead.add(int(found.group(1)))
    for pid in dead:
        multiprocess.mark_process_dead(pid, path)  # type: ignore[no-untyped-call]
    return sorted(dead)


class _Together:
    """Several collectors read as one registry."""

    def __init__(self, collectors: list[Collector]) -> None:
        self.collectors = collectors

    def collect(self) -> Iterable[Metric]:
        for collector in self.collectors:
            yield from collector.collect()


def exposition(extra: Iterable[Collector] = ()) -> bytes:
    """The text format of every metric: this process's, or every worker's in multiprocess
    mode; `extra` adds collectors read at scrape time (the database facts)."""
    path = multiprocess_dir()
    if path is None:
        own: Collector = REGISTRY
    else:
        sweep_dead_workers(path)
        own = multiprocess.MultiProcessCollector(None, path)  # type: ignore[no-untyped-call]
    return generate_latest(_Together([own, *extra]))
