"""Sender rules: managers set up the mailboxes, everyone may see them, nobody reads a password."""

import uuid
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from outreach.auth.dependencies import Transactions, require_manager
from outreach.auth.tokens import Principal
from outreach.config import Settings
from outreach.errors import Conflict, ValidationFailed, not_found
from outreach.kit.keyset import page_of, position_after
from outreach.kit.pagination import Page
from outreach.kit.ratelimit import Allowance, take_one
from outreach.kit.targets import TargetGuard, TargetRefused
from outreach.models import Sender, SenderMailbox
from outreach.sending.secrets import SenderSecrets
from outreach.sending.senders import repository
from outreach.sending.senders.limits import effective_daily_limit
from outreach.sending.senders.schemas import (
    ConnectionCheckOut,
    MailboxOut,
    SenderIn,
    SenderOut,
    SenderPatch,
)
from outreach.sending.transports.smtp import SmtpNotConfigured, check_connection, smtp_server_for

# What the service sets up for a system sender: its relay, and so the address it may send as.
SYSTEM_FIELDS = frozenset(
    {"from_email", "smtp_host", "smtp_port", "smtp_tls", "smtp_username", "smtp_password"}
)


def _today() -> date:
    return datetime.now(UTC).date()


async def list_senders(session: AsyncSession, *, limit: int, cursor: str | None) -> Page[SenderOut]:
    rows = await repository.list_senders(session, after=position_after(cursor), limit=limit)
    mailboxes = await repository.mailboxes_of(session, [sender.id for sender in rows])
    return page_of(rows, limit, lambda sender: sender_out(sender, mailboxes.get(sender.id)))


async def get_sender(session: AsyncSession, sender_id: uuid.UUID) -> SenderOut:
    return await _answer(session, await _get(session, sender_id))


async def _answer(session: AsyncSession, sender: Sender) -> SenderOut:
    mailboxes = await repository.mailboxes_of(session, [sender.id])
    return sender_out(sender, mailboxes.get(sender.id))


async def create_sender(
    session: AsyncSession,
    principal: Principal,
    secrets: SenderSecrets,
    guard: TargetGuard,
    sender: SenderIn,
) -> SenderOut:
    require_manager(principal)
    await check_target(guard, "smtp_host", sender.smtp_host, sender.smtp_port)
    values = sender.model_dump(exclude={"smtp_password"})
    values |= _warmup(values, current=None)
    encrypted = _encrypted(secrets, sender.smtp_password)
    try:
        created = await repository.add_sender(
            session,
            Sender(org_id=principal.org_id, smtp_password_encrypted=encrypted, **values),
        )
    except repository.FromEmailTaken:
        raise _exists(sender.from_email) from None
    return sender_out(created, mailbox=None)


async def update_sender(
    session: AsyncSession,
    principal: Principal,
    secrets: SenderSecrets,
    guard: TargetGuard,
    sender_id: uuid.UUID,
    patch: SenderPatch,
) -> SenderOut:
    require_manager(principal)
    sender = await _get(session, sender_id, for_update=True)
    changes = patch.model_dump(exclude_unset=True)
    if sender.transport == "system" and (refused := sorted(changes.keys() & SYSTEM_FIELDS)):
        raise Conflict(
            "SENDER_SYSTEM_READ_ONLY",
            "The system sender's address and server are set by the service",
            f"These fields cannot change: {', '.join(refused)}. Its limits, warm-up and "
            "thresholds can.",
        )
    if "smtp_host" in changes:
        port = changes.get("smtp_port") or sender.smtp_port or 25
        await check_target(guard, "smtp_host", changes["smtp_host"], port)
    changes |= _warmup(changes, current=sender)
    if "smtp_password" in changes:
        changes["smtp_password_encrypted"] = _encrypted(secrets, changes.pop("smtp_password"))
    try:
        updated = await repository.update_sender(session, sender, changes)
    except repository.FromEmailTaken:
        raise _exists(str(changes["from_email"])) from None
    return await _answer(session, updated)


async def resume_sender(
    session: AsyncSession, principal: Principal, sender_id: uuid.UUID
) -> SenderOut:
    """Unpause a sender the circuit breaker paused; its bounce and complaint rates start over."""
    require_manager(principal)
    sender = await _get(session, sender_id, for_update=True)
    return await _answer(session, await repository.resume_sender(session, sender))


async def delete_sender(session: AsyncSession, principal: Principal, sender_id: uuid.UUID) -> None:
    require_manager(principal)
    try:
        deleted = await repository.delete_sender(session, sender_id)
    except repository.SenderInUse:
        raise Conflict(
            "SENDER_IN_USE",
            "The sender has messages in the outbox",
            "Its queued and sent messages keep it; pause it, or move its campaigns to another "
            "sender.",
        ) from None
    if not deleted:
        raise not_found("Sender")


def sender_out(sender: Sender, mailbox: SenderMailbox | None) -> SenderOut:
    """The sender as answered: its password only as `has_password`, with today's allowance
    and its mailbox (never its secret)."""
    fields = set(SenderOut.model_fields) - {"has_password", "effective_daily_limit", "mailbox"}
    return SenderOut(
        has_password=sender.smtp_password_encrypted is not None,
        mailbox=None if mailbox is None else MailboxOut.model_validate(mailbox),
        effective_daily_limit=effective_daily_limit(
            sender.daily_limit,
            sender.warmup_start_per_day,
            sender.warmup_increment_per_day,
            sender.warmup_started_on,
            _today(),
        ),
        **{field: getattr(sender, field) for field in fields},
    )


def _warmup(given: dict[str, Any], current: Sender | None) -> dict[str, Any]:
    """The warm-up start date that goes with the change: today when warm-up begins without
    one (or is given null), none once warm-up ends."""
    start = (
        given.get("warmup_start_per_day")
        if "warmup_start_per_day" in given
        else (current.warmup_start_per_day if current else None)
    )
    if start is None:
        if given.get("warmup_started_on") is not None:
            raise ValidationFailed.field(
                "warmup_started_on",
                "SENDER_WARMUP_INVALID",
                "warmup_started_on needs warmup_start_per_day (a warm-up to start)",
            )
        return {"warmup_started_on": None}
    started_on = given.get("warmup_started_on")
    if started_on is not None:
        return {"warmup_started_on": started_on}
    if "warmup_started_on" in given or current is None or current.warmup_started_on is None:
        return {"warmup_started_on": _today()}
    return {}


def _encrypted(secrets: SenderSecrets, password: str | None) -> str | None:
    return None if password is None else secrets.encrypt(password)


def _exists(from_email: str) -> Conflict:
    return Conflict(
        "SENDER_EXISTS",
        "A sender with this email already exists",
        f"{from_email} is already a sender of this organization.",
    )


async def _get(session: AsyncSession, sender_id: uuid.UUID, *, for_update: bool = False) -> Sender:
    sender = await repository.get_sender(session, sender_id, for_update=for_update)
    if sender is None:
        raise not_found("Sender")
    return sender


async def check_target(guard: TargetGuard, field: str, host: str, port: int) -> None:
    """A tenant's host, checked when it is saved: 422 TARGET_NOT_ALLOWED when refused. A name
    that does not resolve yet is saved; every connection checks it again."""
    try:
        await guard.check(host, port)
    except TargetRefused as exc:
        raise ValidationFailed.field(field, "TARGET_NOT_ALLOWED", str(exc)) from None


SENDER_TEST_KEY = "sender_test"


async def check_sender(
    transactions: Transactions,
    principal: Principal,
    secrets: SenderSecrets,
    settings: Settings,
    guard: TargetGuard,
    sender_id: uuid.UUID,
) -> tuple[ConnectionCheckOut, Allowance]:
    """Connect to the sender's SMTP server as it is configured, log in, and say how it went.

    Counted against the organization's per-minute allowance. What it needs is read in a short
    transaction of its own: no database connection is held while the server is waited for.
    """
    require_manager(principal)
    async with transactions() as session:
        allowance = await take_one(
            session,
            principal.org_id,
            SENDER_TEST_KEY,
            limit=settings.sender_tests_per_minute,
            window_seconds=60,
        )
        sender = await _get(session, sender_id)
    try:
        server = smtp_server_for(sender, secrets, settings, guard)
    except SmtpNotConfigured as exc:
        return ConnectionCheckOut(ok=False, stage="connect", detail=str(exc)), allowance
    result = await check_connection(server)
    return ConnectionCheckOut.model_validate(result, from_attributes=True), allowance


async def default_sender(session: AsyncSession, org_id: uuid.UUID, settings: Settings) -> Sender:
    """The organization's oldest SMTP sender, else its system sender (created on first use),
    which sends through OUTREACH_SMTP_URL or, locally, the mail catcher."""
    return await repository.default_sender(session, org_id, settings.mail_from)
