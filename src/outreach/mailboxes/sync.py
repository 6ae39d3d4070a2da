"""One mailbox's sync: its new messages by UID, each classified, matched to the campaign
contact it answers and recorded as events; the last UID advanced in the transaction of those
events, chunk by chunk, so a crash neither misses nor repeats a message.

A changed UIDVALIDITY makes every UID new again: the sync starts over from UID 0, and the
events' provider id (the message's Message-ID) keeps a message read twice from counting twice.
"""

import hashlib
import logging
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from outreach.events.service import NewEvent, record_events
from outreach.events.state import EventType
from outreach.inbox.repository import InboundReply, record_reply
from outreach.kit.tenancy import org_session
from outreach.mailboxes import classify, repository
from outreach.mailboxes.client import (
    AuthKind,
    Fetched,
    MailboxConnection,
    MailboxSettings,
    TlsMode,
)
from outreach.mailboxes.repository import ClaimedMailbox
from outreach.sending.secrets import InvalidToken, SenderSecrets

log = logging.getLogger(__name__)

PROVIDER = "imap"
CHUNK = 100  # messages per transaction
SUBJECT_MAX_CHARS = 998


class SecretUnreadable(Exception):
    """The stored secret was encrypted with a key the service no longer has."""


class LeaseLost(Exception):
    """The mailbox's lease ran out and another worker took it: this one stops reading."""


def settings_of(mailbox: ClaimedMailbox, secrets: SenderSecrets) -> MailboxSettings:
    try:
        secret = secrets.decrypt(mailbox.secret_encrypted)
    except InvalidToken as exc:
        raise SecretUnreadable(
            "The mailbox's password or token cannot be decrypted (the service's keys changed): "
            "put the mailbox's settings again."
        ) from exc
    tls: TlsMode = mailbox.imap_tls  # type: ignore[assignment]  # a database constraint
    auth: AuthKind = mailbox.auth  # type: ignore[assignment]
    return MailboxSettings(
        mailbox.imap_host, mailbox.imap_port, tls, mailbox.imap_username, auth, secret
    )


@dataclass
class SyncState:
    """Where a mailbox's reading stands (its row's uid_validity and last_uid)."""

    uid_validity: int | None
    last_uid: int


async def read_new(
    sessionmaker: async_sessionmaker[AsyncSession],
    mailbox: ClaimedMailbox,
    connection: MailboxConnection,
    state: SyncState,
    lease_seconds: float,
    chunk: int = CHUNK,
) -> int:
    """Read what arrived since `state` (moved along as chunks commit); answers how many
    messages were read. Each chunk renews the mailbox's lease in its transaction, so a long
    first sync keeps it; a lease already lost raises LeaseLost before anything is recorded."""
    if state.uid_validity != connection.uid_validity:
        if state.uid_validity is not None:
            log.info(
                "mailbox of sender %s: UIDVALIDITY changed (%s -> %s), reading it again",
                mailbox.sender_id,
                state.uid_validity,
                connection.uid_validity,
            )
        state.last_uid = 0
    uids = await connection.uids_after(state.last_uid)
    for start in range(0, len(uids), chunk):
        batch = uids[start : start + chunk]
        fetched = await connection.fetch(batch)
        async with org_session(sessionmaker, mailbox.org_id) as session, session.begin():
            renewed = await repository.renew_lease(session, mailbox, lease_seconds)
            if renewed is None:
                raise LeaseLost
            await _record_chunk(session, mailbox, fetched)
            await repository.advance(session, mailbox.sender_id, connection.uid_validity, batch[-1])
        mailbox.leased_until = renewed
        state.uid_validity, state.last_uid = connection.uid_validity, batch[-1]
    if state.uid_validity != connection.uid_validity:  # an empty mailbox: note its validity
        async with org_session(sessionmaker, mailbox.org_id) as session, session.begin():
            await repository.advance(session, mailbox.sender_id, connection.uid_validity, 0)
        state.uid_validity, state.last_uid = connection.uid_validity, 0
    return len(uids)


@dataclass(frozen=True)
class Found:
    """What one message gives: its events and, for a reply, its inbox row."""

    events: list[NewEvent]
    reply: InboundReply | None = None

    def with_inbox_message(self, inbox_message_id: uuid.UUID) -> list[NewEvent]:
        """The events, the reply's naming its inbox row (the reply in context in the contact's
        activity)."""
        return [
            replace(event, data={**event.data, "inbox_message_id": str(inbox_message_id)})
            if event.event_type == EventType.RESPONSE_RECEIVED
            else event
            for event in self.events
        ]


async def _record_chunk(
    session: AsyncSession, mailbox: ClaimedMailbox, fetched: list[Fetched]
) -> None:
    events: list[NewEvent] = []
    for message in fetched:
        if message.raw is None:
            log.warning(
                "mailbox of sender %s: message UID %s skipped: %s",
                mailbox.sender_id,
                message.uid,
                message.skipped,
            )
            continue
        try:
            found = await _read_one(session, mailbox, message.raw)
        except Exception:  # one unreadable message never stops its mailbox
            log.warning(
                "mailbox of sender %s: message UID %s could not be read, skipped",
                mailbox.sender_id,
                message.uid,
                exc_info=True,
            )
            continue
        if found is None:
            continue
        if found.reply is None:
            events += found.events
        else:
            inbox_message_id = await record_reply(session, mailbox.org_id, found.reply)
            events += found.with_inbox_message(inbox_message_id)
    if events:
        await record_events(session, mailbox.org_id, events)


@dataclass(frozen=True)
class Match:
    campaign_id: uuid.UUID
    campaign_contact_id: uuid.UUID
    step: str | None
    matched_by: str  # thread / address


# Our messages by their Message-ID, within the organization (row-level security).
BY_MESSAGE_ID = text("""
SELECT message_id, campaign_id, campaign_contact_id, step FROM outbox_messages
WHERE message_id = ANY(:ids)
""")
# The most recently contacted campaign contact with this address among those this sender sent to.
BY_ADDRESS = text("""
SELECT o.campaign_id, o.campaign_contact_id, o.step FROM outbox_messages o
JOIN campaign_contacts cc ON cc.org_id = o.org_id AND cc.id = o.campaign_contact_id
JOIN contacts c ON c.org_id = cc.org_id AND c.id = cc.contact_id
WHERE o.sender_id = :sender_id AND o.sent_at IS NOT NULL AND lower(c.email) = :email
ORDER BY o.sent_at DESC LIMIT 1
""")


async def match(
    session: AsyncSession, sender_id: uuid.UUID, thread: list[str], address: str | None
) -> Match | None:
    """The campaign contact a message is about: by the first of `thread` (Message-IDs, the
    most telling first) that is one of ours, else by `address` among this sender's contacts."""
    if thread:
        rows = (await session.execute(BY_MESSAGE_ID, {"ids": thread})).mappings().all()
        ours = {row["message_id"]: row for row in rows}
        for message_id in thread:
            if (row := ours.get(message_id)) is not None:
                return Match(row["campaign_id"], row["campaign_contact_id"], row["step"], "thread")
    if address:
        row = (
            (await session.execute(BY_ADDRESS, {"sender_id": sender_id, "email": address.lower()}))
            .mappings()
            .first()
        )
        if row is not None:
            return Match(row["campaign_id"], row["campaign_contact_id"], row["step"], "address")
    return None


async def _read_one(session: AsyncSession, mailbox: ClaimedMailbox, raw: bytes) -> Found | None:
    message = classify.parse(raw)
    found = classify.classify(message)
    if found is None:
        return None
    ids = classify.message_ids(message)
    # A message without a Message-ID is known by its bytes: the same across UIDVALIDITY.
    provider_id = ids.message_id or f"<sha256-{hashlib.sha256(raw).hexdigest()}@imap>"
    occurred_at = _date(message)
    if isinstance(found, classify.Bounce):
        thread = [found.original_message_id] if found.original_message_id else []
        matched = await match(session, mailbox.sender_id, thread, found.recipient)
        if matched is None:
            return None
        reason = " ".join(part for part in (found.status, found.diagnostic) if part)
        data: dict[str, Any] = {"bounce_type": found.bounce_type, "reason": reason or None}
        return Found([_event(matched, EventType.BOUNCED, occurred_at, provider_id, data)])

    thread = [*([ids.in_reply_to] if ids.in_reply_to else []), *reversed(ids.references)]
    sender = classify.sender_address(message)
    matched = await match(session, mailbox.sender_id, thread, sender)
    if matched is None:
        return None
    if isinstance(found, classify.AutoReply):
        data = {"return_date": found.return_date.isoformat() if found.return_date else None}
        return Found([_event(matched, EventType.AUTO_REPLIED, occurred_at, provider_id, data)])
    data = {"response_text": found.text, "message_id": ids.message_id, "channel": "email"}
    events = [_event(matched, EventType.RESPONSE_RECEIVED, occurred_at, provider_id, data)]
    if found.unsubscribe:
        # a second event of the same message: its own provider id
        events.append(
            _event(matched, EventType.UNSUBSCRIBED, occurred_at, f"{provider_id}#unsubscribe", {})
        )
    reply = InboundReply(
        sender_id=mailbox.sender_id,
        campaign_id=matched.campaign_id,
        campaign_contact_id=matched.campaign_contact_id,
        message_id=provider_id,
        in_reply_to=ids.in_reply_to,
        references_ids=ids.references,
        step=matched.step,
        matched_by=matched.matched_by,
        from_email=sender or "",
        to_email=str(message.get("To", ""))[:SUBJECT_MAX_CHARS],
        subject=str(message.get("Subject", ""))[:SUBJECT_MAX_CHARS],
        body_text=found.text,
        received_at=occurred_at,
    )
    return Found(events, reply)


def _event(
    matched: Match, kind: EventType, at: datetime, provider_id: str, data: dict[str, Any]
) -> NewEvent:
    data = {**data, "matched_by": matched.matched_by}
    return NewEvent(
        campaign_contact_id=matched.campaign_contact_id,
        event_type=kind,
        occurred_at=at,
        data={key: value for key, value in data.items() if value is not None},
        provider=PROVIDER,
        provider_event_id=provider_id,
    )


def _date(message: EmailMessage) -> datetime:
    """When the message says it was written; now when it says nothing usable or the future."""
    now = datetime.now(UTC)
    try:
        written = parsedate_to_datetime(str(message.get("Date", "")))
    except (TypeError, ValueError, IndexError):
        return now
    if written.tzinfo is None:
        written = written.replace(tzinfo=UTC)
    return min(written, now)
