"""A batching event writer for the public tracking endpoints.

A pixel or click answers at once and hands its event here; a background task records the
events gathered over half a second in one transaction per organization. That turns a burst of
hits on one campaign into a few multi-row statements instead of one contended transaction per
hit; the larger the batch, the less each event costs (in Python and in PostgreSQL).

While the database is unreachable the events wait, up to `memory_limit` in memory and the rest
in a spool file (events/spool.py), and are recorded when it is back. What is still waiting when
the process stops goes to the spool, which the next process to start replays. Each event carries
an id of its own (its provider_event_id), so an event written twice (a replay after a crash in
the middle of a write) is recorded once. A crash of the process loses what it held in memory.
"""

import asyncio
import contextlib
import itertools
import logging
import uuid
from collections import Counter, defaultdict, deque
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from outreach.events.service import NewEvent, record_events
from outreach.events.spool import Pending, Spool
from outreach.kit.outage import is_unreachable, outage
from outreach.kit.tenancy import org_session
from outreach.observability.metrics import EVENT_QUEUE, EVENTS_SPOOLED, EVENTS_WRITTEN

log = logging.getLogger(__name__)

# Deadlock and serialization failures: the transaction did nothing, so it can run again.
RETRYABLE = frozenset({"40P01", "40001"})
ATTEMPTS = 5
# How often an unreachable database is tried again.
RETRY_SECONDS = 1.0
# How long a stop waits for the database before spooling what is left.
STOP_SECONDS = 10.0


class EventWriter:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        spool_dir: Path,
        *,
        memory_limit: int = 20_000,
        gather_seconds: float = 0.5,
        max_batch: int = 1000,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._memory_limit = memory_limit
        self._gather_seconds = gather_seconds
        self._max_batch = max_batch
        self._pending: deque[Pending] = deque()
        self._spool = Spool(spool_dir)
        self._wakeup = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.recorded = 0  # events written (a replayed duplicate too)

    @property
    def spilled(self) -> int:
        """Events that went to the spool because memory was full or the process stopped."""
        return self._spool.spilled

    def start(self) -> None:
        self._spool.claim_orphans()
        if self._spool.to_replay:
            self._wakeup.set()
        self._task = asyncio.create_task(self._run(), name="event-writer")

    def submit(self, org_id: uuid.UUID, event: NewEvent) -> None:
        if len(self._pending) < self._memory_limit:
            self._pending.append((org_id, event))
        else:
            self._spool.append([(org_id, event)])
            EVENTS_SPOOLED.inc()
        self._wakeup.set()

    async def stop(self) -> None:
        """Record everything submitted so far, then stop; what the database does not take
        within STOP_SECONDS goes to the spool."""
        self._stopping.set()
        self._wakeup.set()
        if self._task is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._task, STOP_SECONDS)
        if self._pending:
            self._spool.append(list(self._pending))
            log.warning("spooled %d tracking events for the next start", len(self._pending))
            EVENTS_SPOOLED.inc(len(self._pending))
            self._pending.clear()
            EVENT_QUEUE.set(0)
        self._spool.close()

    async def _run(self) -> None:
        while True:
            await self._wakeup.wait()
            stopping = self._stopping.is_set()  # a stop during this pass asks for one more
            if not stopping:
                await asyncio.sleep(self._gather_seconds)  # let a batch gather
            self._wakeup.clear()
            # Set once a pass, not on each submit: a gauge in shared memory costs a lock.
            EVENT_QUEUE.set(len(self._pending))
            while not await self._write_all():  # unreachable: try again in a while
                if self._stopping.is_set():
                    return  # stop() spools what is left
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), RETRY_SECONDS)
            if stopping:
                return

    async def _write_all(self) -> bool:
        """Record what waits in memory, then what waits in the spool; False as soon as the
        database is unreachable (what was not recorded keeps waiting)."""
        if not await self._write_memory():
            return False
        self._spool.seal()
        while self._spool.to_replay:
            spooled = self._spool.to_replay[0]
            for chunk in spooled.chunks(self._max_batch):
                if not await self._flush(chunk) or not await self._write_memory():
                    return False
            spooled.remove()
            self._spool.to_replay.pop(0)
        return True

    async def _write_memory(self) -> bool:
        while self._pending:
            batch = list(itertools.islice(self._pending, self._max_batch))
            if not await self._flush(batch):
                return False
            for _ in batch:
                self._pending.popleft()
            EVENT_QUEUE.set(len(self._pending))
        return True

    async def _flush(self, batch: list[Pending]) -> bool:
        by_org: dict[uuid.UUID, list[NewEvent]] = defaultdict(list)
        for org_id, event in batch:
            by_org[org_id].append(event)
        for org_id, events in by_org.items():
            if not await self._record(org_id, events):
                return False
        return True

    async def _record(self, org_id: uuid.UUID, events: list[NewEvent]) -> bool:
        """False when the database is unreachable; True when recorded, or lost to an error
        that trying again would not cure."""
        attempt = 1
        while True:
            try:
                async with org_session(self._sessionmaker, org_id) as session, session.begin():
                    await record_events(session, org_id, events)
            except Exception as exc:
                if is_unreachable(exc):
                    outage.failed(exc)
                    return False
                retryable = isinstance(exc, DBAPIError) and (
                    getattr(exc.orig, "sqlstate", None) in RETRYABLE
                )
                if retryable and attempt < ATTEMPTS:
                    await asyncio.sleep(0.01 * 2**attempt)
                    attempt += 1
                    continue
                log.exception("lost %d tracking events of organization %s", len(events), org_id)
                return True
            self.recorded += len(events)
            for event_type, count in Counter(str(e.event_type) for e in events).items():
                EVENTS_WRITTEN.labels(event_type).inc(count)
            return True


# Async on purpose: a sync dependency would cost every request a hop to the thread pool.
async def get_event_writer(request: Request) -> EventWriter:
    writer: EventWriter = request.app.state.event_writer
    return writer


EventWriterDep = Annotated[EventWriter, Depends(get_event_writer)]
