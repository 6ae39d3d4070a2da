"""The explicit send route of a campaign."""

import uuid

from fastapi import APIRouter, Request

from outreach.auth.dependencies import CurrentPrincipal, TenantSession
from outreach.kit.problems import problem_responses
from outreach.sending.send_now import SendNowIn, SendNowOut, send_now

router = APIRouter(prefix="/campaigns", tags=["sending"])


@router.post(
    "/{campaign_id}/send",
    summary="Start contacts now: the only way a manual campaign sends (campaign owner or managers)",
    description="Starts the given campaign contacts, or the next ones, within the campaign's "
    "daily and total lead limits: each gets its channel and its first message (queued to send "
    "in the campaign's sending window, even in a co-pilot campaign: this call is the approval) "
    "or a task for the owner. Contacts already started are left as they are.",
    response_model=SendNowOut,
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def send_campaign_now(
    campaign_id: uuid.UUID,
    body: SendNowIn,
    request: Request,
    session: TenantSession,
    principal: CurrentPrincipal,
) -> SendNowOut:
    return await send_now(session, principal, request.app.state.settings, campaign_id, body)
