"""Event routes: manual events on a campaign's contact."""

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from outreach.auth.dependencies import CurrentPrincipal, TenantSession
from outreach.events.manual import service
from outreach.events.manual.schemas import ManualEventIn, ManualEventOut
from outreach.kit.idempotency import IdempotencyKey, idempotent
from outreach.kit.problems import problem_responses

router = APIRouter(tags=["events"])


@router.post(
    "/campaigns/{campaign_id}/contacts/{contact_id}/events",
    summary="Record a reply, conversion or manual step (LinkedIn, call, letter, SMS)",
    status_code=201,
    response_model=ManualEventOut,
    responses=problem_responses(401, 403, 404, 409),
)
async def record_manual_event(
    campaign_id: uuid.UUID,
    contact_id: uuid.UUID,
    body: ManualEventIn,
    request: Request,
    session: TenantSession,
    principal: CurrentPrincipal,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    return await idempotent(
        session,
        request,
        idempotency_key,
        lambda: service.record_manual_event(session, principal, campaign_id, contact_id, body),
    )
