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
    responses=problem_responses(
        401,
        403,
        404,
        409,
        codes={
            409: ["CAMPAIGN_READ_ONLY"],
            422: ["CONVERSION_TYPE_INVALID", "EVENT_IN_FUTURE", "FIELD_NOT_ALLOWED"],
        },
    ),
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
    """For what happened outside tracked email: `response_received` (with `response_text` and
    `channel`), `converted` (with `conversion_type`), `linkedin_sent`, `linkedin_viewed`. Allowed
    whether the contact was contacted yet or not (a reply may come by phone). Send an
    `Idempotency-Key` to make a retry safe."""
    return await idempotent(
        session,
        request,
        idempotency_key,
        lambda: service.record_manual_event(session, principal, campaign_id, contact_id, body),
    )
