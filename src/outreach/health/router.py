"""Liveness and readiness probes (readiness also shows how the background jobs last ran), and
the root, which leads a newcomer to the API docs."""

import logging
from datetime import datetime

from fastapi import APIRouter
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import BaseModel, Field
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from outreach.dependencies import MigrationHead, Sessionmaker
from outreach.jobs.runs import job_runs
from outreach.kit.outage import is_unreachable, outage
from outreach.kit.problems import problem_response

log = logging.getLogger(__name__)
router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str


class JobRunOut(BaseModel):
    job: str
    last_started_at: datetime | None
    last_finished_at: datetime | None
    last_outcome: str | None
    last_detail: str | None


class Readiness(BaseModel):
    status: str
    database: str
    migration: str | None
    jobs: list[JobRunOut] = Field(
        default=[],
        description="Each background job's last run, in any process; a failed job does not "
        "make the service unready",
    )


@router.get("/", include_in_schema=False)
async def root() -> RedirectResponse:
    # 307, not permanent: a landing page may take the root's place one day.
    return RedirectResponse("/docs")


@router.get("/healthz", summary="The process is up", response_model=Health)
async def healthz() -> Health:
    """Answers while the process runs, whatever the database does: for a liveness probe."""
    return Health(status="ok")


@router.get(
    "/readyz",
    summary="The database answers and its schema is at the latest migration",
    response_model=Readiness,
    responses={503: {"description": "Not ready: the database is unreachable or not migrated"}},
)
async def readyz(sessionmaker: Sessionmaker, head: MigrationHead) -> Readiness | JSONResponse:
    """503 while the database does not answer or its schema is not at the migration this code
    expects: for a readiness probe. Also reports the background jobs' last runs."""
    try:
        async with sessionmaker() as session:
            current = await session.scalar(text("SELECT version_num FROM alembic_version"))
    except Exception as exc:  # noqa: BLE001 - any failure to reach the database means not ready
        # The reason goes to the log only: it may name hosts, users and socket paths.
        if is_unreachable(exc):
            outage.failed(exc)
        else:
            log.warning("readiness: the database did not answer: %s", " ".join(str(exc).split()))
        return problem_response(503, "NOT_READY", "Database unreachable")
    if current != head:
        return problem_response(
            503,
            "NOT_READY",
            "Database schema is not at the latest migration",
            f"At {current!r}, expected {head!r}: run `outreach migrate`.",
        )
    return Readiness(status="ok", database="ok", migration=current, jobs=await _jobs(sessionmaker))


async def _jobs(sessionmaker: async_sessionmaker[AsyncSession]) -> list[JobRunOut]:
    try:
        async with sessionmaker() as session:
            return [JobRunOut.model_validate(run) for run in await job_runs(session)]
    except Exception:  # what the jobs did is information, not readiness
        log.warning("could not read the job runs", exc_info=True)
        return []
