"""The do-not-contact list: recruiters add to it, only managers take people off it."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from outreach.auth.dependencies import require_manager, require_writer
from outreach.auth.tokens import Principal
from outreach.errors import Conflict, not_found
from outreach.kit.keyset import page_of, position_after
from outreach.kit.pagination import Page
from outreach.suppressions import repository
from outreach.suppressions.schemas import Reason, SuppressionIn, SuppressionOut


async def list_suppressions(
    session: AsyncSession,
    *,
    reason: Reason | None,
    q: str | None,
    limit: int,
    cursor: str | None,
) -> Page[SuppressionOut]:
    rows = await repository.list_suppressions(
        session, reason=reason, email_prefix=q, after=position_after(cursor), limit=limit
    )
    return page_of(rows, limit, SuppressionOut.model_validate)


async def get_suppression(session: AsyncSession, suppression_id: uuid.UUID) -> SuppressionOut:
    suppression = await repository.get_suppression(session, suppression_id)
    if suppression is None:
        raise not_found("Suppression")
    return SuppressionOut.model_validate(suppression)


async def add_suppression(
    session: AsyncSession, principal: Principal, suppression: SuppressionIn
) -> SuppressionOut:
    require_writer(principal)
    added = await repository.add_suppression(
        session, org_id=principal.org_id, created_by=principal.user_id, **suppression.model_dump()
    )
    if added is None:
        raise Conflict(
            "SUPPRESSION_EXISTS",
            "This email is already suppressed",
            f"{suppression.email} is already on the do-not-contact list.",
        )
    return SuppressionOut.model_validate(added)


async def remove_suppression(
    session: AsyncSession, principal: Principal, suppression_id: uuid.UUID
) -> None:
    require_manager(principal)
    if not await repository.delete_suppression(session, suppression_id):
        raise not_found("Suppression")


async def lift_unsubscribe(
    session: AsyncSession, email: str, unsubscribe_event_ids: list[uuid.UUID]
) -> bool:
    """An unsubscribe undone from its own link: the address leaves the list only if one of
    those unsubscribes put it there, never when a complaint, a bounce, a person or another
    campaign's link did. Answers whether the address is still on the list. No principal:
    the link's signature is the authority."""
    if unsubscribe_event_ids:
        await repository.delete_unsubscribe(session, email, unsubscribe_event_ids)
    return bool(await repository.suppressed_emails(session, [email]))
