"""Rate limits counted in PostgreSQL, so that every process and every API replica shares them.

A fixed window per (organization, key): one row counts its uses, the windows before it are
deleted as the next one starts, so the table holds at most one row per organization and key.
The same statement counts an organization's operations (the sender test, `take_one`) and
each caller's requests (`RequestBudget`, sent with the API key's lookup in one round trip).
"""

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from outreach.errors import RateLimited

WINDOW_SECONDS = 60


def take_statement(who: str) -> str:
    """Counts one use in the current window of the key that the SQL `who` gives (one row with a
    column `key`; no row counts nothing and answers `uses` null). psycopg parameters: `org_id`,
    `seconds`, and those of `who`.

    -- name: take-one. Side effects: counts one use, and deletes the key's older windows."""
    return f"""
WITH window_start AS (
  SELECT to_timestamp(floor(extract(epoch FROM now()) / %(seconds)s) * %(seconds)s) AS at
), who AS ({who}), gone AS (
  DELETE FROM rate_limit_windows
  WHERE org_id = %(org_id)s AND key = (SELECT key FROM who)
    AND window_start < (SELECT at FROM window_start)
), counted AS (
  INSERT INTO rate_limit_windows (org_id, key, window_start, uses)
  SELECT %(org_id)s, who.key, window_start.at, 1 FROM who, window_start
  ON CONFLICT (org_id, key, window_start) DO UPDATE SET uses = rate_limit_windows.uses + 1
  RETURNING uses
)
SELECT (SELECT uses FROM counted) AS uses,
  ceil(extract(epoch FROM at + make_interval(secs => %(seconds)s) - now()))::int AS reset
FROM window_start
"""  # noqa: S608 - `who` is the callers' own SQL, never input


TAKE_KEY = take_statement("SELECT %(key)s::text AS key")


@dataclass(frozen=True)
class Allowance:
    limit: int
    remaining: int
    reset_seconds: int  # until the window ends

    def headers(self) -> dict[str, str]:
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_seconds),
        }


def allowance_of(row: dict[str, Any], limit: int, window_seconds: int) -> Allowance:
    """What is left after the use `row` (of `take_statement`) counted; raises RateLimited
    (with Retry-After and the RateLimit headers) past `limit`."""
    uses = int(row["uses"] or 0)
    reset = max(1, int(row["reset"]))
    allowance = Allowance(limit, max(0, limit - uses), reset)
    if uses > limit:
        raise RateLimited(
            detail=f"At most {limit} per {window_seconds} seconds; try again in {reset} s.",
            headers={"Retry-After": str(reset), **allowance.headers()},
        )
    return allowance


async def take_one(
    session: AsyncSession, org_id: uuid.UUID, key: str, *, limit: int, window_seconds: int
) -> Allowance:
    """Counts one use of `key` by the organization in the current window; raises RateLimited
    (with Retry-After) past `limit`. The count holds once the session's transaction commits."""
    connection = await session.connection()
    result = await connection.exec_driver_sql(
        TAKE_KEY, {"org_id": org_id, "key": key, "seconds": window_seconds}
    )
    return allowance_of(dict(result.one()._mapping), limit, window_seconds)


@dataclass(frozen=True)
class RequestBudget:
    """Requests per minute per caller (a user, an API key): OUTREACH_RATE_LIMIT_PER_MINUTE,
    0 for none. Its statement runs in the request's first round trip to the database."""

    per_minute: int

    @property
    def enabled(self) -> bool:
        return self.per_minute > 0

    def statement(self, who: str, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        return take_statement(who), {**params, "seconds": WINDOW_SECONDS}

    def allowance(self, row: dict[str, Any]) -> Allowance:
        return allowance_of(row, self.per_minute, WINDOW_SECONDS)


REQUEST_ALLOWANCE = "rate_limit"  # where the request's Allowance is kept (the ASGI scope's state)


class RateLimitHeaders:
    """Adds the RateLimit-* headers of the caller's budget to every response of a counted
    request (a refusal carries its own, with Retry-After)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})

        async def send_with_headers(message: Message) -> None:
            allowance: Allowance | None = state.get(REQUEST_ALLOWANCE)
            if message["type"] == "http.response.start" and allowance is not None:
                headers = message.setdefault("headers", [])
                names = {name.lower() for name, _ in headers}
                headers.extend(
                    (name.lower().encode(), value.encode())
                    for name, value in allowance.headers().items()
                    if name.lower().encode() not in names
                )
            await send(message)

        await self.app(scope, receive, send_with_headers)
