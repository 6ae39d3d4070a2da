"""The database facts of /metrics, read when a scrape asks and kept for a while.

Outbox depth, due walks and lags are facts of the database, not of a process: they are read at
scrape time by the worker that answers it (at most once per `metrics_db_seconds` per worker,
whatever the scrape rate), not counted by the job loops, which only see their own share. A
scrape while the database is unreachable answers the process metrics without these facts and
`outreach_db_facts_up 0`.
"""

import asyncio
import logging
import time
from collections.abc import Iterator

from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from outreach.kit.outage import is_unreachable, outage
from outreach.observability.repository import Facts, read_facts

log = logging.getLogger(__name__)


class DatabaseFacts:
    """A prometheus_client collector of the last facts read; `refresh` reads them again when
    they are older than `max_age` seconds."""

    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], max_age: float, max_orgs: int
    ) -> None:
        self._sessionmaker = sessionmaker
        self._max_age = max_age
        self._max_orgs = max_orgs
        self._lock = asyncio.Lock()
        self._facts: Facts | None = None
        self._read_at = -float("inf")
        self._seconds = 0.0

    async def refresh(self) -> None:
        async with self._lock:  # concurrent scrapes share one reading
            if time.monotonic() - self._read_at < self._max_age:
                return
            started = time.monotonic()
            try:
                async with self._sessionmaker() as session, session.begin():
                    self._facts = await read_facts(session, self._max_orgs)
            except Exception as exc:
                if is_unreachable(exc):
                    outage.failed(exc)
                else:
                    log.exception("could not read the database facts of /metrics")
                self._facts = None
            self._read_at = time.monotonic()
            self._seconds = self._read_at - started

    def collect(self) -> Iterator[Metric]:
        facts = self._facts
        yield GaugeMetricFamily(
            "outreach_db_facts_up",
            "1 when the database facts below were read at the last try, else 0",
            value=int(facts is not None),
        )
        if facts is None:
            return
        yield GaugeMetricFamily(
            "outreach_db_facts_seconds", "How long reading the facts took", value=self._seconds
        )
        organizations = GaugeMetricFamily(
            "outreach_db_facts_organizations",
            "Organizations (all), and those the outbox and workflow counts cover (counted: at "
            "most OUTREACH_METRICS_DB_ORGS, those with the oldest due work first)",
            labels=["scope"],
        )
        organizations.add_metric(["all"], facts.organizations)
        organizations.add_metric(["counted"], facts.counted)
        yield organizations
        outbox = GaugeMetricFamily(
            "outreach_outbox_messages",
            "Outbox messages not finished, by status",
            labels=["status"],
        )
        for status, count in facts.outbox.items():
            outbox.add_metric([status], count)
        yield outbox
        yield GaugeMetricFamily(
            "outreach_outbox_due_messages",
            "Queued outbox messages whose time has come",
            value=facts.outbox_due,
        )
        yield GaugeMetricFamily(
            "outreach_outbox_due_organizations",
            "Organizations whose outbox has work due (a queued message or an expired lease)",
            value=facts.outbox_due_orgs,
        )
        yield GaugeMetricFamily(
            "outreach_outbox_lag_seconds",
            "How long the oldest due outbox work has waited (0: nothing due)",
            value=facts.outbox_lag,
        )
        yield GaugeMetricFamily(
            "outreach_workflow_due_states",
            "Sequence walks (running or waiting) whose next step is due",
            value=facts.workflow_due,
        )
        yield GaugeMetricFamily(
            "outreach_workflow_due_organizations",
            "Organizations with walks due for the workflow engine",
            value=facts.workflow_due_orgs,
        )
        yield GaugeMetricFamily(
            "outreach_workflow_lag_seconds",
            "How long the oldest due walk has waited for the workflow engine (0: nothing due)",
            value=facts.workflow_lag,
        )
