"""Mailbox rules: whoever may change a sender sets up its mailbox; nobody reads its secret."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from outreach.auth.dependencies import Transactions, require_manager
from outreach.auth.tokens import Principal
from outreach.config import Settings
from outreach.errors import Conflict, not_found
from outreach.kit.ratelimit import Allowance, take_one
from outreach.kit.targets import TargetGuard
from outreach.mailboxes import repository
from outreach.mailboxes.client import MailboxSettings, check
from outreach.mailboxes.schemas import MailboxIn, MailboxTestOut
from outreach.models import Sender, SenderMailbox
from outreach.sending.secrets import InvalidToken, SenderSecrets
from outreach.sending.senders import repository as senders
from outreach.sending.senders.schemas import SenderOut
from outreach.sending.senders.service import check_target, get_sender


async def put_mailbox(
    session: AsyncSession,
    principal: Principal,
    secrets: SenderSecrets,
    guard: TargetGuard,
    sender_id: uuid.UUID,
    mailbox: MailboxIn,
) -> SenderOut:
    """Creates or replaces the sender's mailbox; answers the sender, which shows it."""
    require_manager(principal)
    sender = await _sender(session, sender_id)
    if sender.transport == "system":
        raise Conflict(
            "SENDER_SYSTEM_READ_ONLY",
            "The system sender has no mailbox of yours",
            "It sends through the service's relay, so replies to it do not reach a mailbox "
            "this organization owns. Add a sender with its own SMTP server and give it the "
            "mailbox.",
        )
    await check_target(guard, "imap_host", mailbox.imap_host, mailbox.imap_port)
    auth, secret = (
        ("password", mailbox.imap_password)
        if mailbox.imap_password is not None
        else ("oauth2", mailbox.oauth2_token)
    )
    assert secret is not None  # MailboxIn holds exactly one
    await repository.put_mailbox(
        session,
        org_id=principal.org_id,
        sender_id=sender.id,
        imap_host=mailbox.imap_host,
        imap_port=mailbox.imap_port,
        imap_tls=mailbox.imap_tls,
        imap_username=mailbox.imap_username or sender.from_email,
        auth=auth,
        secret_encrypted=secrets.encrypt(secret),
    )
    return await get_sender(session, sender.id)


async def delete_mailbox(session: AsyncSession, principal: Principal, sender_id: uuid.UUID) -> None:
    """The mailbox is no longer read; what was read from it stays."""
    require_manager(principal)
    await _sender(session, sender_id)
    if not await repository.delete_mailbox(session, sender_id):
        raise not_found("Mailbox")


MAILBOX_TEST_KEY = "mailbox_test"


async def check_mailbox(
    transactions: Transactions,
    principal: Principal,
    secrets: SenderSecrets,
    settings: Settings,
    guard: TargetGuard,
    sender_id: uuid.UUID,
) -> tuple[MailboxTestOut, Allowance]:
    """Connect to the sender's mailbox as it is set up, log in, open INBOX (read-only), and
    say how far it got; a failure becomes the mailbox's `last_error`, a success clears it.

    Counted against the organization's per-minute allowance of connection tests. No database
    connection is held while the server is waited for: what it needs is read in a short
    transaction, the outcome written in another.
    """
    require_manager(principal)
    async with transactions() as session:
        allowance = await take_one(
            session,
            principal.org_id,
            MAILBOX_TEST_KEY,
            limit=settings.sender_tests_per_minute,
            window_seconds=60,
        )
        await _sender(session, sender_id)
        mailbox = await repository.get_mailbox(session, sender_id)
        if mailbox is None:
            raise not_found("Mailbox")
    try:
        outcome = await check(_settings_of(mailbox, secrets), guard)
        result = MailboxTestOut(ok=outcome.ok, stage=outcome.stage, detail=outcome.detail)
    except InvalidToken:
        result = MailboxTestOut(
            ok=False,
            stage="login",
            detail="The stored password or token cannot be decrypted with the service's "
            "keys (OUTREACH_SENDER_SECRET_KEYS): put the mailbox's settings again.",
        )
    async with transactions() as session:
        await repository.note_test_result(session, sender_id, None if result.ok else result.detail)
    return result, allowance


def _settings_of(mailbox: SenderMailbox, secrets: SenderSecrets) -> MailboxSettings:
    """What the client needs, the secret decrypted; raises InvalidToken when no key can."""
    return MailboxSettings(
        host=mailbox.imap_host,
        port=mailbox.imap_port,
        tls=mailbox.imap_tls,  # type: ignore[arg-type]  # a database check keeps it one of three
        username=mailbox.imap_username,
        auth=mailbox.auth,  # type: ignore[arg-type]  # likewise
        secret=secrets.decrypt(mailbox.secret_encrypted),
    )


async def _sender(session: AsyncSession, sender_id: uuid.UUID) -> Sender:
    # Locked: a concurrent change of the sender (or its deletion) waits for this one.
    sender = await senders.get_sender(session, sender_id, for_update=True)
    if sender is None:
        raise not_found("Sender")
    return sender
