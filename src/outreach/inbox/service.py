"""Inbox rules: who sees which replies, and answering one in its thread through its sender.

An answer is sent within the request's transaction: the sender's row stays locked while its
SMTP server is waited for (the send loop passes over it meanwhile), so its limits hold against
concurrent answers, and a refused answer records nothing. A crash between the server's 250 and
the commit leaves a sent answer unrecorded, as with any SMTP send.
"""

import uuid
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate

import aiosmtplib
from sqlalchemy.ext.asyncio import AsyncSession

from outreach.auth.dependencies import require_owner_or_manager
from outreach.auth.tokens import Principal
from outreach.config import Settings
from outreach.errors import BadGateway, Conflict, not_found
from outreach.inbox import repository
from outreach.inbox.repository import InboxFilters, ReplyRow
from outreach.inbox.schemas import (
    AnswerIn,
    InboxCampaignOut,
    InboxContactOut,
    InboxItemOut,
    InboxReplyOut,
    ThreadMessageOut,
)
from outreach.kit.keyset import key_after, page_by
from outreach.kit.pagination import Page
from outreach.kit.targets import TargetGuard
from outreach.kit.text import control_character
from outreach.models import InboxMessage, Sender
from outreach.sending.outbox.queue import add_usage, message_domain, usage
from outreach.sending.secrets import SenderSecrets
from outreach.sending.senders import repository as senders
from outreach.sending.senders.limits import limits_of
from outreach.sending.transports.catcher import catcher_headers
from outreach.sending.transports.smtp import (
    SmtpNotConfigured,
    failure_text,
    send_one,
    smtp_server_for,
)
from outreach.suppressions.repository import suppressed_emails

# The message ids an answer's References keeps: the thread's root and its latest ones
# (RFC 5322 3.6.4 allows trimming; mail clients thread on the first and the last).
MAX_REFERENCES = 20


async def list_replies(
    session: AsyncSession,
    principal: Principal,
    filters: InboxFilters,
    *,
    limit: int,
    cursor: str | None,
) -> Page[InboxItemOut]:
    """Without an `owner_id` filter, recruiters and viewers get the replies to their own
    campaigns and managers the whole organization's (the rule of the task list)."""
    if filters.owner_id is None and not principal.manages_org:
        filters = InboxFilters(**{**filters.__dict__, "owner_id": principal.user_id})
    after = key_after(cursor, datetime.fromisoformat)
    rows = await repository.list_replies(session, filters, after=after, limit=limit)
    return page_by(rows, limit, item_out, lambda row: (row.message.received_at, row.message.id))


async def get_reply(session: AsyncSession, reply_id: uuid.UUID) -> InboxReplyOut:
    return await _with_thread(session, await _get(session, reply_id))


async def mark_read(
    session: AsyncSession, principal: Principal, reply_id: uuid.UUID
) -> InboxItemOut:
    row = await _get(session, reply_id, for_update=True)
    require_owner_or_manager(principal, row.owner_id, "replies")
    await repository.mark_read(session, row.message, datetime.now(UTC))
    return item_out(row)


async def answer(
    session: AsyncSession,
    principal: Principal,
    secrets: SenderSecrets,
    settings: Settings,
    guard: TargetGuard,
    reply_id: uuid.UUID,
    body: AnswerIn,
) -> InboxReplyOut:
    """Sends the answer to the contact through the sender the reply came to, in its thread,
    counted in the sender's usage; records it and marks the reply answered."""
    row = await _get(session, reply_id, for_update=True)
    require_owner_or_manager(principal, row.owner_id, "replies")
    reply = row.message
    sender = await senders.get_sender(session, reply.sender_id, for_update=True)
    assert sender is not None  # the reply's foreign key (ON DELETE CASCADE)
    await _require_allowance(session, sender)
    to_email = row.email or reply.from_email
    if await suppressed_emails(session, [to_email]):
        raise Conflict(
            "ADDRESS_SUPPRESSED",
            "The contact's address is on the suppression list",
            f"{to_email} unsubscribed, bounced or complained: nothing is sent to it.",
        )
    now = datetime.now(UTC)
    sent = InboxMessage(
        id=uuid.uuid4(),
        org_id=reply.org_id,
        sender_id=sender.id,
        campaign_id=reply.campaign_id,
        campaign_contact_id=reply.campaign_contact_id,
        direction="outbound",
        in_reply_to=reply.message_id,
        references_ids=_references(reply),
        from_email=sender.from_email,
        to_email=to_email,
        subject=_answer_subject(reply.subject),
        body_text=body.body_text,
        received_at=now,
    )
    sent.message_id = f"<{sent.id}@{message_domain(sender.from_email)}>"
    mail = _answer_email(settings, sender, _contact_name(row), sent, body)
    try:
        server = smtp_server_for(sender, secrets, settings, guard)
        await send_one(server, sender.from_email, to_email, mail)
    except SmtpNotConfigured as exc:
        raise _not_sent(str(exc)) from None
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        raise _not_sent(failure_text(exc)) from None
    await add_usage(session, sender, 1)
    await repository.add_answer(session, sent, reply)
    return await _with_thread(session, row)


async def _require_allowance(session: AsyncSession, sender: Sender) -> None:
    """A paused sender sends nothing; an answer counts toward its hourly and daily limits
    (its spacing, made for campaign mail, does not hold a person's answer back)."""
    if sender.paused_at is not None:
        raise Conflict(
            "SENDER_PAUSED",
            "The sender is paused",
            f"{sender.paused_reason or 'It was paused.'} Resume it "
            "(POST /senders/{id}/resume) to send again.",
        )
    last_hour, last_day = await usage(session, sender.id)
    limits = limits_of(sender)
    today = datetime.now(UTC).date()
    if limits.allowance(used_last_hour=last_hour, used_last_day=last_day, today=today, batch=1):
        return
    which = (
        f"hourly limit ({limits.hourly_limit})"
        if last_hour >= limits.hourly_limit
        else f"daily limit ({limits.daily_limit_on(today)})"
    )
    raise Conflict(
        "SENDER_LIMIT_REACHED",
        "The sender has reached its sending limit",
        f"{sender.from_email} has sent its {which}; answer again later.",
    )


def _not_sent(why: str) -> BadGateway:
    return BadGateway("REPLY_NOT_SENT", "The sender's SMTP server did not take the answer", why)


def _answer_subject(subject: str) -> str:
    one_line = " ".join(subject.split())
    return one_line if one_line[:3].lower() == "re:" else f"Re: {one_line}".rstrip()


def _references(reply: InboxMessage) -> list[str]:
    ids = [_id for _id in [*reply.references_ids, reply.message_id] if _usable_id(_id)]
    if len(ids) > MAX_REFERENCES:
        ids = [ids[0], *ids[-(MAX_REFERENCES - 1) :]]
    return ids


def _usable_id(message_id: str) -> bool:
    # Ids come from other people's mail: one that would break the header is left out.
    return bool(message_id) and control_character(message_id) is None and " " not in message_id


def _answer_email(
    settings: Settings, sender: Sender, to_name: str | None, sent: InboxMessage, body: AnswerIn
) -> bytes:
    mail = EmailMessage(policy=SMTP)
    mail["From"] = Address(sender.from_name or "", addr_spec=sender.from_email)
    mail["To"] = Address(to_name or "", addr_spec=sent.to_email)
    mail["Subject"] = sent.subject
    mail["Date"] = formatdate(sent.received_at.timestamp(), usegmt=True)
    mail["Message-ID"] = sent.message_id
    if sent.in_reply_to and _usable_id(sent.in_reply_to):
        mail["In-Reply-To"] = sent.in_reply_to
    if sent.references_ids:
        mail["References"] = " ".join(sent.references_ids)
    for name, value in catcher_headers(settings, sent.org_id):
        mail[name] = value
    mail.set_content(body.body_text)
    if body.body_html is not None:
        mail.add_alternative(body.body_html, subtype="html")
    return mail.as_bytes()


def _contact_name(row: ReplyRow) -> str | None:
    return " ".join(part for part in (row.first_name, row.last_name) if part) or None


def item_out(row: ReplyRow) -> InboxItemOut:
    message = row.message
    assert message.matched_by is not None  # every inbound row has it (a database check)
    return InboxItemOut(
        id=message.id,
        sender_id=message.sender_id,
        contact=InboxContactOut(
            campaign_contact_id=message.campaign_contact_id,
            contact_id=row.contact_id,
            name=_contact_name(row),
            email=row.email,
        ),
        campaign=InboxCampaignOut(
            id=message.campaign_id, name=row.campaign_name, owner_id=row.owner_id
        ),
        step=message.step,
        matched_by=message.matched_by,
        message_id=message.message_id,
        from_email=message.from_email,
        subject=message.subject,
        text=message.body_text,
        received_at=message.received_at,
        read_at=message.read_at,
        answered_at=message.answered_at,
    )


async def _with_thread(session: AsyncSession, row: ReplyRow) -> InboxReplyOut:
    messages = await repository.thread(session, row.message.campaign_contact_id)
    thread = [
        ThreadMessageOut(
            id=message.id,
            direction=message.direction,
            message_id=message.message_id,
            from_email=message.from_email,
            to_email=message.to_email,
            subject=message.subject,
            text=message.body_text,
            at=message.received_at,
        )
        for message in messages
    ]
    return InboxReplyOut(**item_out(row).model_dump(), thread=thread)


async def _get(session: AsyncSession, reply_id: uuid.UUID, *, for_update: bool = False) -> ReplyRow:
    row = await repository.get_reply(session, reply_id, for_update=for_update)
    if row is None:
        raise not_found("Reply")
    return row


async def erase_for_members(session: AsyncSession, member_ids: list[uuid.UUID]) -> int:
    """A data-subject erasure: the replies of these campaign contacts and the answers to them
    are deleted (their addresses, subjects and bodies are the person's data). Answers how
    many messages."""
    if not member_ids:
        return 0
    return await repository.delete_for_members(session, member_ids)
