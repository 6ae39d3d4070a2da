"""Liveness and readiness probes."""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text

from outreach.kit.problems import problem_response

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    database: str
    migration: str | None


@router.get("/healthz", summary="The process is up", response_model=Health)
async def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    summary="The database answers and its schema is at the latest migration",
    response_model=Readiness,
    responses={503: {"description": "Not ready: the database is unreachable or not migrated"}},
)
async def readyz(request: Request) -> Readiness | JSONResponse:
    head = request.app.state.migration_head
    try:
        async with request.app.state.sessionmaker() as session:
            current = await session.scalar(text("SELECT version_num FROM alembic_version"))
    except Exception as exc:  # noqa: BLE001 - any failure to reach the database means not ready
        return problem_response(503, "NOT_READY", "Database unreachable", str(exc)[:200])
    if current != head:
        return problem_response(
            503,
            "NOT_READY",
            "Database schema is not at the latest migration",
            f"At {current!r}, expected {head!r}: run `outreach migrate`.",
        )
    return Readiness(status="ok", database="ok", migration=current)
