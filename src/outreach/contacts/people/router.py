"""Routes for the organization's people: list and search, one person, edit, tags, delete and
their activity across campaigns."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from outreach.auth.dependencies import CurrentPrincipal, TenantSession
from outreach.contacts.people import service
from outreach.contacts.people.filters import ContactFilters
from outreach.contacts.people.schemas import ActivityOut, PersonDetail, PersonOut, TagsChange
from outreach.contacts.privacy import service as privacy
from outreach.contacts.schemas import CONTACT_FIELD_CODES, ContactFields
from outreach.kit.pagination import Cursor, Limit, Page
from outreach.kit.problems import problem_responses

router = APIRouter(prefix="/contacts", tags=["people"])


@router.get(
    "",
    summary="The organization's people, newest first, searched and filtered",
    description=(
        "`q`: words the first name, last name, email or company start with (all of them); "
        "`tag` (repeatable: all of them), `lead_tier`, `score_min`/`score_max`, `campaign_id` "
        "(in that campaign), `status` (their status in `campaign_id`, else in any campaign), "
        "`active_since` (an event in any campaign at or after that moment, with its offset). "
        "Codes: CONTACT_FILTER_SCORE_RANGE, CURSOR_INVALID and the fields' codes (422)."
    ),
    response_model=Page[PersonOut],
    responses=problem_responses(401, 422, codes={422: ["CONTACT_FILTER_SCORE_RANGE"]}),
)
async def list_people(
    session: TenantSession,
    filters: Annotated[ContactFilters, Query()],
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[PersonOut]:
    return await service.list_people(session, filters, limit, cursor)


@router.get(
    "/{contact_id}",
    summary="One person, with the campaigns they are in and their status there",
    response_model=PersonDetail,
    responses=problem_responses(401, 404, 422),
)
async def get_person(contact_id: uuid.UUID, session: TenantSession) -> PersonDetail:
    """The person with their fields, tags, score and each campaign they are in with their status
    there."""
    return await service.get_person(session, contact_id)


@router.patch(
    "/{contact_id}",
    summary="Edit the person's fields",
    description=(
        "The fields of `PATCH /campaigns/{id}/contacts/{contact_id}`'s person, checked the "
        "same way (`null` clears one): the person keeps an email or a lead_id, and every "
        "campaign they are in can still reach them (CONTACT_EMAIL_REQUIRED, "
        "CONTACT_LINKEDIN_URL_REQUIRED). The email may change to one no other person of the "
        "organization has (409 CONTACT_DUPLICATE). Viewers may not edit (403)."
    ),
    response_model=PersonDetail,
    responses=problem_responses(
        401,
        403,
        404,
        409,
        422,
        codes={
            409: ["CONTACT_DUPLICATE"],
            422: [
                *CONTACT_FIELD_CODES,
                "CONTACTS_BATCH_EMPTY",
                "CONTACTS_BATCH_TOO_LARGE",
                "CONTACT_EMAIL_REQUIRED",
                "CONTACT_LINKEDIN_URL_REQUIRED",
                "CUSTOM_FIELDS_TOO_LARGE",
            ],
        },
    ),
)
async def update_person(
    contact_id: uuid.UUID,
    body: ContactFields,
    session: TenantSession,
    principal: CurrentPrincipal,
) -> PersonDetail:
    return await service.update_person(session, principal, contact_id, body)


@router.post(
    "/{contact_id}/tags",
    summary="Add and remove the person's tags",
    description=(
        "`remove` is applied first, then `add`; tag triggers of the campaigns they are in see "
        "the tags added. Codes: CONTACT_TAGS_CHANGE_EMPTY, TOO_MANY_ITEMS (over 50 tags), "
        "TEXT_CONTROL_CHARACTERS (422). Viewers may not change tags (403)."
    ),
    response_model=PersonDetail,
    responses=problem_responses(
        401, 403, 404, 422, codes={422: ["CONTACT_NOT_FOUND", "CONTACT_TAGS_CHANGE_EMPTY"]}
    ),
)
async def change_tags(
    contact_id: uuid.UUID,
    body: TagsChange,
    session: TenantSession,
    principal: CurrentPrincipal,
) -> PersonDetail:
    return await service.change_tags(session, principal, contact_id, body)


@router.delete(
    "/{contact_id}",
    summary="Delete the person, or with `erase=true` erase their data everywhere",
    description=(
        "Admins and TA managers only (403). Without `erase`: refused while the person is in a "
        "scheduled, active or paused campaign (409 CONTACT_IN_LIVE_CAMPAIGN): remove them from "
        "it first; the campaigns' counters follow the memberships removed. With "
        "`erase=true`: the data-subject erasure of `POST /contacts/{id}/erase` (the person's "
        "personal data goes everywhere, the campaigns' figures stay true, the address stays "
        "on the do-not-contact list as a hash only, recorded in the audit log)."
    ),
    status_code=204,
    response_class=Response,
    responses=problem_responses(401, 403, 404, 409, 422, codes={409: ["CONTACT_IN_LIVE_CAMPAIGN"]}),
)
async def delete_person(
    contact_id: uuid.UUID,
    session: TenantSession,
    principal: CurrentPrincipal,
    erase: Annotated[
        bool, Query(description="Erase the person's data everywhere (a data-subject request)")
    ] = False,
) -> Response:
    if erase:
        await privacy.erase_contact(session, principal, contact_id)
    else:
        await service.delete_person(session, principal, contact_id)
    return Response(status_code=204)


@router.get(
    "/{contact_id}/activity",
    summary="Every event of the person across their campaigns, newest first",
    response_model=Page[ActivityOut],
    responses=problem_responses(401, 404, 422),
)
async def list_activity(
    contact_id: uuid.UUID, session: TenantSession, limit: Limit = 50, cursor: Cursor = None
) -> Page[ActivityOut]:
    """Every event of the person, across all their campaigns, newest first."""
    return await service.list_activity(session, contact_id, limit, cursor)
