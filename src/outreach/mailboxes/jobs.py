"""The `mailbox_sync` job: it claims due mailboxes (leased, SKIP LOCKED) organization by
organization and syncs each in a task of its own, at most OUTREACH_MAILBOX_CONNECTIONS at once.
A server with IDLE is then held in IDLE for a bounded session (the lease renewed) and read as
soon as it announces a message; other mailboxes are due again after the poll interval.

One mailbox's failure (login refused, unreachable, TLS) is written on it in clear words and
backs it off; the others go on.
"""

import asyncio
import contextlib
import logging
import uuid
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from outreach.config import Settings
from outreach.jobs.registry import JobList, Pass
from outreach.jobs.runs import JobReport, for_each_org, with_failures
from outreach.kit.targets import TargetGuard
from outreach.kit.tenancy import org_session
from outreach.mailboxes import repository
from outreach.mailboxes.client import MailboxConnection, MailboxError, connect
from outreach.mailboxes.repository import ClaimedMailbox
from outreach.mailboxes.sync import (
    CHUNK,
    LeaseLost,
    SecretUnreadable,
    SyncState,
    read_new,
    settings_of,
)
from outreach.sending.secrets import SenderSecrets, sender_secrets

log = logging.getLogger(__name__)

JOBS = JobList()

IDLE_SESSION_SECONDS = 300.0  # one IDLE session, then the mailbox goes back to the pool
IDLE_SLICE_SECONDS = 25.0  # IDLE is renewed (and the lease with it) this often
LEASE_MARGIN_SECONDS = 120.0  # beyond the work the lease covers: connect, read, log out
UNEXPECTED = "The sync failed unexpectedly (the service logged why); it is tried again later."


@dataclass
class MailboxSync:
    """Claims and syncs mailboxes; `idle_seconds` 0 syncs once without holding IDLE."""

    sessionmaker: async_sessionmaker[AsyncSession]
    secrets: SenderSecrets
    guard: TargetGuard
    poll_seconds: float
    connections: int
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    idle_seconds: float = IDLE_SESSION_SECONDS
    chunk: int = CHUNK
    running: set[asyncio.Task[None]] = field(default_factory=set)

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        stopping: asyncio.Event | None = None,
    ) -> "MailboxSync":
        return cls(
            sessionmaker,
            sender_secrets(tuple(settings.sender_secret_keys)),
            TargetGuard.for_settings(settings),
            settings.mailbox_poll_seconds,
            settings.mailbox_connections,
            stopping or asyncio.Event(),
        )

    @property
    def lease_seconds(self) -> float:
        return self.idle_seconds + LEASE_MARGIN_SECONDS

    async def claim(self, limit: int) -> tuple[list[ClaimedMailbox], list[uuid.UUID]]:
        """Up to `limit` due mailboxes, organization after organization; and the
        organizations whose claim failed."""
        claimed: list[ClaimedMailbox] = []

        async def claim_in(org_id: uuid.UUID) -> int:
            async with org_session(self.sessionmaker, org_id) as session, session.begin():
                found = await repository.claim_due(
                    session, org_id, limit - len(claimed), self.lease_seconds
                )
                await repository.note_next_due(session, org_id)
            claimed.extend(found)
            return len(found)

        outcome = await for_each_org(
            self.sessionmaker,
            claim_in,
            "claiming mailboxes",
            mailbox_due=True,
            limit=limit,
            stopping=self.stopping,
        )
        return claimed, outcome.failed

    async def start_due(self) -> JobReport:
        """One pass of the job: due mailboxes claimed within the free connections, each synced
        in a task of its own."""
        free = self.connections - len(self.running)
        if free <= 0:
            return JobReport(0, f"all {self.connections} mailbox connections in use")
        claimed, failed = await self.claim(free)
        for mailbox in claimed:
            task = asyncio.create_task(self.sync(mailbox))
            self.running.add(task)
            task.add_done_callback(self.running.discard)
        return JobReport(
            len(claimed), with_failures(f"started {len(claimed)} mailbox syncs", failed)
        )

    async def sync_due(self) -> int:
        """Claim the due mailboxes and sync them, waiting for the end: how many were synced."""
        claimed, _ = await self.claim(self.connections)
        await asyncio.gather(*(self.sync(mailbox) for mailbox in claimed))
        return len(claimed)

    async def sync(self, mailbox: ClaimedMailbox) -> None:
        """One mailbox: read what is new, then (IDLE) what arrives during the session; the
        mailbox released (one held in IDLE is due again at once, to go back to IDLE at the
        next pass; others after the poll interval), or its error recorded. Never raises."""
        error: str | None = None
        idled = False
        try:
            settings = settings_of(mailbox, self.secrets)
            state = SyncState(mailbox.uid_validity, mailbox.last_uid)
            async with connect(settings, self.guard) as connection:
                await read_new(
                    self.sessionmaker, mailbox, connection, state, self.lease_seconds, self.chunk
                )
                if connection.can_idle and self.idle_seconds > 0:
                    idled = True
                    await self._idle(mailbox, connection, state)
        except LeaseLost:  # the mailbox is another worker's now: nothing of it is ours to write
            log.info("mailbox of sender %s: lease lost to another worker", mailbox.sender_id)
            return
        except (MailboxError, SecretUnreadable) as exc:
            error = str(exc)
            log.warning("mailbox of sender %s: %s", mailbox.sender_id, error)
        except Exception:
            error = UNEXPECTED
            log.exception("mailbox of sender %s: the sync failed", mailbox.sender_id)
        try:
            async with org_session(self.sessionmaker, mailbox.org_id) as session, session.begin():
                if error is None:
                    wait = 0.0 if idled else self.poll_seconds
                    await repository.release(session, mailbox, wait)
                else:
                    await repository.fail(session, mailbox, error)
                await repository.note_next_due(session, mailbox.org_id)
        except Exception:  # its lease runs out: another pass takes it again
            log.exception("mailbox of sender %s: could not record the sync", mailbox.sender_id)

    async def _idle(
        self, mailbox: ClaimedMailbox, connection: MailboxConnection, state: SyncState
    ) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.idle_seconds
        while not self.stopping.is_set() and (left := deadline - loop.time()) > 0:
            async with org_session(self.sessionmaker, mailbox.org_id) as session, session.begin():
                renewed = await repository.renew_lease(session, mailbox, self.lease_seconds)
            if renewed is None:
                raise LeaseLost
            mailbox.leased_until = renewed
            heard = asyncio.create_task(connection.wait_for_new(min(left, IDLE_SLICE_SECONDS)))
            stop = asyncio.create_task(self.stopping.wait())
            await asyncio.wait({heard, stop}, return_when=asyncio.FIRST_COMPLETED)
            stop.cancel()
            if not heard.done():
                heard.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await heard
                return
            # Read after every slice, not only when the server said EXISTS during it: a
            # message that arrives between two slices (while IDLE is ended and begun again) is
            # announced outside either, and would wait for the next one.
            await read_new(
                self.sessionmaker, mailbox, connection, state, self.lease_seconds, self.chunk
            )


@JOBS.loop("mailbox_sync", idle=lambda _settings: 1.0)
def _mailbox_sync(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], stopping: asyncio.Event
) -> Pass:
    worker = MailboxSync.from_settings(settings, sessionmaker, stopping)
    return worker.start_due
