"""Suppression list routes: the organization's do-not-contact list."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from outreach.auth.dependencies import CurrentPrincipal, TenantSession
from outreach.kit.idempotency import IdempotencyKey, idempotent
from outreach.kit.pagination import Cursor, Limit, Page
from outreach.kit.problems import problem_responses
from outreach.suppressions import service
from outreach.suppressions.schemas import Reason, SuppressionIn, SuppressionOut

router = APIRouter(prefix="/suppressions", tags=["suppressions"])


@router.get(
    "",
    summary="List the do-not-contact list, newest first",
    response_model=Page[SuppressionOut],
    responses=problem_responses(401, 422),
)
async def list_suppressions(
    session: TenantSession,
    reason: Reason | None = None,
    q: Annotated[
        str | None, Query(max_length=320, description="Start of the email, any case")
    ] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[SuppressionOut]:
    """Addresses never contacted again, with why: `unsubscribed`, `hard_bounce`, `complaint` or
    `manual`. Filters: `reason`, `q` (address contains)."""
    return await service.list_suppressions(session, reason=reason, q=q, limit=limit, cursor=cursor)


@router.get(
    "/{suppression_id}",
    summary="Get a suppression",
    response_model=SuppressionOut,
    responses=problem_responses(401, 404, 422),
)
async def get_suppression(suppression_id: uuid.UUID, session: TenantSession) -> SuppressionOut:
    """One entry of the do-not-contact list."""
    return await service.get_suppression(session, suppression_id)


@router.post(
    "",
    summary="Add an email to the do-not-contact list",
    status_code=201,
    response_model=SuppressionOut,
    responses=problem_responses(
        401, 403, 409, 422, codes={409: ["SUPPRESSION_EXISTS"], 422: ["CONTACT_EMAIL_INVALID"]}
    ),
)
async def add_suppression(
    body: SuppressionIn,
    request: Request,
    session: TenantSession,
    principal: CurrentPrincipal,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """The address is skipped by every campaign of the organization from now on. An address already
    listed is `409 SUPPRESSION_EXISTS`. Send an `Idempotency-Key` to make a retry safe."""
    return await idempotent(
        session, request, idempotency_key, lambda: service.add_suppression(session, principal, body)
    )


@router.delete(
    "/{suppression_id}",
    summary="Take an email off the do-not-contact list (admins and TA managers)",
    status_code=204,
    response_class=Response,
    responses=problem_responses(401, 403, 404, 422),
)
async def remove_suppression(
    suppression_id: uuid.UUID, session: TenantSession, principal: CurrentPrincipal
) -> Response:
    """The address may be contacted again."""
    await service.remove_suppression(session, principal, suppression_id)
    return Response(status_code=204)
