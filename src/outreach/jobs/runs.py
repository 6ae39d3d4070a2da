"""Job bookkeeping: each run of a background job is logged and recorded in `job_runs`, and
the per-organization fan-out every job shares, in which each campaign fails alone."""

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from outreach.kit.outage import is_unreachable, outage
from outreach.observability.logs import log_context
from outreach.observability.metrics import JOB_DURATION, JOB_RUNS

# The jobs' way in to the tenancy module (kit/tenancy owns it).

log = logging.getLogger(__name__)

T = TypeVar("T")
DETAIL_LENGTH = 500


@dataclass(frozen=True)
class JobReport:
    """What one run did, in one line; `done` 0 means there was nothing to do."""

    done: int
    detail: str
    ok: bool = True


_STARTED = text("""
INSERT INTO job_runs (job, last_started_at) VALUES (:job, now())
ON CONFLICT (job) DO UPDATE SET last_started_at = now()
""")
_FINISHED = text("""
INSERT INTO job_runs (job, last_started_at, last_finished_at, last_outcome, last_detail, runs)
VALUES (:job, now(), clock_timestamp(), :outcome, :detail, 1)
ON CONFLICT (job) DO UPDATE SET last_finished_at = clock_timestamp(),
  last_outcome = :outcome, last_detail = :detail, runs = job_runs.runs + 1
""")
_RUNS = text("""
SELECT job, last_started_at, last_finished_at, last_outcome, last_detail, runs
FROM job_runs ORDER BY job
""")


async def run_recorded(
    sessionmaker: async_sessionmaker[AsyncSession],
    name: str,
    job: Callable[[], Awaitable[JobReport]],
) -> JobReport:
    """Run the job, log what it did and record the run; a failing job is logged and
    recorded as failed, never raised (the scheduler only wakes jobs up). What it logs carries
    the job's name."""
    with log_context(job=name):
        await _record(sessionmaker, _STARTED, {"job": name})
        started = time.perf_counter()
        try:
            report = await job()
        except Exception as exc:
            if is_unreachable(exc):  # logged once per outage
                outage.failed(exc)
            else:
                log.exception("job %s failed", name)
            report = JobReport(0, f"{type(exc).__name__}: {exc}", ok=False)
        else:
            if not report.ok:
                log.warning("job %s: %s", name, report.detail)
            elif report.done:
                log.info("job %s: %s", name, report.detail)
            else:
                log.debug("job %s: %s", name, report.detail)
        outcome = "ok" if report.ok else "failed"
        JOB_DURATION.labels(name).observe(time.perf_counter() - started)
        JOB_RUNS.labels(name, outcome).inc()
        detail = " ".join(report.detail.split())[:DETAIL_LENGTH]
        await _record(sessionmaker, _FINISHED, {"job": name, "outcome": outcome, "detail": detail})
    return report


async def _record(
    sessionmaker: async_sessionmaker[AsyncSession], statement: Any, params: dict[str, Any]
) -> None:
    # The record is a report, not the work: losing one must not stop the job.
    try:
        async with sessionmaker() as session, session.begin():
            await session.execute(statement, params)
    except Exception as exc:
        if is_unreachable(exc):
            outage.failed(exc)
        else:
            log.warning("could not record the run of job %s", params["job"], exc_info=True)


async def job_runs(session: AsyncSession) -> list[dict[str, Any]]:
    """The last run of every job that ever ran, by job name."""
    rows = await session.execute(_RUNS)
    return [dict(row) for row in rows.mappings()]


# -- fan-out per organization -----------------------------------------------------------


@dataclass
class OrgResults(Generic[T]):
    """What each organization's share of a job gave, and which organizations failed."""

    results: dict[uuid.UUID, T] = field(default_factory=dict)
    failed: list[uuid.UUID] = field(default_factory=list)


_ALL_ORGS = text("SELECT id FROM tenant_directory LIMIT :limit")
_OUTBOX_DUE_ORGS = text(
    "SELECT id FROM tenant_directory WHERE outbox_due_at <= now() "
    "ORDER BY outbox_due_at LIMIT :limit"
)
_WORKFLOW_DUE_ORGS = text(
    "SELECT id FROM tenant_directory WHERE workflow_due_at <= :at "
    "ORDER BY workflow_due_at LIMIT :limit"
)
_MAILBOX_DUE_ORGS = text(
    "SELECT id FROM tenant_directory WHERE mailbox_due_at <= now() "
    "ORDER BY mailbox_due_at LIMIT :limit"
)
_WEBHOOK_DUE_ORGS = text(
    "SELECT id FROM tenant_directory WHERE webhook_due_at <= now() "
    "ORDER BY webhook_due_at LIMIT :limit"
)
_HOLD_DUE_TIMES = text("SELECT 1 FROM tenant_directory WHERE id = :org_id FOR NO KEY UPDATE")


async def hold_due_times(session: AsyncSession, org_id: uuid.UUID) -> None:
    """Lock the organization's due times (outbox, workflow, mailboxes, webhooks) for this
    transaction; call it before the statement that computes the next due time from the rows.
    That statement then sees every wake-up committed before it: a single UPDATE that waited
    for the row would compute from the snapshot it took before waiting, and overwrite the
    wake-up committed meanwhile, leaving due work asleep."""
    await session.execute(_HOLD_DUE_TIMES, {"org_id": org_id})


async def for_each_org(
    sessionmaker: async_sessionmaker[AsyncSession],
    work: Callable[[uuid.UUID], Awaitable[T]],
    what: str,
    *,
    outbox_due: bool = False,
    workflow_due_at: datetime | None = None,
    mailbox_due: bool = False,
    webhook_due: bool = False,
    limit: int | None = None,
    stopping: asyncio.Event | None = None,
) -> OrgResults[T]:
    """Run `work` for every organization in turn (with `outbox_due`, only those with due
    outbox messages, the longest due first; with `workflow_due_at`, only those with workflow
    states due by then, the same way; with `mailbox_due`, only those with mailboxes due to
    sync; with `webhook_due`, only those with webhook deliveries due; at most `limit` of them);
    one organization's failure is
    logged and does not stop the others. A set `stopping` ends the pass early."""
    async with sessionmaker() as session:
        if workflow_due_at is not None:
            query, params = _WORKFLOW_DUE_ORGS, {"limit": limit, "at": workflow_due_at}
        elif mailbox_due:
            query, params = _MAILBOX_DUE_ORGS, {"limit": limit}
        elif webhook_due:
            query, params = _WEBHOOK_DUE_ORGS, {"limit": limit}
        else:
            query, params = (_OUTBOX_DUE_ORGS if outbox_due else _ALL_ORGS), {"limit": limit}
        org_ids = list((await session.execute(query, params)).scalars())
    outcome: OrgResults[T] = OrgResults()
    for org_id in org_ids:
        if stopping is not None and stopping.is_set():
            break
        try:
            with log_context(org=org_id):
                outcome.results[org_id] = await work(org_id)
        except Exception:
            log.exception("%s failed for organization %s", what, org_id)
            outcome.failed.append(org_id)
    return outcome


def with_failures(
    detail: str, failed_orgs: Sequence[uuid.UUID], failed_campaigns: Sequence[uuid.UUID] = ()
) -> str:
    """A run's detail, with how many campaigns and organizations failed (the log says which,
    and why)."""
    if failed_campaigns:
        detail += f"; {len(failed_campaigns)} campaigns failed"
    if failed_orgs:
        detail += f"; {len(failed_orgs)} organizations failed"
    return detail


@asynccontextmanager
async def campaign_alone(
    what: str, campaign_id: uuid.UUID, failed: list[uuid.UUID]
) -> AsyncIterator[None]:
    """One campaign's share of a job, which fails alone: its failure is logged with the reason,
    the campaign noted in `failed`, and the job goes on with the next one. Open the transaction
    or savepoint of the campaign's work inside this block, so that its changes are undone."""
    try:
        yield
    except Exception:
        log.exception("%s failed for campaign %s", what, campaign_id)
        failed.append(campaign_id)
