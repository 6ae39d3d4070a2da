"""API key queries. The ones every key-authenticated request runs (`FIND_KEY`, `USABLE_KEY`) are
psycopg statements, sent in the request's one pipelined round trip (kit/tenancy)."""

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncSession

from outreach.kit.keyset import Position

# -- name: find-key. Side effect: notes the key's use, at most once a minute (a write per
# request would make every request of a busy key wait on the same row).
FIND_KEY = """
WITH found AS (
  SELECT id, name, role, expires_at, revoked_at FROM api_keys
  WHERE org_id = %(org_id)s AND key_hash = %(key_hash)s
), touched AS (
  UPDATE api_keys SET last_used_at = now()
  WHERE org_id = %(org_id)s AND id = (SELECT id FROM found) AND revoked_at IS NULL
    AND (expires_at IS NULL OR expires_at > now())
    AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')
)
SELECT id, name, role, revoked_at IS NOT NULL AS revoked,
  coalesce(expires_at <= now(), false) AS expired
FROM found
"""

# Whose request budget a key's request counts: the key's own, and only a usable key's, so a
# made-up key naming an organization leaves no row behind.
USABLE_KEY = """
SELECT 'requests:' || id AS key FROM api_keys
WHERE org_id = %(org_id)s AND key_hash = %(key_hash)s AND revoked_at IS NULL
  AND (expires_at IS NULL OR expires_at > now())
"""

_COLUMNS = "id, name, role, key_hint, created_by, created_at, expires_at, last_used_at, revoked_at"

_ADD_PROFILE = text(
    "INSERT INTO user_profiles (id, org_id, name, role, kind) "
    "VALUES (:id, :org_id, :name, :role, 'api_key')"
)

_ADD_KEY = text(f"""
INSERT INTO api_keys (org_id, id, name, role, key_hash, key_hint, created_by, expires_at)
VALUES (:org_id, :id, :name, :role, :key_hash, :key_hint, :created_by, :expires_at)
RETURNING {_COLUMNS}
""")  # noqa: S608 - the columns are the constant above

_LIVE_KEYS = text(
    "SELECT count(*) FROM api_keys "
    "WHERE revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())"
)


async def live_keys(session: AsyncSession) -> int:
    return int(await session.scalar(_LIVE_KEYS) or 0)


async def add_key(
    session: AsyncSession,
    *,
    org_id: uuid.UUID,
    key_id: uuid.UUID,
    name: str,
    role: str,
    key_hash: bytes,
    key_hint: str,
    created_by: uuid.UUID,
    expires_at: datetime | None,
) -> Row[tuple[object, ...]]:
    """The key and the profile it acts as (auth owns user_profiles; the key is its user)."""
    await session.execute(
        _ADD_PROFILE, {"id": key_id, "org_id": org_id, "name": name, "role": role}
    )
    result = await session.execute(
        _ADD_KEY,
        {
            "org_id": org_id,
            "id": key_id,
            "name": name,
            "role": role,
            "key_hash": key_hash,
            "key_hint": key_hint,
            "created_by": created_by,
            "expires_at": expires_at,
        },
    )
    return result.one()


async def list_keys(
    session: AsyncSession, *, after: Position | None, limit: int
) -> Sequence[Row[tuple[object, ...]]]:
    """Newest first, `limit + 1` rows at most (the extra one tells there is a next page)."""
    query = f"SELECT {_COLUMNS} FROM api_keys"  # noqa: S608 - the constant above
    params: dict[str, object] = {"limit": limit + 1}
    if after is not None:
        query += " WHERE (created_at, id) < (:after_at, :after_id)"
        params |= {"after_at": after[0], "after_id": after[1]}
    query += " ORDER BY created_at DESC, id DESC LIMIT :limit"
    return (await session.execute(text(query), params)).all()


async def get_key(session: AsyncSession, key_id: uuid.UUID) -> Row[tuple[object, ...]] | None:
    query = text(f"SELECT {_COLUMNS} FROM api_keys WHERE id = :id")  # noqa: S608 - the constant
    return (await session.execute(query, {"id": key_id})).one_or_none()


async def revoke_key(session: AsyncSession, key_id: uuid.UUID) -> bool:
    """Revokes the key (a revoked key keeps its first revocation time); False when none."""
    result = await session.execute(
        text(
            "UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) "
            "WHERE id = :id RETURNING id"
        ),
        {"id": key_id},
    )
    return result.first() is not None
