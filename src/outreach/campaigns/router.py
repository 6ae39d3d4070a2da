"""Campaign routes: CRUD, the status workflow, reads with metrics."""

import uuid
from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from outreach.auth.dependencies import CurrentPrincipal, TenantSession
from outreach.campaigns import service
from outreach.campaigns.repository import CampaignFilters
from outreach.campaigns.rules import Action, CampaignType, Channel
from outreach.campaigns.schemas import (
    CampaignCreate,
    CampaignDetail,
    CampaignOut,
    CampaignUpdate,
    ScheduleRequest,
)
from outreach.kit.idempotency import IdempotencyKey, idempotent
from outreach.kit.pagination import Cursor, Limit, Page
from outreach.kit.problems import problem_responses
from outreach.models.campaign import CampaignStatus

router = APIRouter(prefix="/campaigns", tags=["campaigns"])

READ_ERRORS = problem_responses(401, 404)
WRITE_ERRORS = problem_responses(401, 403, 404, 409, 422)


@router.post(
    "",
    summary="Create a campaign (as a draft)",
    status_code=201,
    response_model=CampaignDetail,
    responses=problem_responses(401, 403, 409, 422),
)
async def create_campaign(
    body: CampaignCreate,
    request: Request,
    session: TenantSession,
    principal: CurrentPrincipal,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    return await idempotent(
        session,
        request,
        idempotency_key,
        lambda: service.create_campaign(session, principal, body),
    )


@router.get(
    "",
    summary="List campaigns",
    response_model=Page[CampaignOut],
    responses=problem_responses(401, 422),
)
async def list_campaigns(
    session: TenantSession,
    status: Annotated[list[CampaignStatus] | None, Query()] = None,
    campaign_type: CampaignType | None = None,
    channel: Channel | None = None,
    owner_id: uuid.UUID | None = None,
    q: Annotated[str | None, Query(max_length=200, description="Name contains")] = None,
    start_date_from: date | None = None,
    end_date_to: date | None = None,
    order_by: Literal["created_at", "name", "start_date", "response_rate"] = "created_at",
    order: Annotated[
        Literal["asc", "desc"] | None,
        Query(description="Default: asc for name, desc for the others"),
    ] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[CampaignOut]:
    filters = CampaignFilters(
        statuses=list(status or []),
        campaign_type=campaign_type,
        channel=channel,
        owner_id=owner_id,
        q=q,
        start_date_from=start_date_from,
        end_date_to=end_date_to,
    )
    return await service.list_campaigns(session, filters, order_by, order, cursor, limit)


@router.get(
    "/{campaign_id}",
    summary="A campaign with metrics, contact counts, progress and response-rate band",
    response_model=CampaignDetail,
    responses=READ_ERRORS,
)
async def get_campaign(campaign_id: uuid.UUID, session: TenantSession) -> CampaignDetail:
    return await service.get_campaign_detail(session, campaign_id)


@router.patch(
    "/{campaign_id}",
    summary="Edit a campaign (what may change depends on its status)",
    response_model=CampaignDetail,
    responses=WRITE_ERRORS,
)
async def update_campaign(
    campaign_id: uuid.UUID,
    body: CampaignUpdate,
    session: TenantSession,
    principal: CurrentPrincipal,
) -> CampaignDetail:
    return await service.update_campaign(session, principal, campaign_id, body)


@router.delete(
    "/{campaign_id}",
    summary="Delete a campaign (soft delete: gone from lists and reads)",
    status_code=204,
    response_class=Response,
    responses=problem_responses(401, 403, 404),
)
async def delete_campaign(
    campaign_id: uuid.UUID, session: TenantSession, principal: CurrentPrincipal
) -> Response:
    await service.delete_campaign(session, principal, campaign_id)
    return Response(status_code=204)


def _transition_route(action: Action, summary: str) -> None:
    async def run(
        campaign_id: uuid.UUID, session: TenantSession, principal: CurrentPrincipal
    ) -> CampaignDetail:
        return await service.transition(session, principal, campaign_id, action)

    run.__name__ = f"{action}_campaign"
    router.add_api_route(
        f"/{{campaign_id}}/{action}",
        run,
        methods=["POST"],
        summary=summary,
        response_model=CampaignDetail,
        responses=WRITE_ERRORS,
    )


_transition_route(Action.ACTIVATE, "Activate a draft, scheduled or paused campaign")
_transition_route(Action.PAUSE, "Pause an active campaign")
_transition_route(Action.RESUME, "Resume a paused campaign (metrics kept)")
_transition_route(Action.COMPLETE, "Complete an active or paused campaign (sets end_date)")
_transition_route(Action.ARCHIVE, "Archive a completed campaign (read-only forever)")


@router.post(
    "/{campaign_id}/schedule",
    summary="Schedule a draft campaign to become active at `scheduled_at`",
    response_model=CampaignDetail,
    responses=WRITE_ERRORS,
)
async def schedule_campaign(
    campaign_id: uuid.UUID,
    body: ScheduleRequest,
    session: TenantSession,
    principal: CurrentPrincipal,
) -> CampaignDetail:
    return await service.transition(
        session, principal, campaign_id, Action.SCHEDULE, body.scheduled_at
    )
