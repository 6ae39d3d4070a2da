"""Mailbox rules: whoever may change a sender sets up its mailbox; nobody reads its secret."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from outreach.auth.dependencies import require_manager
from outreach.auth.tokens import Principal
from outreach.errors import Conflict, not_found
from outreach.kit.targets import TargetGuard
from outreach.mailboxes import repository
from outreach.mailboxes.schemas import MailboxIn
from outreach.models import Sender
from outreach.sending.secrets import SenderSecrets
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


async def _sender(session: AsyncSession, sender_id: uuid.UUID) -> Sender:
    # Locked: a concurrent change of the sender (or its deletion) waits for this one.
    sender = await senders.get_sender(session, sender_id, for_update=True)
    if sender is None:
        raise not_found("Sender")
    return sender
