"""A batching event writer for the public tracking endpoints.

A pixel or click answers at once and hands its event here; a background task records the
events gathered over a few milliseconds in one transaction per organization. That turns a
burst of hits on one campaign into a few multi-row statements instead of one contended
transaction per hit. What is still queued when the process stops is recorded before it exits;
a crash loses at most the events of the last few milliseconds (the trade for answering fast).
"""

import asyncio
import logging
import uuid
from collections import defaultdict

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from outreach.events.service import NewEvent, record_events

log = logging.getLogger(__name__)

# Deadlock and serialization failures: the transaction did nothing, so it can run again.
RETRYABLE = frozenset({"40P01", "40001"})
ATTEMPTS = 5


class EventWriter:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        gather_seconds: float = 0.05,
        max_batch: int = 1000,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._gather_seconds = gather_seconds
        self._max_batch = max_batch
        self._queue: asyncio.Queue[tuple[uuid.UUID, NewEvent] | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.recorded = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="event-writer")

    def submit(self, org_id: uuid.UUID, event: NewEvent) -> None:
        self._queue.put_nowait((org_id, event))

    async def stop(self) -> None:
        """Record everything submitted so far, then stop."""
        if self._task is not None:
            self._queue.put_nowait(None)
            await self._task

    async def _run(self) -> None:
        stopping = False
        while not stopping:
            first = await self._queue.get()
            if first is None:
                break
            await asyncio.sleep(self._gather_seconds)  # let a batch gather
            batch = [first]
            while len(batch) < self._max_batch and not self._queue.empty():
                item = self._queue.get_nowait()
                if item is None:
                    stopping = True
                    break
                batch.append(item)
            await self._flush(batch)
        remaining = []
        while not self._queue.empty():
            if (item := self._queue.get_nowait()) is not None:
                remaining.append(item)
        if remaining:
            await self._flush(remaining)

    async def _flush(self, batch: list[tuple[uuid.UUID, NewEvent]]) -> None:
        by_org: dict[uuid.UUID, list[NewEvent]] = defaultdict(list)
        for org_id, event in batch:
            by_org[org_id].append(event)
        for org_id, events in by_org.items():
            await self._record(org_id, events)

    async def _record(self, org_id: uuid.UUID, events: list[NewEvent]) -> None:
        for attempt in range(1, ATTEMPTS + 1):
            try:
                async with self._sessionmaker() as session:
                    session.info["org_id"] = org_id
                    async with session.begin():
                        await record_events(session, org_id, events)
                self.recorded += len(events)
                return
            except Exception as exc:
                retryable = isinstance(exc, DBAPIError) and (
                    getattr(exc.orig, "sqlstate", None) in RETRYABLE
                )
                if retryable and attempt < ATTEMPTS:
                    await asyncio.sleep(0.01 * 2**attempt)
                    continue
                log.exception("lost %d tracking events of organization %s", len(events), org_id)
                return
