"""CSV imports: the upload, stored in 1 MB chunks as it streams in and checked as it starts;
the job that reads the file back in batches, each row checked and added as the JSON bulk add
does, and committed with the import's progress (a crash resumes after the last batch, without
duplicates); progress with an ETA, and the CSV of the rows not taken."""

import asyncio
import csv
import hashlib
import io
import logging
import math
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from outreach.auth.dependencies import ensure_org_and_user, require_writer
from outreach.auth.tokens import Principal
from outreach.campaigns.service import (
    get_campaign_facts,
    get_open_campaign,
    get_writable_campaign,
)
from outreach.contacts.imports import repository
from outreach.contacts.imports.reading import (
    CHUNK_BYTES,
    CsvRows,
    EncodingCheck,
    ReadingError,
    Row,
    contact_of,
    decode_sample,
    detect_delimiter,
    map_header,
)
from outreach.contacts.imports.repository import Counts, Problem
from outreach.contacts.imports.schemas import IMPORTS_PATH, ImportOut
from outreach.contacts.schemas import RowResult
from outreach.contacts.service import add_to_campaign, add_to_org
from outreach.errors import AppError, ValidationFailed, not_found
from outreach.kit.bodylimit import BodyTooLarge
from outreach.kit.tenancy import org_session
from outreach.models import ContactImport

log = logging.getLogger(__name__)

# Rows checked and added in one transaction, committed with the import's progress.
BATCH_ROWS = 1000
# A worker holds its import this long past its last batch; a stopped worker's import is taken
# up by another after it.
LEASE_SECONDS = 300.0
# After a failure that may pass (the database), the import is taken up again after this.
RETRY_SECONDS = 60.0
ERRORS_CSV_HEADER = ("row", "outcome", "codes", "message", "raw")
# A cell a spreadsheet would run as a formula is given as text.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def refused(error: ReadingError) -> ValidationFailed:
    field = "mapping" if error.code.startswith("IMPORT_MAPPING") else "file"
    return ValidationFailed.field(field, error.code, error.message)


# -- the upload --------------------------------------------------------------------------


class UploadSource(Protocol):
    """The file to import and its mapping: a request's form, or a file of the command line.
    `mapping` and `file_name` are read once `file_data()` is exhausted."""

    file_name: str
    found_file: bool  # False: the form had no `file` field

    def file_data(self) -> AsyncIterator[bytes]: ...

    @property
    def mapping(self) -> dict[str, str]: ...


class _StoredFile:
    """The file, written in chunks of CHUNK_BYTES as it arrives, with its size, hash and
    encoding; its header and delimiter read from its first chunk."""

    def __init__(self, session: AsyncSession, record: ContactImport, max_bytes: int) -> None:
        self.session = session
        self.record = record
        self.max_bytes = max_bytes
        self.size = 0
        self.sha256 = hashlib.sha256()
        self.encoding = EncodingCheck()
        self.header: list[str] | None = None
        self.delimiter = ","
        self._buffer = bytearray()
        self._seq = 0

    async def add(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.max_bytes:
            raise BodyTooLarge(self.max_bytes)
        self.sha256.update(data)
        self.encoding.feed(data)
        self._buffer += data
        while len(self._buffer) >= CHUNK_BYTES:
            await self._write(bytes(self._buffer[:CHUNK_BYTES]))
            del self._buffer[:CHUNK_BYTES]

    async def finish(self) -> None:
        self.encoding.feed(b"", final=True)
        if self._buffer:
            await self._write(bytes(self._buffer))
            self._buffer.clear()
        if self.header is None:
            raise ReadingError("IMPORT_FILE_EMPTY", "The file is empty")
        if self.encoding.encoding is None:
            raise ReadingError(
                "IMPORT_ENCODING_UNKNOWN",
                "The file is neither UTF-8 nor Windows-1252: save it as UTF-8 CSV",
            )

    async def _write(self, data: bytes) -> None:
        if self._seq == 0:
            sample = decode_sample(data)
            self.delimiter = detect_delimiter(sample)
            first = next(csv.reader(io.StringIO(sample), delimiter=self.delimiter), None)
            if first is not None:
                self.header = first
        await repository.add_chunk(
            self.session, self.record.org_id, self.record.id, self._seq, data
        )
        self._seq += 1


async def upload(
    session: AsyncSession,
    principal: Principal,
    campaign_id: uuid.UUID | None,
    source: UploadSource,
    max_bytes: int,
) -> ImportOut:
    """Store the file of a new import, queued for the job; into the campaign (which the caller
    may change), else into the organization's people. A file that cannot be imported (empty,
    unknown encoding, no header, a mapping that does not fit it, over `max_bytes`) is refused
    with its code, and nothing of it is kept (the caller's transaction is rolled back)."""
    # Refused before the file is read: a viewer, a campaign not found. The campaign is locked
    # (and its owner and status checked) only once the file is in, so that a long upload does
    # not hold the campaign's row.
    require_writer(principal)
    if campaign_id is not None:
        await get_campaign_facts(session, campaign_id)
    record = await repository.create_import(
        session,
        org_id=principal.org_id,
        campaign_id=campaign_id,
        created_by=principal.user_id,
        status="uploading",
    )
    stored = _StoredFile(session, record, max_bytes)
    try:
        async for data in source.file_data():
            await stored.add(data)
        if not source.found_file:
            raise ReadingError("IMPORT_FILE_MISSING", "Send the CSV file in the field `file`")
        await stored.finish()
        assert stored.header is not None
        mapped = map_header(stored.header, source.mapping)
    except ReadingError as exc:
        raise refused(exc) from None
    if campaign_id is not None:
        await get_writable_campaign(session, principal, campaign_id)
    record.status = "queued"
    record.file_name = source.file_name
    record.file_bytes = stored.size
    record.file_sha256 = stored.sha256.hexdigest()
    record.encoding = stored.encoding.encoding
    record.delimiter = stored.delimiter
    record.mapping = {stored.header[position].strip(): name for position, name in mapped.items()}
    await session.flush()
    await session.refresh(record)
    return import_out(record)


# -- progress ----------------------------------------------------------------------------


def _eta_seconds(record: ContactImport, now: datetime) -> int | None:
    if record.status == "completed":
        return 0
    if record.status != "running" or not record.rows_done or record.started_at is None:
        return None
    if record.rows_total is None:
        return None
    elapsed = (now - record.started_at).total_seconds()
    rate = record.rows_done / max(elapsed, 0.001)
    return math.ceil((record.rows_total - record.rows_done) / rate)


def import_out(record: ContactImport) -> ImportOut:
    return ImportOut(
        id=record.id,
        status=record.status,
        campaign_id=record.campaign_id,
        file_name=record.file_name,
        file_bytes=record.file_bytes,
        file_sha256=record.file_sha256,
        encoding=record.encoding,
        delimiter=record.delimiter,
        mapping=record.mapping,
        rows_total=record.rows_total,
        rows_done=record.rows_done,
        created=record.created,
        updated=record.updated,
        skipped=record.skipped,
        invalid=record.invalid,
        eta_seconds=_eta_seconds(record, datetime.now(UTC)),
        errors_url=f"{IMPORTS_PATH}/{record.id}/errors.csv",
        error=record.error,
        created_at=record.created_at,
        started_at=record.started_at,
        finished_at=record.finished_at,
    )


async def get_import(session: AsyncSession, import_id: uuid.UUID) -> ImportOut:
    record = await repository.get_import(session, import_id)
    if record is None:
        raise not_found("Import")
    return import_out(record)


def _cell(value: str) -> str:
    return f"'{value}" if value.startswith(_FORMULA_STARTS) else value


async def errors_csv(session: AsyncSession, import_id: uuid.UUID) -> AsyncIterator[str]:
    """The invalid and skipped rows as CSV, in the file's order, a few hundred rows at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(ERRORS_CSV_HEADER)
    written = 0
    async for problem in repository.problems(session, import_id):
        writer.writerow(
            (
                problem.row_number,
                problem.outcome,
                " ".join(problem.codes),
                _cell(problem.message),
                _cell(problem.raw),
            )
        )
        written += 1
        if written % 200 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


# -- the job -----------------------------------------------------------------------------


class _LeaseLost(Exception):
    """Another worker took the import over (this one stalled past its lease)."""


@dataclass
class _Plan:
    org_id: uuid.UUID
    import_id: uuid.UUID
    campaign_id: uuid.UUID | None
    encoding: str
    delimiter: str
    mapping: dict[str, str]
    rows_done: int
    rows_total: int | None


Progress = Callable[[int, int | None], None]


async def _file_rows(
    sessionmaker: async_sessionmaker[AsyncSession], plan: _Plan, rows: CsvRows
) -> AsyncIterator[Row]:
    """The file's data rows, read back chunk by chunk (one short transaction each)."""
    seq = 0
    while True:
        while rows.wants_more:
            async with org_session(sessionmaker, plan.org_id) as session, session.begin():
                data = await repository.chunk(session, plan.import_id, seq)
            rows.feed(data or b"", final=data is None)
            seq += 1
        for row in rows.read():
            yield row
        if rows.feed_lines.ended:  # and read to its end
            return


def _problem(row: Row, result: RowResult) -> Problem:
    if result.errors:
        codes = [error.code for error in result.errors]
        message = "; ".join(f"{error.field}: {error.message}" for error in result.errors)
    else:
        codes, message = [result.code or ""], result.message or ""
    return Problem(row.line, result.status, codes, message, row.raw)


def _too_many_values(row: Row, header_width: int) -> Problem | None:
    if any(value.strip() for value in row.values[header_width:]):
        message = f"The row has {len(row.values)} values for {header_width} columns"
        return Problem(row.line, "invalid", ["IMPORT_ROW_TOO_MANY_VALUES"], message, row.raw)
    return None


async def _add_batch(
    sessionmaker: async_sessionmaker[AsyncSession],
    plan: _Plan,
    header: list[str],
    batch: list[Row],
) -> None:
    """One batch, in one transaction with the import's progress."""
    mapping = map_header(header, plan.mapping)
    problems: list[Problem] = []
    taken: list[Row] = []
    for row in batch:
        problem = _too_many_values(row, len(header))
        if problem is None:
            taken.append(row)
        else:
            problems.append(problem)
    contacts: list[Any] = [contact_of(row.values, mapping) for row in taken]
    async with org_session(sessionmaker, plan.org_id) as session, session.begin():
        if not await repository.hold_import(session, plan.import_id, plan.rows_done, LEASE_SECONDS):
            raise _LeaseLost
        if plan.campaign_id is not None:
            campaign = await get_open_campaign(session, plan.campaign_id)
            results = (await add_to_campaign(session, campaign, contacts)).results
        else:
            results = await add_to_org(session, plan.org_id, contacts)
        problems += [
            _problem(row, result)
            for row, result in zip(taken, results, strict=True)
            if result.status in ("invalid", "skipped")
        ]
        counts = Counts(
            created=sum(result.status == "created" for result in results),
            updated=sum(result.status == "updated" for result in results),
            skipped=sum(result.status == "skipped" for result in results),
            invalid=sum(problem.outcome == "invalid" for problem in problems),
        )
        rows_done = batch[-1].number
        await repository.record_batch(
            session, plan.org_id, plan.import_id, rows_done, counts, problems
        )
    plan.rows_done = rows_done


async def _count_rows(sessionmaker: async_sessionmaker[AsyncSession], plan: _Plan) -> int:
    total = 0
    async for _ in _file_rows(sessionmaker, plan, CsvRows(plan.encoding, plan.delimiter)):
        total += 1
    async with org_session(sessionmaker, plan.org_id) as session, session.begin():
        await repository.set_rows_total(session, plan.import_id, total)
    return total


async def _process(
    sessionmaker: async_sessionmaker[AsyncSession], plan: _Plan, progress: Progress | None
) -> None:
    if plan.rows_total is None:
        plan.rows_total = await _count_rows(sessionmaker, plan)
    rows = CsvRows(plan.encoding, plan.delimiter)
    batch: list[Row] = []
    async for row in _file_rows(sessionmaker, plan, rows):
        if row.number <= plan.rows_done:
            continue  # done before a crash
        batch.append(row)
        if len(batch) == BATCH_ROWS:
            assert rows.header is not None
            await _add_batch(sessionmaker, plan, rows.header, batch)
            batch = []
            if progress is not None:
                progress(plan.rows_done, plan.rows_total)
    if batch:
        assert rows.header is not None
        await _add_batch(sessionmaker, plan, rows.header, batch)
        if progress is not None:
            progress(plan.rows_done, plan.rows_total)


async def _plan(
    sessionmaker: async_sessionmaker[AsyncSession], org_id: uuid.UUID, import_id: uuid.UUID
) -> _Plan:
    async with org_session(sessionmaker, org_id) as session, session.begin():
        record = await repository.get_import(session, import_id)
        assert record is not None
        assert record.encoding is not None  # set when the upload was queued
        return _Plan(
            org_id=org_id,
            import_id=import_id,
            campaign_id=record.campaign_id,
            encoding=record.encoding,
            delimiter=record.delimiter or ",",
            mapping=dict(record.mapping),
            rows_done=record.rows_done,
            rows_total=record.rows_total,
        )


async def _finish(
    sessionmaker: async_sessionmaker[AsyncSession],
    plan: _Plan,
    status: str,
    error: str | None = None,
) -> None:
    async with org_session(sessionmaker, plan.org_id) as session, session.begin():
        await repository.finish_import(session, plan.import_id, status, error)


async def run_import(
    sessionmaker: async_sessionmaker[AsyncSession],
    org_id: uuid.UUID,
    import_id: uuid.UUID | None = None,
    progress: Progress | None = None,
) -> uuid.UUID | None:
    """Claim the organization's next waiting import (or this one) and run it to its end;
    answers the import run, None when there was none to claim. A file or campaign that cannot
    take the rows fails the import with the reason; any other failure leaves it to be taken up
    again after RETRY_SECONDS, where it stopped, and is raised."""
    async with org_session(sessionmaker, org_id) as session, session.begin():
        claimed = await repository.claim_import(session, LEASE_SECONDS, import_id)
    if claimed is None:
        return None
    plan = await _plan(sessionmaker, org_id, claimed)
    try:
        await _process(sessionmaker, plan, progress)
    except _LeaseLost:
        log.warning("import %s was taken over by another worker", claimed)
        return claimed
    except (ReadingError, AppError) as exc:
        reason = exc.message if isinstance(exc, ReadingError) else exc.title
        await _finish(sessionmaker, plan, "failed", f"{exc.code}: {reason}")
        return claimed
    except Exception as exc:
        async with org_session(sessionmaker, org_id) as session, session.begin():
            await repository.release_import(
                session, claimed, f"{type(exc).__name__}: {exc}"[:500], RETRY_SECONDS
            )
        raise
    await _finish(sessionmaker, plan, "completed")
    return claimed


# -- from the command line -----------------------------------------------------------------

POLL_SECONDS = 0.5


async def import_now(
    sessionmaker: async_sessionmaker[AsyncSession],
    principal: Principal,
    campaign_id: uuid.UUID | None,
    source: UploadSource,
    max_bytes: int,
    progress: Progress,
) -> ImportOut:
    """Upload as the API does, then run the import here (or, if a worker took it first, follow
    it), telling `progress` as it goes; answers the import as it ended."""
    async with org_session(sessionmaker, principal.org_id) as session, session.begin():
        await ensure_org_and_user(session, principal)
        started = await upload(session, principal, campaign_id, source, max_bytes)
    await run_import(sessionmaker, principal.org_id, started.id, progress)
    while True:
        async with org_session(sessionmaker, principal.org_id) as session, session.begin():
            current = await get_import(session, started.id)
        if current.status in ("completed", "failed"):
            return current
        progress(current.rows_done, current.rows_total)
        await asyncio.sleep(POLL_SECONDS)
