"""Sender rules: managers set up the mailboxes, everyone may see them, nobody reads a password."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from outreach.auth.dependencies import require_manager
from outreach.auth.tokens import Principal
from outreach.config import Settings
from outreach.errors import Conflict, not_found
from outreach.kit.keyset import page_of, position_after
from outreach.kit.pagination import Page
from outreach.models import Sender
from outreach.sending import repository
from outreach.sending.schemas import ConnectionCheckOut, SenderIn, SenderOut, SenderPatch
from outreach.sending.secrets import SenderSecrets
from outreach.sending.smtp import SmtpNotConfigured, check_connection, smtp_server_for


async def list_senders(session: AsyncSession, *, limit: int, cursor: str | None) -> Page[SenderOut]:
    rows = await repository.list_senders(session, after=position_after(cursor), limit=limit)
    return page_of(rows, limit, sender_out)


async def get_sender(session: AsyncSession, sender_id: uuid.UUID) -> SenderOut:
    return sender_out(await _get(session, sender_id))


async def create_sender(
    session: AsyncSession, principal: Principal, secrets: SenderSecrets, sender: SenderIn
) -> SenderOut:
    require_manager(principal)
    values = sender.model_dump(exclude={"smtp_password"})
    encrypted = _encrypted(secrets, sender.smtp_password)
    try:
        created = await repository.add_sender(
            session,
            Sender(org_id=principal.org_id, smtp_password_encrypted=encrypted, **values),
        )
    except repository.FromEmailTaken:
        raise _exists(sender.from_email) from None
    return sender_out(created)


async def update_sender(
    session: AsyncSession,
    principal: Principal,
    secrets: SenderSecrets,
    sender_id: uuid.UUID,
    patch: SenderPatch,
) -> SenderOut:
    require_manager(principal)
    sender = await _get(session, sender_id, for_update=True)
    changes = patch.model_dump(exclude_unset=True)
    if "smtp_password" in changes:
        changes["smtp_password_encrypted"] = _encrypted(secrets, changes.pop("smtp_password"))
    try:
        updated = await repository.update_sender(session, sender, changes)
    except repository.FromEmailTaken:
        raise _exists(str(changes["from_email"])) from None
    return sender_out(updated)


async def delete_sender(session: AsyncSession, principal: Principal, sender_id: uuid.UUID) -> None:
    require_manager(principal)
    if not await repository.delete_sender(session, sender_id):
        raise not_found("Sender")


def sender_out(sender: Sender) -> SenderOut:
    """The sender as answered: its password only as `has_password`."""
    fields = set(SenderOut.model_fields) - {"has_password"}
    return SenderOut(
        has_password=sender.smtp_password_encrypted is not None,
        **{field: getattr(sender, field) for field in fields},
    )


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


async def check_sender(
    session: AsyncSession,
    principal: Principal,
    secrets: SenderSecrets,
    settings: Settings,
    sender_id: uuid.UUID,
) -> ConnectionCheckOut:
    """Connect to the sender's SMTP server as it is configured, log in, and say how it went."""
    require_manager(principal)
    sender = await _get(session, sender_id)
    try:
        server = smtp_server_for(sender, secrets, settings)
    except SmtpNotConfigured as exc:
        return ConnectionCheckOut(ok=False, stage="connect", detail=str(exc))
    result = await check_connection(server)
    return ConnectionCheckOut.model_validate(result, from_attributes=True)
