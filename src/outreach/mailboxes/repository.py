"""Mailbox queries, the one writer of sender_mailboxes: the settings a person puts, and the
sync state the sync advances."""

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from outreach.jobs.runs import hold_due_times
from outreach.models import SenderMailbox

# -- settings ---------------------------------------------------------------------------------

# name: put-mailbox (creates or replaces; the mailbox is due at once and its last error is
# cleared). A different mailbox (another host or user name) starts its sync over from its first
# message: UIDs mean nothing across mailboxes, and the Message-ID of each event keeps a message
# read twice from being recorded twice.
PUT_MAILBOX = text("""
INSERT INTO sender_mailboxes AS m (org_id, sender_id, imap_host, imap_port, imap_tls,
                                   imap_username, auth, secret_encrypted)
VALUES (:org_id, :sender_id, :imap_host, :imap_port, :imap_tls, :imap_username, :auth,
        :secret_encrypted)
ON CONFLICT (org_id, sender_id) DO UPDATE SET
  imap_host = excluded.imap_host, imap_port = excluded.imap_port, imap_tls = excluded.imap_tls,
  imap_username = excluded.imap_username, auth = excluded.auth,
  secret_encrypted = excluded.secret_encrypted, last_error = NULL, next_sync_at = now(),
  uid_validity = CASE WHEN m.imap_username <> excluded.imap_username
                        OR lower(m.imap_host) <> lower(excluded.imap_host)
                      THEN NULL ELSE m.uid_validity END,
  last_uid = CASE WHEN m.imap_username <> excluded.imap_username
                    OR lower(m.imap_host) <> lower(excluded.imap_host)
                  THEN 0 ELSE m.last_uid END,
  last_sync_at = CASE WHEN m.imap_username <> excluded.imap_username
                        OR lower(m.imap_host) <> lower(excluded.imap_host)
                      THEN NULL ELSE m.last_sync_at END
""")


async def get_mailbox(session: AsyncSession, sender_id: uuid.UUID) -> SenderMailbox | None:
    query = (
        select(SenderMailbox)
        .where(SenderMailbox.sender_id == sender_id)
        .execution_options(populate_existing=True)
    )
    return (await session.execute(query)).scalar_one_or_none()


async def put_mailbox(
    session: AsyncSession,
    *,
    org_id: uuid.UUID,
    sender_id: uuid.UUID,
    imap_host: str,
    imap_port: int,
    imap_tls: str,
    imap_username: str,
    auth: str,
    secret_encrypted: str,
) -> None:
    await session.execute(
        PUT_MAILBOX,
        {
            "org_id": org_id,
            "sender_id": sender_id,
            "imap_host": imap_host,
            "imap_port": imap_port,
            "imap_tls": imap_tls,
            "imap_username": imap_username,
            "auth": auth,
            "secret_encrypted": secret_encrypted,
        },
    )


async def delete_mailbox(session: AsyncSession, sender_id: uuid.UUID) -> bool:
    """Whether there was one."""
    deleted = await session.execute(
        delete(SenderMailbox)
        .where(SenderMailbox.sender_id == sender_id)
        .returning(SenderMailbox.sender_id)
    )
    return deleted.first() is not None


async def note_test_result(session: AsyncSession, sender_id: uuid.UUID, error: str | None) -> None:
    """A connection test's outcome is the mailbox's last error (none when it passed)."""
    await session.execute(
        update(SenderMailbox).where(SenderMailbox.sender_id == sender_id).values(last_error=error)
    )


# -- sync state ---------------------------------------------------------------------------------


@dataclass
class ClaimedMailbox:
    """A mailbox leased to this worker for one sync (and its IDLE session). `leased_until`
    is the lease this worker holds: a renewal, a release or a failure writes the row only while
    the row still holds that same lease, so a worker whose lease ran out and was taken by
    another never writes over the other's."""

    org_id: uuid.UUID
    sender_id: uuid.UUID
    imap_host: str
    imap_port: int
    imap_tls: str
    imap_username: str
    auth: str
    secret_encrypted: str
    uid_validity: int | None
    last_uid: int
    leased_until: datetime


# name: claim-due-mailboxes (side effect: leases them for `lease` seconds; another worker
# skips them until the lease ends or the sync releases them)
# MATERIALIZED: evaluated once (as a subquery in FROM, a nested loop could run it again for
# each mailbox it read and claim past :limit; see webhooks.repository).
CLAIM_DUE = text("""
WITH due AS MATERIALIZED (
  SELECT sender_id FROM sender_mailboxes
  WHERE next_sync_at <= now() AND (leased_until IS NULL OR leased_until <= now())
  ORDER BY next_sync_at LIMIT :limit FOR UPDATE SKIP LOCKED
)
UPDATE sender_mailboxes m SET leased_until = now() + make_interval(secs => :lease)
FROM due
WHERE m.org_id = :org_id AND m.sender_id = due.sender_id
RETURNING m.org_id, m.sender_id, m.imap_host, m.imap_port, m.imap_tls, m.imap_username, m.auth,
          m.secret_encrypted, m.uid_validity, m.last_uid, m.leased_until
""")
# name: renew-lease (only while this worker still holds it)
RENEW_LEASE = text("""
UPDATE sender_mailboxes SET leased_until = now() + make_interval(secs => :lease)
WHERE sender_id = :sender_id AND leased_until = :held AND leased_until > now()
RETURNING leased_until
""")
# name: advance (in the transaction that records what the messages up to `last_uid` said)
ADVANCE = text("""
UPDATE sender_mailboxes SET uid_validity = :uid_validity, last_uid = :last_uid,
  last_sync_at = now(), last_error = NULL
WHERE sender_id = :sender_id
""")
# name: release (the sync went through: due again after the poll interval)
RELEASE = text("""
UPDATE sender_mailboxes SET leased_until = NULL, last_error = NULL, last_sync_at = now(),
  next_sync_at = now() + make_interval(secs => :poll)
WHERE sender_id = :sender_id AND leased_until = :held
""")
# name: fail (the reason in clear words, and a wait that doubles with the time since the last
# good sync: 1, 2, 4 ... 60 minutes; the first failure after a good sync waits 1 minute)
FAIL = text("""
UPDATE sender_mailboxes SET leased_until = NULL, last_error = :error,
  next_sync_at = now() + CASE WHEN last_error IS NULL THEN interval '1 minute'
    ELSE least(interval '60 minutes', greatest(interval '1 minute',
                                               now() - coalesce(last_sync_at, created_at)))
  END
WHERE sender_id = :sender_id AND leased_until = :held
RETURNING next_sync_at
""")
# The organization's next due mailbox, after a pass changed them (see hold_due_times).
NEXT_DUE = text("""
UPDATE tenant_directory SET mailbox_due_at = (
  SELECT min(greatest(next_sync_at, coalesce(leased_until, next_sync_at))) FROM sender_mailboxes)
WHERE id = :org_id
""")


async def claim_due(
    session: AsyncSession, org_id: uuid.UUID, limit: int, lease_seconds: float
) -> list[ClaimedMailbox]:
    rows = await session.execute(
        CLAIM_DUE, {"org_id": org_id, "limit": limit, "lease": lease_seconds}
    )
    return [ClaimedMailbox(**row) for row in rows.mappings()]


async def renew_lease(
    session: AsyncSession, mailbox: ClaimedMailbox, lease_seconds: float
) -> datetime | None:
    """The lease's new end, if this worker still held it (set `mailbox.leased_until` to it
    once the transaction commits); None: lost."""
    renewed: datetime | None = await session.scalar(
        RENEW_LEASE,
        {"sender_id": mailbox.sender_id, "held": mailbox.leased_until, "lease": lease_seconds},
    )
    return renewed


async def advance(
    session: AsyncSession, sender_id: uuid.UUID, uid_validity: int, last_uid: int
) -> None:
    await session.execute(
        ADVANCE, {"sender_id": sender_id, "uid_validity": uid_validity, "last_uid": last_uid}
    )


async def release(session: AsyncSession, mailbox: ClaimedMailbox, poll_seconds: float) -> None:
    await session.execute(
        RELEASE,
        {"sender_id": mailbox.sender_id, "held": mailbox.leased_until, "poll": poll_seconds},
    )


async def fail(session: AsyncSession, mailbox: ClaimedMailbox, error: str) -> datetime | None:
    """The mailbox's error recorded and its next try put off; answers when that is."""
    later: datetime | None = await session.scalar(
        FAIL,
        {"sender_id": mailbox.sender_id, "held": mailbox.leased_until, "error": error[:1000]},
    )
    return later


async def note_next_due(session: AsyncSession, org_id: uuid.UUID) -> None:
    await hold_due_times(session, org_id)
    await session.execute(NEXT_DUE, {"org_id": org_id})
