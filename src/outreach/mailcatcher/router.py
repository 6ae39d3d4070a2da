"""Mail catcher routes: the mail the embedded catcher received for the organization."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from outreach.auth.dependencies import CurrentPrincipal, TenantSession
from outreach.kit.pagination import Cursor, Limit, Page
from outreach.kit.problems import problem_responses
from outreach.mailcatcher import service
from outreach.mailcatcher.schemas import CaughtMessageDetailOut, CaughtMessageOut

router = APIRouter(prefix="/mail-catcher", tags=["mail catcher"])

ABOUT = (
    "With no `OUTREACH_SMTP_URL`, `outreach serve` sends the organization's mail to an "
    "embedded SMTP catcher instead of the world; it keeps each message here."
)


@router.get(
    "/messages",
    summary="List the caught mail, newest first",
    description=ABOUT,
    response_model=Page[CaughtMessageOut],
    responses=problem_responses(401, 422),
)
async def list_messages(
    session: TenantSession,
    to: Annotated[
        str | None, Query(max_length=320, description="A recipient's address, any case")
    ] = None,
    q: Annotated[str | None, Query(max_length=200, description="Part of the subject")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[CaughtMessageOut]:
    return await service.list_messages(session, to=to, q=q, limit=limit, cursor=cursor)


@router.get(
    "/messages/{message_id}",
    summary="Read a caught message: headers, text and HTML parts, raw source",
    response_model=CaughtMessageDetailOut,
    responses=problem_responses(401, 404, 422),
)
async def get_message(message_id: uuid.UUID, session: TenantSession) -> CaughtMessageDetailOut:
    """One caught message as received, with its parsed parts."""
    return await service.get_message(session, message_id)


@router.delete(
    "/messages",
    summary="Empty the caught mail (admins and TA managers)",
    status_code=204,
    response_class=Response,
    responses=problem_responses(401, 403),
)
async def delete_messages(session: TenantSession, principal: CurrentPrincipal) -> Response:
    """Deletes every message the catcher kept for the organization."""
    await service.delete_messages(session, principal)
    return Response(status_code=204)
