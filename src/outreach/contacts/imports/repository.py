"""Queries for CSV imports: the import row, its file in chunks, its problem rows, and the claim
and lease of the import job."""

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from outreach.models import ContactImport


@dataclass(frozen=True)
class Problem:
    """A row the import did not take: invalid, or skipped (a repeat, in the campaign already,
    suppressed), with its codes."""

    row_number: int
    outcome: str
    codes: list[str]
    message: str
    raw: str


@dataclass(frozen=True)
class Counts:
    created: int = 0
    updated: int = 0
    skipped: int = 0
    invalid: int = 0


async def create_import(session: AsyncSession, **values: Any) -> ContactImport:
    contact_import = ContactImport(**values)
    session.add(contact_import)
    await session.flush()
    return contact_import


_ADD_CHUNK = text("""
INSERT INTO contact_import_chunks (org_id, import_id, seq, data)
VALUES (:org_id, :import_id, :seq, :data)
""")


async def add_chunk(
    session: AsyncSession, org_id: uuid.UUID, import_id: uuid.UUID, seq: int, data: bytes
) -> None:
    await session.execute(
        _ADD_CHUNK, {"org_id": org_id, "import_id": import_id, "seq": seq, "data": data}
    )


_CHUNK = text("SELECT data FROM contact_import_chunks WHERE import_id = :import_id AND seq = :seq")


async def chunk(session: AsyncSession, import_id: uuid.UUID, seq: int) -> bytes | None:
    data: bytes | None = await session.scalar(_CHUNK, {"import_id": import_id, "seq": seq})
    return data


async def get_import(session: AsyncSession, import_id: uuid.UUID) -> ContactImport | None:
    return await session.get(ContactImport, import_id, populate_existing=True)


# -- name: claim-import. Side effect: the import is `running` under a lease of this worker.
# A queued import, or a running one whose lease ran out (its worker stopped), oldest first.
_CLAIM = text("""
UPDATE contact_imports SET status = 'running',
  leased_until = now() + make_interval(secs => :lease_seconds),
  started_at = coalesce(started_at, now())
WHERE id = (
  SELECT id FROM contact_imports
  WHERE (status = 'queued' OR (status = 'running' AND leased_until < now()))
    AND (CAST(:import_id AS uuid) IS NULL OR id = :import_id)
  ORDER BY created_at
  LIMIT 1
  FOR UPDATE SKIP LOCKED)
RETURNING id
""")


async def claim_import(
    session: AsyncSession, lease_seconds: float, import_id: uuid.UUID | None = None
) -> uuid.UUID | None:
    """An import to run (this one only, when given); one another worker holds is skipped."""
    claimed: uuid.UUID | None = await session.scalar(
        _CLAIM, {"lease_seconds": lease_seconds, "import_id": import_id}
    )
    return claimed


# -- name: hold-import. Side effect: the lease renewed. Locks the import for the batch's
# transaction, and only while it is where this worker left it: another worker that took it
# over (this one stalled past its lease) makes it answer nothing.
_HOLD = text("""
UPDATE contact_imports SET leased_until = now() + make_interval(secs => :lease_seconds)
WHERE id = :import_id AND status = 'running' AND rows_done = :rows_done
RETURNING id
""")


async def hold_import(
    session: AsyncSession, import_id: uuid.UUID, rows_done: int, lease_seconds: float
) -> bool:
    held = await session.scalar(
        _HOLD, {"import_id": import_id, "rows_done": rows_done, "lease_seconds": lease_seconds}
    )
    return held is not None


_SET_TOTAL = text("UPDATE contact_imports SET rows_total = :rows_total WHERE id = :import_id")


async def set_rows_total(session: AsyncSession, import_id: uuid.UUID, rows_total: int) -> None:
    await session.execute(_SET_TOTAL, {"import_id": import_id, "rows_total": rows_total})


_ADVANCE = text("""
UPDATE contact_imports SET rows_done = :rows_done, created = created + :created,
  updated = updated + :updated, skipped = skipped + :skipped, invalid = invalid + :invalid,
  error = NULL
WHERE id = :import_id
""")
_ADD_PROBLEMS = text("""
INSERT INTO contact_import_problems (org_id, import_id, row_number, outcome, codes, message, raw)
SELECT :org_id, :import_id, p.row_number, p.outcome, p.codes, p.message, p.raw
FROM jsonb_to_recordset(CAST(:problems AS jsonb))
  AS p (row_number integer, outcome text, codes text[], message text, raw text)
""")


async def record_batch(
    session: AsyncSession,
    org_id: uuid.UUID,
    import_id: uuid.UUID,
    rows_done: int,
    counts: Counts,
    problems: list[Problem],
) -> None:
    """The batch's counts and problem rows, with the row the import is at."""
    await session.execute(
        _ADVANCE, {"import_id": import_id, "rows_done": rows_done, **asdict(counts)}
    )
    if problems:
        await session.execute(
            _ADD_PROBLEMS,
            {
                "org_id": org_id,
                "import_id": import_id,
                "problems": json.dumps([asdict(problem) for problem in problems]),
            },
        )


_FINISH = text("""
UPDATE contact_imports SET status = :status, error = :error, finished_at = now(),
  leased_until = NULL
WHERE id = :import_id
""")


async def finish_import(
    session: AsyncSession, import_id: uuid.UUID, status: str, error: str | None = None
) -> None:
    """`completed` or `failed`; the file is deleted (its problem rows stay)."""
    await session.execute(_FINISH, {"import_id": import_id, "status": status, "error": error})
    await session.execute(_DELETE_CHUNKS, {"import_id": import_id})


_DELETE_CHUNKS = text("DELETE FROM contact_import_chunks WHERE import_id = :import_id")
_RELEASE = text("""
UPDATE contact_imports SET leased_until = now() + make_interval(secs => :retry_seconds),
  error = :error
WHERE id = :import_id AND status = 'running'
""")


async def release_import(
    session: AsyncSession, import_id: uuid.UUID, error: str, retry_seconds: float
) -> None:
    """Given up by this run (a failure that may pass): taken again after `retry_seconds`."""
    await session.execute(
        _RELEASE, {"import_id": import_id, "error": error, "retry_seconds": retry_seconds}
    )


_PROBLEMS = text("""
SELECT row_number, outcome, codes, message, raw FROM contact_import_problems
WHERE import_id = :import_id ORDER BY row_number
""")


async def problems(session: AsyncSession, import_id: uuid.UUID) -> AsyncIterator[Problem]:
    """The import's problem rows in the file's order, read from a server-side cursor."""
    rows = await session.stream(
        _PROBLEMS.execution_options(yield_per=500), {"import_id": import_id}
    )
    async for row in rows:
        yield Problem(*row)


# -- name: forget-problems-mentioning (a person's erasure: the rows kept as read that hold the
# address go)
_FORGET_PROBLEMS = text("""
DELETE FROM contact_import_problems WHERE strpos(lower(raw), lower(:address)) > 0
""")


async def forget_problems_mentioning(session: AsyncSession, address: str) -> int:
    deleted = await session.execute(_FORGET_PROBLEMS, {"address": address})
    return deleted.rowcount  # type: ignore[attr-defined,no-any-return]
