"""The send loop: claim due messages per organization, send them, record each result.

A message is committed `sending` (with a lease) before its SMTP transaction and `accepted`
after the server's 250, each in its own transaction: a crash in between re-sends the messages
then in flight (at most one per SMTP connection) when their lease runs out, and loses none.
"""

import asyncio
import logging
import random
import time
import uuid
from collections import deque
from collections.abc import Awaitable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from outreach.config import Settings
from outreach.events.service import NewEvent, record_events
from outreach.events.state import EventType
from outreach.jobs.runs import for_each_org
from outreach.kit.targets import TargetGuard
from outreach.kit.tenancy import org_session
from outreach.models import Sender
from outreach.observability.metrics import BREAKER_TRIPS, SENDS
from outreach.sending.outbox import queue
from outreach.sending.secrets import InvalidToken, SenderSecrets, sender_secrets
from outreach.sending.senders.limits import MAX_ATTEMPTS, RETRY_DELAYS, limits_of
from outreach.sending.sms_provider.service import sms_account
from outreach.sending.transports.base import Outcome, OutcomeKind, Transport, Unsendable
from outreach.sending.transports.email import EmailTransport
from outreach.sending.transports.messages import (
    RenderFailed,
)
from outreach.sending.transports.sms import (
    SmsTransport,
)
from outreach.sending.transports.smtp import SmtpNotConfigured, smtp_server_for
from outreach.templates.compose import Composer
from outreach.templates.rendering import Renderer
from outreach.templates.sandbox import TemplateLimitExceeded
from outreach.tracking.tokens import TrackingSigner

log = logging.getLogger(__name__)
R = TypeVar("R")

MAX_ORGS_PER_PASS = 100
# Keys rotated without the old one: retried (soft) until the secret is entered again.
UNDECRYPTABLE = (
    "cannot be decrypted with OUTREACH_SENDER_SECRET_KEYS: add the key that encrypted it, "
    "or enter it again"
)


@dataclass(frozen=True)
class SendingContext:
    """What the loop needs besides the database: settings, signer, secrets, randomness."""

    settings: Settings
    dsn: str  # the application role's libpq URL, for the per-message commits
    signer: TrackingSigner
    secrets: SenderSecrets
    rng: random.Random = field(default_factory=random.Random)
    # Set when the process stops: the message being sent is finished, the rest released.
    stopping: asyncio.Event = field(default_factory=asyncio.Event)

    @classmethod
    def from_settings(
        cls, settings: Settings, dsn: str, stopping: asyncio.Event | None = None
    ) -> "SendingContext":
        """The context with the settings' tracking signer and sender secrets."""
        return cls(
            settings=settings,
            dsn=dsn,
            signer=TrackingSigner(settings.tracking_secrets),
            secrets=sender_secrets(tuple(settings.sender_secret_keys)),
            stopping=asyncio.Event() if stopping is None else stopping,
        )

    @property
    def renderer(self) -> Renderer:
        return Renderer(self.settings.template_render_seconds)


@dataclass(frozen=True)
class Batch:
    org_id: uuid.UUID
    sender: Sender | None  # None: SMS
    messages: list[RowMapping]


def _now() -> datetime:
    return datetime.now(UTC)


async def send_due(sessionmaker: async_sessionmaker[AsyncSession], ctx: SendingContext) -> int:
    """One pass over the organizations with due messages; answers how many were handled."""
    sent = await for_each_org(
        sessionmaker,
        lambda org_id: send_org(sessionmaker, ctx, org_id),
        "sending",
        outbox_due=True,
        limit=MAX_ORGS_PER_PASS,
        stopping=ctx.stopping,
    )
    return sum(sent.results.values())


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
    while time.monotonic() < deadline and not ctx.stopping.is_set():
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
    async with org_session(sessionmaker, org_id) as session, session.begin():
        await _record_sent(session, org_id, None)
        await queue.release_expired_leases(session)
        for sender in await queue.lock_senders_with_due(session):
            if await _trip_breaker(session, ctx, sender):
                continue
            limits = limits_of(sender)
            last_hour, last_day = await queue.usage(session, sender.id)
            room = limits.allowance(
                used_last_hour=last_hour,
                used_last_day=last_day,
                today=_now().date(),
                batch=settings.send_batch_size,
            )
            if room == 0:
                continue
            ids = await queue.claim(session, sender=sender, limit=room, lease=lease)
            if ids:
                await queue.add_usage(session, sender, len(ids))
                if limits.min_spacing_seconds:
                    at = limits.next_send_at(_now(), settings.send_jitter_fraction, ctx.rng)
                    await queue.set_next_send_at(session, sender.id, at)
                batches.append(
                    Batch(org_id, sender, list(await queue.claimed_messages(session, ids)))
                )
        sms = await queue.claim(session, sender=None, limit=settings.send_batch_size, lease=lease)
        if sms:
            batches.append(Batch(org_id, None, list(await queue.claimed_messages(session, sms))))
        await queue.note_next_due(session, org_id)
        if not batches:
            # Due but held back (limits, spacing, paused campaigns): look again soon.
            await queue.retry_org_at(
                session,
                org_id,
                _now() + timedelta(seconds=min(30, settings.send_poll_seconds * 5)),
            )
    return batches


async def _trip_breaker(session: AsyncSession, ctx: SendingContext, sender: Sender) -> bool:
    """Pauses the sender when its recent hard-bounce or complaint rate crosses its threshold."""
    settings = ctx.settings
    recent = await queue.recent_results(
        session, sender.id, sender.breaker_reset_at, settings.breaker_window
    )
    sends = int(recent["sends"])
    if sends < settings.breaker_min_sends:
        return False
    bounce_rate = 100 * int(recent["bounces"]) / sends
    complaint_rate = 100 * int(recent["complaints"]) / sends
    if bounce_rate > sender.bounce_rate_threshold:
        tripped = "bounce_rate"
        reason = (
            f"sender {sender.from_email} paused: hard-bounce rate {bounce_rate:.2f}% over its "
            f"last {sends} sends is above {sender.bounce_rate_threshold}%"
        )
    elif complaint_rate > sender.complaint_rate_threshold:
        tripped = "complaint_rate"
        reason = (
            f"sender {sender.from_email} paused: complaint rate {complaint_rate:.2f}% over its "
            f"last {sends} sends is above {sender.complaint_rate_threshold}%"
        )
    else:
        return False
    log.warning("%s", reason)
    await queue.pause_sender(session, sender, reason)
    BREAKER_TRIPS.labels(tripped).inc()
    return True


async def send_batch(
    sessionmaker: async_sessionmaker[AsyncSession], ctx: SendingContext, batch: Batch
) -> int:
    """Sends the batch over up to `send_connections` SMTP connections at once (lanes); the
    events of accepted messages are recorded together at the end.

    Each lane commits a message `accepted` right after the server's 250, before it sends its
    next one: at any moment at most one message per connection is accepted and not yet
    committed, so a crash re-sends at most one message per connection. (Lanes taking turns
    for DATA and its commit would make that one message in all, at about half the
    throughput: bench/sending.py.)
    """
    waiting = deque(batch.messages)
    # By kind of sender, not by sender: one series per sender of every tenant would grow
    # with the tenants.
    transport = batch.sender.transport if batch.sender is not None else "sms"
    async with (
        org_session(sessionmaker, batch.org_id) as session,
        await queue.acceptance_connection(ctx.dsn, batch.org_id) as marks,
    ):
        accepted: list[uuid.UUID] = []
        recording = asyncio.Lock()

        async def record(row: RowMapping, outcome: Outcome) -> None:
            if outcome.kind is OutcomeKind.SENT:
                await queue.mark_accepted(marks, row["id"], outcome.message_id, outcome.detail)
                accepted.append(row["id"])
            else:
                async with session.begin():
                    await _record_failure(session, batch, row, outcome)
            SENDS.labels(outcome.kind.value, row["channel"], transport).inc()

        async def lane(attempt: Transport) -> None:
            try:
                while waiting and not ctx.stopping.is_set():
                    row = waiting.popleft()
                    message = prepared[row["id"]]
                    outcome = await _attempted(attempt, row, attempt.start(row, message))
                    if outcome is None:
                        outcome = await _attempted(attempt, row, attempt.finish(row, message))
                    async with recording:  # one session, one statement at a time
                        await record(row, outcome)
            finally:
                await attempt.close()

        lanes = min(ctx.settings.send_connections, len(waiting)) if batch.sender else 1
        attempts = [await _attempt_for(session, ctx, batch) for _ in range(lanes)]
        prepared = await _prepare_all(ctx, attempts[0], batch.messages)
        try:
            async with asyncio.TaskGroup() as group:
                for attempt in attempts:
                    group.create_task(lane(attempt))
        finally:
            async with session.begin():
                if waiting:  # stopping: these were claimed but never tried
                    await queue.release(session, [row["id"] for row in waiting])
                if accepted:
                    await _record_sent(session, batch.org_id, accepted)
    return len(batch.messages) - len(waiting)


async def _prepare_all(
    ctx: SendingContext, attempt: Transport, rows: list[RowMapping]
) -> dict[uuid.UUID, object]:
    """Every message of the batch rendered and built in one hop to the render threads (one
    hop per message would cost throughput), each within its own time limit."""
    renderer = ctx.renderer
    composer = Composer(renderer.seconds)
    try:
        built = await renderer.run(
            lambda: [attempt.prepare(row, composer) for row in rows], messages=len(rows)
        )
    except TemplateLimitExceeded as exc:
        built = [RenderFailed(f"template error: {exc}")] * len(rows)
    return {row["id"]: message for row, message in zip(rows, built, strict=True)}


async def _attempted(attempt: Transport, row: RowMapping, step: Awaitable[R]) -> R | Outcome:
    """One message's step; an error nobody foresaw fails that message, never its batch."""
    try:
        return await step
    except Exception as exc:
        log.exception("sending message %s failed", row["id"])
        attempt.abandon()
        return Outcome(OutcomeKind.INVALID, f"could not be sent: {type(exc).__name__}: {exc}")


async def _attempt_for(session: AsyncSession, ctx: SendingContext, batch: Batch) -> Transport:
    if batch.sender is None:
        return await _sms_sender(session, ctx, batch.org_id)
    return _email_sender(ctx, batch.sender)


async def _record_sent(
    session: AsyncSession, org_id: uuid.UUID, ids: list[uuid.UUID] | None
) -> int:
    """Accepted messages become sent, with their events, contact states and counters: those
    of `ids`, or (ids None) those a dead worker left accepted. The events first: event writers
    lock the contact, then (by the wake-up triggers) its walk, and so does this."""
    accepted = await queue.lock_accepted(session, ids)
    events = [
        NewEvent(
            row["campaign_contact_id"],
            EventType.SMS_SENT if row["channel"] == "sms" else EventType.EMAIL_SENT,
            row["sent_at"],
            data={"message_id": row["message_id"]} if row["message_id"] else {},
            provider="sms" if row["channel"] == "sms" else "smtp",
            provider_event_id=f"sent:{row['id']}",
        )
        for row in accepted
    ]
    if events:
        await record_events(session, org_id, events)
        await queue.finish_accepted(session, [row["id"] for row in accepted])
    return len(events)


def _email_sender(ctx: SendingContext, sender: Sender) -> Transport:
    try:
        return EmailTransport(
            ctx.settings, ctx.signer, sender, smtp_server_for(sender, ctx.secrets, ctx.settings)
        )
    except SmtpNotConfigured as exc:
        return Unsendable(str(exc))
    except InvalidToken:
        return Unsendable(f"the SMTP password of {sender.from_email} {UNDECRYPTABLE}")


async def _sms_sender(session: AsyncSession, ctx: SendingContext, org_id: uuid.UUID) -> Transport:
    async with session.begin():
        try:
            account = await sms_account(session, org_id, ctx.secrets)
        except InvalidToken:
            return Unsendable(f"the SMS provider's auth token {UNDECRYPTABLE}")
    if account is None:
        return Unsendable("SMS is not set up: configure it at /api/v1/sms-provider")
    return SmsTransport(TargetGuard.for_settings(ctx.settings), account)


async def _record_failure(
    session: AsyncSession, batch: Batch, row: RowMapping, outcome: Outcome
) -> None:
    """A failed attempt: retried later with backoff, or given up. An email's failure is a
    bounce event (hard bounces suppress the address); an SMS's is kept on the contact."""
    outbox_id, contact_id, attempt = row["id"], row["campaign_contact_id"], row["attempts"]
    now = _now()
    # text PostgreSQL can store: an error may quote a rendered value
    outcome = replace(outcome, detail=outcome.detail.replace("\x00", "\\x00"))
    final = outcome.kind in (OutcomeKind.HARD, OutcomeKind.INVALID) or attempt >= MAX_ATTEMPTS
    # The contact first, then the message, whose final status wakes its walk: the order in
    # which event writers lock the two.
    if outcome.kind is OutcomeKind.INVALID or batch.sender is None:
        await queue.set_contact_error(session, contact_id, outcome.detail)
    else:
        data: dict[str, Any] = {"bounce_type": outcome.kind.value, "reason": outcome.detail}
        if final and outcome.kind is OutcomeKind.SOFT:
            data["final"] = True
        bounce = NewEvent(
            contact_id,
            EventType.BOUNCED,
            now,
            data=data,
            provider="smtp",
            provider_event_id=f"smtp-failure:{outbox_id}:{attempt}",
        )
        await record_events(session, batch.org_id, [bounce])
    if final:
        await queue.mark_failed(session, outbox_id, outcome.detail)
    else:
        await queue.requeue(session, outbox_id, now + RETRY_DELAYS[attempt - 1], outcome.detail)
