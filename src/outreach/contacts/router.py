"""Routes for a campaign's contacts: bulk add, list, read, edit and remove one."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse

from outreach.auth.dependencies import CurrentPrincipal, TenantSession
from outreach.contacts import service
from outreach.contacts.repository import MemberFilters
from outreach.contacts.schemas import (
    CONTACT_FIELD_CODES,
    AbVariant,
    BulkAddIn,
    BulkAddOut,
    CampaignContactOut,
    CampaignContactUpdate,
    ContactType,
)
from outreach.contacts.service import EditableMember
from outreach.kit.idempotency import IdempotencyKey, idempotent
from outreach.kit.pagination import Cursor, Limit, Page
from outreach.kit.problems import problem_responses
from outreach.models.campaign_contact import ContactStatus

router = APIRouter(prefix="/campaigns/{campaign_id}/contacts", tags=["contacts"])


async def _member_to_edit(
    campaign_id: uuid.UUID,
    contact_id: uuid.UUID,
    session: TenantSession,
    principal: CurrentPrincipal,
) -> EditableMember:
    return await service.editable_member(session, principal, campaign_id, contact_id)


# FastAPI runs a route's dependencies before it validates the body: another organization's
# contact is 404 (and a campaign the caller may not change 403) whatever the body holds.
MemberToEdit = Annotated[EditableMember, Depends(_member_to_edit)]


@router.post(
    "",
    summary="Add up to 1,000 contacts, with a result per row",
    description=(
        "Each row is created, skipped (already in the campaign, twice in the batch, or on the "
        "do-not-contact list) or invalid, with its code; the valid rows are added in one "
        "transaction. The person is created or updated by email (any case), else by lead_id."
    ),
    response_model=BulkAddOut,
    responses=problem_responses(
        401,
        403,
        404,
        409,
        422,
        codes={
            409: ["CAMPAIGN_READ_ONLY"],
            422: [
                "CONTACTS_BATCH_EMPTY",
                "CONTACTS_BATCH_TOO_LARGE",
                "CONTACT_EMAIL_REQUIRED",
                "CONTACT_LINKEDIN_URL_REQUIRED",
                "CONTACT_TYPE_MISMATCH",
                "CUSTOM_FIELDS_TOO_LARGE",
            ],
        },
    ),
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
    """The members of the campaign with their status, A/B variant and engagement times. Filters:
    `status`, `ab_variant`, `contact_type`, `q` (name, email or company contains)."""
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
    """`contact_id` is the campaign contact (the membership, as listed by the campaign's contacts);
    the person is its `contact`."""
    return await service.get_member(session, campaign_id, contact_id)


@router.patch(
    "/{contact_id}",
    summary="Edit the person's details, the contact's type or A/B variant (drafts only)",
    description=(
        "The person's fields (first_name, last_name, title, company_name, phone, linkedin_url, "
        "timezone, lead_tier, tags, custom_fields, email, lead_id) are checked as when adding "
        "contacts and change the organization's person, in every campaign they are in; `null` "
        "clears one. The email may change to one no other person of the organization has "
        "(409 CONTACT_DUPLICATE), never to none in an email campaign. Codes: the add's field "
        "codes (CONTACT_EMAIL_INVALID, CONTACT_LINKEDIN_URL_INVALID, CONTACT_TIMEZONE_INVALID, "
        "TEXT_CONTROL_CHARACTERS, ...), CONTACT_EMAIL_REQUIRED, CONTACT_TYPE_MISMATCH, "
        "CONTACT_AB_VARIANT_INVALID, CONTACT_FIELD_GIVEN_TWICE (422); CAMPAIGN_FIELD_LOCKED, "
        "CAMPAIGN_READ_ONLY, CONTACT_DUPLICATE (409). Another organization's contact is 404 "
        "whatever the body."
    ),
    response_model=CampaignContactOut,
    responses=problem_responses(
        401,
        403,
        404,
        409,
        422,
        codes={
            409: ["CAMPAIGN_FIELD_LOCKED", "CONTACT_DUPLICATE"],
            422: [
                *CONTACT_FIELD_CODES,
                "CONTACTS_BATCH_EMPTY",
                "CONTACTS_BATCH_TOO_LARGE",
                "CONTACT_AB_VARIANT_INVALID",
                "CONTACT_EMAIL_REQUIRED",
                "CONTACT_FIELD_GIVEN_TWICE",
                "CONTACT_LINKEDIN_URL_REQUIRED",
                "CONTACT_TYPE_MISMATCH",
                "CUSTOM_FIELDS_TOO_LARGE",
            ],
        },
    ),
)
async def update_contact(
    member: MemberToEdit, body: CampaignContactUpdate, session: TenantSession
) -> CampaignContactOut:
    return await service.update_member(session, member, body)


@router.delete(
    "/{contact_id}",
    summary="Remove a contact from the campaign (the person stays in the organization)",
    status_code=204,
    response_class=Response,
    responses=problem_responses(401, 403, 404, 409, 422, codes={409: ["CAMPAIGN_READ_ONLY"]}),
)
async def remove_contact(
    campaign_id: uuid.UUID,
    contact_id: uuid.UUID,
    session: TenantSession,
    principal: CurrentPrincipal,
) -> Response:
    """Takes the contact out of the campaign. The person stays in the organization's contacts, with
    the other campaigns they are in. A completed or archived campaign is `409 CAMPAIGN_READ_ONLY`.
    """
    await service.remove_member(session, principal, campaign_id, contact_id)
    return Response(status_code=204)
