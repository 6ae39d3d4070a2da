"""The caught mail of an organization: every role reads it, managers empty it."""

import email
import email.policy
import uuid
from email.message import EmailMessage

from sqlalchemy.ext.asyncio import AsyncSession

from outreach.auth.dependencies import require_manager
from outreach.auth.tokens import Principal
from outreach.errors import not_found
from outreach.kit.keyset import page_by, position_after
from outreach.kit.pagination import Page
from outreach.mailcatcher import repository
from outreach.mailcatcher.schemas import CaughtMessageDetailOut, CaughtMessageOut
from outreach.models import CaughtMessage


async def list_messages(
    session: AsyncSession, *, to: str | None, q: str | None, limit: int, cursor: str | None
) -> Page[CaughtMessageOut]:
    rows = await repository.list_messages(
        session, recipient=to, subject_contains=q, after=position_after(cursor), limit=limit
    )
    # The list is in (received_at, id) order; position_after reads a datetime back as well.
    return page_by(rows, limit, message_out, lambda row: (row.received_at, row.id))


async def get_message(session: AsyncSession, message_id: uuid.UUID) -> CaughtMessageDetailOut:
    caught = await repository.get_message(session, message_id)
    if caught is None:
        raise not_found("Caught message")
    parsed = email.message_from_string(caught.raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)  # what policy.default parses into
    return CaughtMessageDetailOut(
        **message_out(caught).model_dump(),
        headers=[(name, _header_value(parsed, name, value)) for name, value in parsed.raw_items()],
        text=_body(parsed, "plain"),
        html=_body(parsed, "html"),
        raw=caught.raw,
    )


async def delete_messages(session: AsyncSession, principal: Principal) -> None:
    require_manager(principal)
    await repository.delete_messages(session)


def message_out(caught: CaughtMessage) -> CaughtMessageOut:
    return CaughtMessageOut(
        id=caught.id,
        message_id=caught.message_id,
        from_=caught.mail_from,
        to=caught.recipients,
        subject=caught.subject,
        received_at=caught.received_at,
    )


def _header_value(message: EmailMessage, name: str, raw: str) -> str:
    """The header's value unfolded and decoded (=?utf-8?...?=); as written if it will not parse."""
    try:
        return str(message.policy.header_fetch_parse(name, raw))
    except (ValueError, IndexError, LookupError):
        return raw


def _body(message: EmailMessage, subtype: str) -> str | None:
    """The message's text/<subtype> body, decoded, with the wire's CRLF as plain newlines;
    None when it has none."""
    part = message.get_body(preferencelist=(subtype,))
    if part is None:
        return None
    try:
        content = str(part.get_content())
    except (LookupError, ValueError):  # an unknown charset or a broken transfer encoding
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            return None
        content = payload.decode("utf-8", errors="replace")
    return content.replace("\r\n", "\n")


async def erase_messages_to(session: AsyncSession, address: str) -> int:
    """A data-subject erasure: the caught mail addressed to the person goes."""
    return await repository.delete_messages_to(session, address)
