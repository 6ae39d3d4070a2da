"""Routes for a campaign's contacts: bulk add, list, read, edit and remove one."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from outreach.auth.dependencies import CurrentPrincipal, TenantSession
from outreach.contacts import service
from outreach.contacts.repository import MemberFilters
from outreach.contacts.schemas import (
    AbVariant,
    BulkAddIn,
    BulkAddOut,
    CampaignContactOut,
    CampaignContactUpdate,
    ContactStatus,
    ContactType,
)
from outreach.kit.idempotency import IdempotencyKey, idempotent
from outreach.kit.pagination import Cursor, Limit, Page
from outreach.kit.problems import problem_responses

router = APIRouter(prefix="/campaigns/{campaign_id}/contacts", tags=["contacts"])


@router.post(
    "",
    summary="Add up to 1,000 contacts, with a result per row",
    description=(
        "Each row is created, skipped (already in the campaign, twice in the batch, or on the "
        "do-not-contact list) or invalid, with its code; the valid rows are added in one "
        "transaction. The person is created or updated by email (any case), else by lead_id."
    ),
    response_model=BulkAddOut,
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def add_contacts(
    campaign_id: uuid.UUID,
    body: BulkAddIn,
    request: Request,
    session: TenantSession,
    principal: CurrentPrincipal,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    return await idempotent(
        session,
        request,
        idempotency_key,
        lambda: service.add_contacts(session, principal, campaign_id, body.contacts),
        status_code=200,
    )


@router.get(
    "",
    summary="List the campaign's contacts, newest first",
    response_model=Page[CampaignContactOut],
    responses=problem_responses(401, 404, 422),
)
async def list_contacts(
    campaign_id: uuid.UUID,
    session: TenantSession,
    status: Annotated[list[ContactStatus] | None, Query(description="Repeatable")] = None,
    ab_variant: AbVariant | None = None,
    contact_type: ContactType | None = None,
    q: Annotated[
        str | None,
        Query(max_length=200, description="Part of the email, first or last name, or company"),
    ] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[CampaignContactOut]:
    filters = MemberFilters(list(status or []), ab_variant, contact_type, q)
    return await service.list_members(session, campaign_id, filters, limit, cursor)


@router.get(
    "/{contact_id}",
    summary="Get one contact of the campaign",
    response_model=CampaignContactOut,
    responses=problem_responses(401, 404, 422),
)
async def get_contact(
    campaign_id: uuid.UUID, contact_id: uuid.UUID, session: TenantSession
) -> CampaignContactOut:
    return await service.get_member(session, campaign_id, contact_id)


@router.patch(
    "/{contact_id}",
    summary="Edit a contact's type, A/B variant (drafts only) or the person's details",
    response_model=CampaignContactOut,
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def update_contact(
    campaign_id: uuid.UUID,
    contact_id: uuid.UUID,
    body: CampaignContactUpdate,
    session: TenantSession,
    principal: CurrentPrincipal,
) -> CampaignContactOut:
    return await service.update_member(session, principal, campaign_id, contact_id, body)


@router.delete(
    "/{contact_id}",
    summary="Remove a contact from the campaign (the person stays in the organization)",
    status_code=204,
    response_class=Response,
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def remove_contact(
    campaign_id: uuid.UUID,
    contact_id: uuid.UUID,
    session: TenantSession,
    principal: CurrentPrincipal,
) -> Response:
    await service.remove_member(session, principal, campaign_id, contact_id)
    return Response(status_code=204)
