"""The send loop: claim due messages per organization, send them, record each result.

A message is committed `sending` (with a lease) before its SMTP transaction and `sent` after
the server's 250, each in its own transaction: a crash in between re-sends that one message
when its lease runs out, never more, and never loses it.
"""

import logging
import random
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiosmtplib
from sqlalchemy import RowMapping, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from outreach.config import Settings
from outreach.embedded import ORG_HEADER
from outreach.events.service import NewEvent, record_events
from outreach.events.state import EventType
from outreach.models import Contact, Sender
from outreach.sending import outbox
from outreach.sending.limits import MAX_ATTEMPTS, RETRY_DELAYS, SenderLimits
from outreach.sending.messages import (
    Content,
    Envelope,
    Recipient,
    RenderFailed,
    TrackedLinks,
    build_email,
    message_id_for,
    render_content,
)
from outreach.sending.secrets import SenderSecrets
from outreach.sending.smtp import SmtpNotConfigured, SmtpServer, smtp_server_for
from outreach.templates.rendering import Personalization
from outreach.tracking.tokens import TrackingSigner

log = logging.getLogger(__name__)

LOCAL_URL = "http://127.0.0.1:8000"
MAX_ORGS_PER_PASS = 100


@dataclass(frozen=True)
class SendingContext:
    """What the loop needs besides the database: settings, signer, secrets, randomness."""

    settings: Settings
    signer: TrackingSigner
    secrets: SenderSecrets
    rng: random.Random = field(default_factory=random.Random)

    @property
    def base_url(self) -> str:
        return self.settings.public_url or LOCAL_URL


@dataclass(frozen=True)
class Batch:
    org_id: uuid.UUID
    sender: Sender | None  # None: SMS
    messages: list[RowMapping]


@dataclass(frozen=True)
class Outcome:
    """What became of one message."""

    kind: str  # sent, hard, soft, invalid
    detail: str


def _now() -> datetime:
    return datetime.now(UTC)


async def send_due(sessionmaker: async_sessionmaker[AsyncSession], ctx: SendingContext) -> int:
    """One pass over the organizations with due messages; answers how many were handled."""
    async with sessionmaker() as session:
        org_ids = list(
            (
                await session.execute(
                    text(
                        "SELECT id FROM tenant_directory WHERE outbox_due_at <= now() "
                        "ORDER BY outbox_due_at LIMIT :n"
                    ),
                    {"n": MAX_ORGS_PER_PASS},
                )
            ).scalars()
        )
    handled = 0
    for org_id in org_ids:
        try:
            handled += await send_org(sessionmaker, ctx, org_id)
        except Exception:
            log.exception("sending failed for organization %s", org_id)
    return handled


async def send_org(
    sessionmaker: async_sessionmaker[AsyncSession], ctx: SendingContext, org_id: uuid.UUID
) -> int:
    """Claims and sends what one organization may send now."""
    handled = 0
    for batch in await claim_org(sessionmaker, ctx, org_id):
        handled += await send_batch(sessionmaker, ctx, batch)
    return handled


async def run_send_loop(
    sessionmaker: async_sessionmaker[AsyncSession], ctx: SendingContext, max_seconds: float = 30
) -> int:
    """Sends until nothing is due or `max_seconds` have passed (the scheduler wakes it again)."""
    deadline = time.monotonic() + max_seconds
    handled = 0
    while time.monotonic() < deadline:
        done = await send_due(sessionmaker, ctx)
        handled += done
        if done == 0:
            break
    return handled


async def claim_org(
    sessionmaker: async_sessionmaker[AsyncSession], ctx: SendingContext, org_id: uuid.UUID
) -> list[Batch]:
    """Claims what the organization may send now, in one transaction."""
    settings = ctx.settings
    lease = timedelta(seconds=settings.send_lease_seconds)
    batches = []
    async with sessionmaker() as session:
        session.info["org_id"] = org_id
        async with session.begin():
            await outbox.release_expired_leases(session)
            await outbox.cancel_undeliverable(session)
            for sender in await outbox.lock_senders_with_due(session):
                if await _trip_breaker(session, ctx, sender):
                    continue
                limits = _limits(sender)
                last_hour, last_day = await outbox.usage(session, sender.id)
                room = limits.allowance(
                    used_last_hour=last_hour,
                    used_last_day=last_day,
                    today=_now().date(),
                    batch=settings.send_batch_size,
                )
                if room == 0:
                    continue
                ids = await outbox.claim(session, sender_id=sender.id, limit=room, lease=lease)
                if ids:
                    await outbox.add_usage(session, sender, len(ids))
                    if limits.min_spacing_seconds:
                        at = limits.next_send_at(_now(), settings.send_jitter_fraction, ctx.rng)
                        await outbox.set_next_send_at(session, sender.id, at)
                    batches.append(
                        Batch(org_id, sender, list(await outbox.claimed_messages(session, ids)))
                    )
            sms = await outbox.claim(
                session, sender_id=None, limit=settings.send_batch_size, lease=lease
            )
            if sms:
                batches.append(
                    Batch(org_id, None, list(await outbox.claimed_messages(session, sms)))
                )
            await outbox.note_next_due(session, org_id)
            if not batches:
                # Due but held back (limits, spacing, paused campaigns): look again soon.
                await outbox.retry_org_at(
                    session,
                    org_id,
                    _now() + timedelta(seconds=min(30, settings.send_poll_seconds * 5)),
                )
    return batches


def _limits(sender: Sender) -> SenderLimits:
    return SenderLimits(
        hourly_limit=sender.hourly_limit,
        daily_limit=sender.daily_limit,
        min_spacing_seconds=sender.min_spacing_seconds,
        warmup_start_per_day=sender.warmup_start_per_day,
        warmup_increment_per_day=sender.warmup_increment_per_day,
        warmup_started_on=sender.warmup_started_on,
    )


async def _trip_breaker(session: AsyncSession, ctx: SendingContext, sender: Sender) -> bool:
    """Pauses the sender when its recent hard-bounce or complaint rate crosses its threshold."""
    settings = ctx.settings
    recent = await outbox.recent_results(
        session, sender.id, sender.breaker_reset_at, settings.breaker_window
    )
    sends = int(recent["sends"])
    if sends < settings.breaker_min_sends:
        return False
    bounce_rate = 100 * int(recent["bounces"]) / sends
    complaint_rate = 100 * int(recent["complaints"]) / sends
    if bounce_rate > sender.bounce_rate_threshold:
        reason = (
            f"sender {sender.from_email} paused: hard-bounce rate {bounce_rate:.2f}% over its "
            f"last {sends} sends is above {sender.bounce_rate_threshold}%"
        )
    elif complaint_rate > sender.complaint_rate_threshold:
        reason = (
            f"sender {sender.from_email} paused: complaint rate {complaint_rate:.2f}% over its "
            f"last {sends} sends is above {sender.complaint_rate_threshold}%"
        )
    else:
        return False
    log.warning("%s", reason)
    await outbox.pause_sender(session, sender, reason)
    return True


def _personalization(row: RowMapping, sender_name: str) -> Personalization:
    contact = Contact(
        email=row["email"],
        first_name=row["first_name"],
        last_name=row["last_name"],
        company_name=row["company_name"],
        title=row["title"],
        linkedin_url=row["linkedin_url"],
        phone=row["phone"],
        custom_fields=row["custom_fields"] or {},
    )
    return Personalization.for_contact(
        contact, sender_name=sender_name, campaign_name=row["campaign_name"]
    )


def _recipient(row: RowMapping) -> Recipient:
    name = " ".join(p for p in (row["first_name"], row["last_name"]) if p) or None
    return Recipient(
        org_id=row["org_id"],
        campaign_id=row["campaign_id"],
        campaign_contact_id=row["campaign_contact_id"],
        email=row["email"],
        name=name,
    )


def _envelope(ctx: SendingContext, sender: Sender, row: RowMapping) -> Envelope:
    settings = ctx.settings
    reply_to = (
        f"reply+{row['campaign_contact_id']}@{settings.reply_domain}"
        if settings.reply_domain
        else None
    )
    # The embedded catcher files each message under its organization by this header.
    extra = ((ORG_HEADER, str(row["org_id"])),) if settings.mail_catcher else ()
    return Envelope(
        from_email=sender.from_email,
        from_name=sender.from_name,
        message_id=message_id_for(row["id"], sender.from_email),
        reply_to=reply_to,
        extra_headers=extra,
    )


async def send_batch(
    sessionmaker: async_sessionmaker[AsyncSession], ctx: SendingContext, batch: Batch
) -> int:
    if batch.sender is None:
        for row in batch.messages:
            await _record(
                sessionmaker, batch.org_id, row, None, Outcome("soft", "SMS is not set up")
            )
        return len(batch.messages)
    sender = batch.sender
    try:
        server = smtp_server_for(sender, ctx.secrets, ctx.settings)
    except SmtpNotConfigured as exc:
        for row in batch.messages:
            await _record(sessionmaker, batch.org_id, row, None, Outcome("soft", str(exc)))
        return len(batch.messages)
    connection = _Connection(server)
    try:
        for row in batch.messages:
            envelope = _envelope(ctx, sender, row)
            outcome = await _send_one(ctx, connection, sender, envelope, row)
            await _record(sessionmaker, batch.org_id, row, envelope.message_id, outcome)
    finally:
        await connection.close()
    return len(batch.messages)


async def _send_one(
    ctx: SendingContext,
    connection: "_Connection",
    sender: Sender,
    envelope: Envelope,
    row: RowMapping,
) -> Outcome:
    try:
        content = render_content(
            Content(row["subject"], row["body_text"], row["body_html"]),
            _personalization(row, sender.from_name or sender.from_email),
        )
    except RenderFailed as exc:
        return Outcome("invalid", str(exc))
    recipient = _recipient(row)
    message = build_email(
        envelope, recipient, content, TrackedLinks(ctx.signer, ctx.base_url, recipient)
    )
    try:
        client = await connection.open()
        _, response = await client.send_message(
            message, sender=sender.from_email, recipients=[recipient.email]
        )
    except aiosmtplib.SMTPRecipientsRefused as exc:
        await connection.reset()
        refused = exc.recipients[0]
        return _by_code(refused.code, refused.message)
    except aiosmtplib.SMTPResponseException as exc:
        await connection.reset()
        return _by_code(exc.code, exc.message)
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        await connection.reset()
        return Outcome("soft", f"connection failed: {exc or type(exc).__name__}")
    return Outcome("sent", response)


def _by_code(code: int, message: str) -> Outcome:
    return Outcome("hard" if code >= 500 else "soft", f"{code} {message}".strip())


class _Connection:
    """One SMTP connection per batch, opened on first use and reopened after an error."""

    def __init__(self, server: SmtpServer) -> None:
        self.server = server
        self.client: aiosmtplib.SMTP | None = None

    async def open(self) -> aiosmtplib.SMTP:
        if self.client is None:
            client = self.server.client()
            await client.connect()
            if self.server.username:
                await client.login(self.server.username, self.server.password or "")
            self.client = client
        return self.client

    async def reset(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None

    async def close(self) -> None:
        if self.client is not None:
            try:
                await self.client.quit()
            except (aiosmtplib.SMTPException, OSError, TimeoutError):
                self.client.close()
            self.client = None


async def _record(
    sessionmaker: async_sessionmaker[AsyncSession],
    org_id: uuid.UUID,
    row: RowMapping,
    message_id: str | None,
    outcome: Outcome,
) -> None:
    """Commits one message's result with its event, contact state and counters."""
    outbox_id, contact_id, attempt = row["id"], row["campaign_contact_id"], row["attempts"]
    now = _now()
    event: NewEvent | None = None
    async with sessionmaker() as session:
        session.info["org_id"] = org_id
        async with session.begin():
            if outcome.kind == "sent":
                await outbox.mark_sent(session, outbox_id, message_id, outcome.detail)
                event = NewEvent(
                    contact_id,
                    EventType.EMAIL_SENT,
                    now,
                    data={"message_id": message_id} if message_id else {},
                    provider="smtp",
                    provider_event_id=f"sent:{outbox_id}",
                )
            elif outcome.kind == "invalid":
                await outbox.mark_failed(session, outbox_id, outcome.detail)
                await outbox.set_contact_error(session, contact_id, outcome.detail)
            else:
                final = outcome.kind == "hard" or attempt >= MAX_ATTEMPTS
                if final:
                    await outbox.mark_failed(session, outbox_id, outcome.detail)
                else:
                    retry_at = now + RETRY_DELAYS[attempt - 1]
                    await outbox.requeue(session, outbox_id, retry_at, outcome.detail)
                data: dict[str, Any] = {"bounce_type": outcome.kind, "reason": outcome.detail}
                if final and outcome.kind == "soft":
                    data["final"] = True
                event = NewEvent(
                    contact_id,
                    EventType.BOUNCED,
                    now,
                    data=data,
                    provider="smtp",
                    provider_event_id=f"smtp-failure:{outbox_id}:{attempt}",
                )
            if event is not None:
                await record_events(session, org_id, [event])
