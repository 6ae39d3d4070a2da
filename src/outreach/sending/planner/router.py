"""The explicit send route of a campaign."""

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from outreach.auth.dependencies import CurrentPrincipal, TenantSession
from outreach.dependencies import SettingsDep
from outreach.kit.idempotency import IdempotencyKey, idempotent
from outreach.kit.problems import problem_responses
from outreach.sending.planner.send_now import SendNowIn, SendNowOut, send_now

router = APIRouter(prefix="/campaigns", tags=["sending"])


@router.post(
    "/{campaign_id}/send",
    summary="Start contacts now: the only way a manual campaign sends (campaign owner or managers)",
    description="Starts the given campaign contacts, or the next ones, within the campaign's "
    "daily and total lead limits: each gets its channel and its first message (queued to send "
    "in the campaign's sending window, even in a co-pilot campaign: this call is the approval) "
    "or a task for the owner. Contacts already started are left as they are. "
    "`409 CAMPAIGN_SEND_LIMIT_EXCEEDED` when the daily or total lead limit leaves no room.",
    response_model=SendNowOut,
    responses=problem_responses(
        401,
        403,
        404,
        409,
        422,
        codes={
            409: ["CAMPAIGN_NOT_ACTIVE", "CAMPAIGN_READ_ONLY", "CAMPAIGN_SEND_LIMIT_EXCEEDED"],
            422: ["CONTACT_FIELD_NOT_UPDATABLE", "CONTACT_NOT_FOUND"],
        },
    ),
)
async def send_campaign_now(
    campaign_id: uuid.UUID,
    body: SendNowIn,
    request: Request,
    session: TenantSession,
    principal: CurrentPrincipal,
    settings: SettingsDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    return await idempotent(
        session,
        request,
        idempotency_key,
        lambda: send_now(session, principal, settings, campaign_id, body),
        status_code=200,
    )
