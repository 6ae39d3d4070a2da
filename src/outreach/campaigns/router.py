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

CAMPAIGN_FIELD_CODES = [
    "CAMPAIGN_AB_SAME_TEMPLATES",
    "CAMPAIGN_ALLOCATION_INVALID",
    "CAMPAIGN_INVALID_DATES",
    "CAMPAIGN_NAME_INVALID",
    "CAMPAIGN_NAME_LENGTH",
    "CAMPAIGN_NAME_REQUIRED",
    "CAMPAIGN_SENDER_NOT_FOUND",
    "CAMPAIGN_SEND_DAYS_INVALID",
    "CAMPAIGN_SEND_HOURS_INVALID",
    "CAMPAIGN_START_DATE_IN_PAST",
    "CAMPAIGN_TIMEZONE_INVALID",
    "OWNER_NOT_FOUND",
    "TEMPLATE_CHANNEL_MISMATCH",
    "TEMPLATE_NOT_FOUND",
]

# What stops a change of status (activation's rules included).
TRANSITION_CODES = [
    "CAMPAIGN_AB_MISSING_TEMPLATES",
    "CAMPAIGN_AB_SAME_TEMPLATES",
    "CAMPAIGN_ALREADY_ACTIVE",
    "CAMPAIGN_INVALID_DATES",
    "CAMPAIGN_NO_CONTACTS",
    "CAMPAIGN_READ_ONLY",
    "INVALID_STATUS_TRANSITION",
]

READ_ERRORS = problem_responses(401, 404)


@router.post(
    "",
    summary="Create a campaign (as a draft)",
    status_code=201,
    response_model=CampaignDetail,
    responses=problem_responses(
        401,
        403,
        409,
        422,
        codes={422: CAMPAIGN_FIELD_CODES},
    ),
)
async def create_campaign(
    body: CampaignCreate,
    request: Request,
    session: TenantSession,
    principal: CurrentPrincipal,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """The campaign starts as a `draft` owned by the caller; admins and TA managers may name another
    `owner_id`. Viewers may not create (`403 FORBIDDEN`). An A/B test needs two different templates
    of the campaign's channel. Send an `Idempotency-Key` to make a retry safe."""
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
    """The organization's campaigns (deleted ones left out). Filters combine: `status` may be
    repeated. `order_by` is `created_at` (default), `name`, `start_date` or `response_rate`; page
    with `limit` and `cursor`."""
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
    """The campaign with its counters, the number of its contacts per status, `progress_percentage`
    (contacted of total) and `response_rate_band`."""
    return await service.get_campaign_detail(session, campaign_id)


@router.patch(
    "/{campaign_id}",
    summary="Edit a campaign (what may change depends on its status)",
    response_model=CampaignDetail,
    responses=problem_responses(
        401,
        403,
        404,
        409,
        422,
        codes={
            409: ["CAMPAIGN_FIELD_LOCKED", "CAMPAIGN_READ_ONLY"],
            422: CAMPAIGN_FIELD_CODES,
        },
    ),
)
async def update_campaign(
    campaign_id: uuid.UUID,
    body: CampaignUpdate,
    session: TenantSession,
    principal: CurrentPrincipal,
) -> CampaignDetail:
    """A partial edit: absent fields stay, `null` clears an optional one. A draft or scheduled
    campaign may change anything; an active or paused one not what it is or whom it sends what (`409
    CAMPAIGN_FIELD_LOCKED`); a completed or archived one nothing (`409 CAMPAIGN_READ_ONLY`)."""
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
    """A soft delete: the campaign disappears from lists and reads (its rows stay for the metrics of
    the organization). Recruiters may delete only the campaigns they own."""
    await service.delete_campaign(session, principal, campaign_id)
    return Response(status_code=204)


def _transition_route(action: Action, summary: str, description: str) -> None:
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
        description=f"{description} {TRANSITION_RULES}",
        response_model=CampaignDetail,
        responses=problem_responses(401, 403, 404, 409, 422, codes={409: TRANSITION_CODES}),
    )


TRANSITION_RULES = (
    "From another status: `409 INVALID_STATUS_TRANSITION`. By the campaign's owner, an admin or "
    "a TA manager (else `403 FORBIDDEN`)."
)
_transition_route(
    Action.ACTIVATE,
    "Activate a draft, scheduled or paused campaign",
    "The campaign needs contacts (`409 CAMPAIGN_NO_CONTACTS`), valid dates and, as an A/B test, "
    "two different templates; a changed sequence draft is published. It then sends by itself "
    "(autopilot, co-pilot) or on `POST /campaigns/{id}/send` (manual).",
)
_transition_route(
    Action.PAUSE, "Pause an active campaign", "Nothing more is sent until it is resumed."
)
_transition_route(
    Action.RESUME,
    "Resume a paused campaign (metrics kept)",
    "Sending goes on where it stopped, under the activation rules.",
)
_transition_route(
    Action.COMPLETE,
    "Complete an active or paused campaign (sets end_date)",
    "Nothing more is sent; the campaign becomes read-only except for archiving.",
)
_transition_route(
    Action.ARCHIVE,
    "Archive a completed campaign (read-only forever)",
    "An archived campaign stays readable with its metrics and can never change again.",
)


@router.post(
    "/{campaign_id}/schedule",
    summary="Schedule a draft campaign to become active at `scheduled_at`",
    response_model=CampaignDetail,
    responses=problem_responses(
        401,
        403,
        404,
        409,
        422,
        codes={409: TRANSITION_CODES, 422: ["CAMPAIGN_SCHEDULE_IN_PAST"]},
    ),
)
async def schedule_campaign(
    campaign_id: uuid.UUID,
    body: ScheduleRequest,
    session: TenantSession,
    principal: CurrentPrincipal,
) -> CampaignDetail:
    """The scheduler activates it at `scheduled_at` (in the future, else `422
    CAMPAIGN_SCHEDULE_IN_PAST`) if the activation rules hold then; they are checked now too."""
    return await service.transition(
        session, principal, campaign_id, Action.SCHEDULE, body.scheduled_at
    )
