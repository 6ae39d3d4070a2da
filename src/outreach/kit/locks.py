"""Advisory locks named by text, held until the end of the transaction that takes them: for
work that must run once at a time across processes but has no row to lock."""

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

_TRY = text("SELECT pg_try_advisory_xact_lock(hashtextextended(:key, 0))")
_WAIT = text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))")


async def try_advisory_xact_lock(session: AsyncSession, key: str) -> bool:
    """Take the lock named `key` for this transaction; False at once if another holds it."""
    return bool(await session.scalar(_TRY, {"key": key}))


async def advisory_xact_lock(session: AsyncSession, key: str) -> None:
    """Wait for the lock named `key`, then hold it for this transaction."""
    await session.execute(_WAIT, {"key": key})
