"""Rate limits counted in PostgreSQL, so that every process and every API replica shares them.

A fixed window per (organization, key): one row counts its uses, the windows before it are
deleted as the next one starts, so the table holds at most one row per organization and key.
The same statement counts an organization's operations (the sender test, `take_one`) and
each caller's requests (`RequestBudget`, sent with the API key's lookup in one round trip).
"""

import math
import time
import uuid
from dataclasses import dataclass
from typing import Any

from cachetools import LRUCache
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from outreach.errors import RateLimited

WINDOW_SECONDS = 60


def take_statement(who: str) -> str:
    """Counts `uses` uses in the current window of the key that the SQL `who` gives (one row
    with a column `key`; no row counts nothing and answers `uses` null). psycopg parameters:
    `org_id`, `seconds`, `uses` and those of `who`.

    -- name: take. Side effects: counts the uses, and deletes the key's older windows."""
    return f"""
WITH window_start AS (
  SELECT to_timestamp(floor(extract(epoch FROM now()) / %(seconds)s) * %(seconds)s) AS at
), who AS ({who}), gone AS (
  DELETE FROM rate_limit_windows
  WHERE org_id = %(org_id)s AND key = (SELECT key FROM who)
    AND window_start < (SELECT at FROM window_start)
), counted AS (
  INSERT INTO rate_limit_windows (org_id, key, window_start, uses)
  SELECT %(org_id)s, who.key, window_start.at, %(uses)s FROM who, window_start
  ON CONFLICT (org_id, key, window_start)
    DO UPDATE SET uses = rate_limit_windows.uses + excluded.uses
  RETURNING uses
)
SELECT (SELECT uses FROM counted) AS uses,
  ceil(extract(epoch FROM at + make_interval(secs => %(seconds)s) - now()))::int AS reset,
  extract(epoch FROM at + make_interval(secs => %(seconds)s) - now())::float8 AS remaining
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


def refusal(
    limit: int, reset: int, what: str = "", window_seconds: int = WINDOW_SECONDS
) -> RateLimited:
    """429 with Retry-After and the RateLimit headers, nothing left for `reset` seconds."""
    allowance = Allowance(limit, 0, reset)
    return RateLimited(
        detail=f"At most {limit} {what}per {window_seconds} seconds; try again in {reset} s.",
        headers={"Retry-After": str(reset), **allowance.headers()},
    )


async def take_one(
    session: AsyncSession, org_id: uuid.UUID, key: str, *, limit: int, window_seconds: int
) -> Allowance:
    """Counts one use of `key` by the organization in the current window; raises RateLimited
    (with Retry-After) past `limit`. The count holds once the session's transaction commits."""
    connection = await session.connection()
    result = await connection.exec_driver_sql(
        TAKE_KEY, {"org_id": org_id, "key": key, "seconds": window_seconds, "uses": 1}
    )
    row = result.mappings().one()
    reset = max(1, int(row["reset"]))
    if row["uses"] > limit:
        raise refusal(limit, reset, window_seconds=window_seconds)
    return Allowance(limit, limit - row["uses"], reset)


@dataclass
class _Lease:
    """Requests of one caller this process was granted in the current window, not yet made."""

    left: int
    others: int  # what the database had left for everyone else once it granted them
    ends: float  # epoch seconds, at most the window's end
    refused: bool = False  # nothing was left: refused until the window ends


class RequestBudget:
    """Requests per minute per caller (a user, an API key): OUTREACH_RATE_LIMIT_PER_MINUTE,
    0 for none.

    Counted in PostgreSQL, shared by every replica, but not one write per request: a process
    takes a slice of its caller's budget at once (1 % of it, at least 1: 6 of 600) and spends
    it from memory until the slice or the window runs out. Never more than the budget is
    granted across the replicas in a window; a caller may be refused while other processes
    still hold unspent slices (at most a slice less one per process). A refusal is remembered
    until the window ends (the count only grows within a window): a caller that keeps asking
    past its budget costs the database nothing more."""

    def __init__(self, per_minute: int, callers: int = 10_000) -> None:
        self.per_minute = per_minute
        self.slice = max(1, per_minute // 100)
        self._leases: LRUCache[str, _Lease] = LRUCache(maxsize=callers)

    @property
    def enabled(self) -> bool:
        return self.per_minute > 0

    def spend(self, caller: str) -> Allowance | None:
        """One request from the caller's slice in this process; None when the database must be
        asked (no slice, spent, or its window over); 429 when the caller was refused in this
        window already."""
        lease = self._leases.get(caller)
        now = time.time()
        if lease is None or now >= lease.ends:
            return None
        if lease.refused:
            raise refusal(self.per_minute, max(1, math.ceil(lease.ends - now)), "requests ")
        if lease.left <= 0:
            return None
        lease.left -= 1
        reset = max(1, math.ceil(lease.ends - now))
        return Allowance(self.per_minute, lease.others + lease.left, reset)

    def statement(self, who: str, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """The statement that takes a slice for the caller that `who` names (see take_statement)."""
        return take_statement(who), {**params, "seconds": WINDOW_SECONDS, "uses": self.slice}

    def granted(self, caller: str, row: dict[str, Any]) -> Allowance:
        """The allowance once the slice of `row` (the statement's answer) is taken: this request
        is its first; 429 when none of it could be granted."""
        reset = max(1, int(row["reset"]))
        if row["uses"] is None:  # nothing counted (the organization's very first request)
            return Allowance(self.per_minute, self.per_minute, reset)
        uses = int(row["uses"])
        granted = min(self.slice, self.per_minute - (uses - self.slice))
        others = max(0, self.per_minute - uses)
        # The slice lasts until its window ends, as the database sees it (`reset` is rounded up).
        ends = time.time() + float(row["remaining"])
        if granted <= 0:
            self._leases[caller] = _Lease(0, 0, ends, refused=True)
            raise refusal(self.per_minute, reset, "requests ")
        self._leases[caller] = _Lease(granted - 1, others, ends)
        return Allowance(self.per_minute, others + granted - 1, reset)


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
