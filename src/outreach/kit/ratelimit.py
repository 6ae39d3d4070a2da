"""Per-organization rate limits, counted in PostgreSQL so that every process shares them.

A fixed window per (organization, key): one row counts its uses, the windows before it are
deleted as the next one starts, so the table holds at most one row per organization and key.
"""

import uuid
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from outreach.errors import RateLimited

# -- name: take-one. Side effects: counts one use, and deletes the key's older windows.
TAKE = text("""
WITH window_start AS (
  SELECT to_timestamp(floor(extract(epoch FROM now()) / :seconds) * :seconds) AS at
), gone AS (
  DELETE FROM rate_limit_windows
  WHERE org_id = :org_id AND key = :key AND window_start < (SELECT at FROM window_start)
)
INSERT INTO rate_limit_windows (org_id, key, window_start, uses)
SELECT :org_id, :key, at, 1 FROM window_start
ON CONFLICT (org_id, key, window_start) DO UPDATE SET uses = rate_limit_windows.uses + 1
RETURNING uses,
  ceil(extract(epoch FROM window_start + make_interval(secs => :seconds) - now()))::int AS reset
""")


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


async def take_one(
    session: AsyncSession, org_id: uuid.UUID, key: str, *, limit: int, window_seconds: int
) -> Allowance:
    """Counts one use of `key` by the organization in the current window; raises RateLimited
    (with Retry-After) past `limit`. The count holds once the session's transaction commits."""
    row = (
        await session.execute(TAKE, {"org_id": org_id, "key": key, "seconds": window_seconds})
    ).one()
    reset = max(1, int(row.reset))
    allowance = Allowance(limit, max(0, limit - int(row.uses)), reset)
    if int(row.uses) > limit:
        raise RateLimited(
            detail=f"At most {limit} per {window_seconds} seconds; try again in {reset} s.",
            headers={"Retry-After": str(reset), **allowance.headers()},
        )
    return allowance
