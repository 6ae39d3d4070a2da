"""Mailbox queries, the one writer of sender_mailboxes: the settings a person puts, and the
sync state the sync advances."""

import uuid

from sqlalchemy import delete, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

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
