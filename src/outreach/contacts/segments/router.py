"""Routes for segments: saved filters over the organization's people, with a live count."""

import uuid

from fastapi import APIRouter, Response

from outreach.auth.dependencies import CurrentPrincipal, TenantSession
from outreach.contacts.people.schemas import PersonOut
from outreach.contacts.segments import service
from outreach.contacts.segments.schemas import SegmentIn, SegmentOut, SegmentUpdate
from outreach.kit.pagination import Cursor, Limit, Page
from outreach.kit.problems import problem_responses

router = APIRouter(prefix="/segments", tags=["segments"])

FILTERS = (
    "`filters` are `GET /contacts`'s filters (`q`, `tag`, `lead_tier`, `score_min`, "
    "`score_max`, `campaign_id`, `status`, `active_since`), checked the same way (an unknown "
    "one: FIELD_UNKNOWN). `count` is how many people match now."
)


@router.post(
    "",
    summary="Save a segment",
    description=f"{FILTERS} Codes: SEGMENT_NAME_TAKEN (409); the filters' codes (422). "
    "Viewers may not (403).",
    status_code=201,
    response_model=SegmentOut,
    responses=problem_responses(
        401, 403, 409, 422, codes={409: ["SEGMENT_NAME_TAKEN"], 422: ["CONTACT_FILTER_SCORE_RANGE"]}
    ),
)
async def create_segment(
    body: SegmentIn, session: TenantSession, principal: CurrentPrincipal
) -> SegmentOut:
    return await service.create_segment(session, principal, body)


@router.get(
    "",
    summary="The organization's segments, newest first, each with its live count",
    response_model=Page[SegmentOut],
    responses=problem_responses(401, 422),
)
async def list_segments(
    session: TenantSession, limit: Limit = 50, cursor: Cursor = None
) -> Page[SegmentOut]:
    """Each segment with its filter and the number of people it matches now."""
    return await service.list_segments(session, limit, cursor)


@router.get(
    "/{segment_id}",
    summary="One segment, with its live count",
    response_model=SegmentOut,
    responses=problem_responses(401, 404, 422),
)
async def get_segment(segment_id: uuid.UUID, session: TenantSession) -> SegmentOut:
    """The segment's filter and the number of people it matches now."""
    return await service.read_segment(session, segment_id)


@router.patch(
    "/{segment_id}",
    summary="Rename a segment, or change its description or filters",
    description=f"{FILTERS} Recruiters change only the segments they created (403). Codes: "
    "SEGMENT_NAME_TAKEN, SEGMENT_NAME_REQUIRED (409); the filters' codes (422).",
    response_model=SegmentOut,
    responses=problem_responses(
        401,
        403,
        404,
        409,
        422,
        codes={
            409: ["SEGMENT_NAME_REQUIRED", "SEGMENT_NAME_TAKEN"],
            422: ["CONTACT_FILTER_SCORE_RANGE"],
        },
    ),
)
async def update_segment(
    segment_id: uuid.UUID,
    body: SegmentUpdate,
    session: TenantSession,
    principal: CurrentPrincipal,
) -> SegmentOut:
    return await service.update_segment(session, principal, segment_id, body)


@router.delete(
    "/{segment_id}",
    summary="Delete a segment (the people it added to campaigns stay there)",
    status_code=204,
    response_class=Response,
    responses=problem_responses(401, 403, 404, 422),
)
async def delete_segment(
    segment_id: uuid.UUID, session: TenantSession, principal: CurrentPrincipal
) -> Response:
    """Deletes the saved filter. People enrolled from it stay in their campaigns."""
    await service.delete_segment(session, principal, segment_id)
    return Response(status_code=204)


@router.get(
    "/{segment_id}/contacts",
    summary="The people the segment matches now, newest first",
    response_model=Page[PersonOut],
    responses=problem_responses(401, 404, 422),
)
async def list_segment_contacts(
    segment_id: uuid.UUID, session: TenantSession, limit: Limit = 50, cursor: Cursor = None
) -> Page[PersonOut]:
    """The people the segment's filter matches at the moment of the request."""
    return await service.segment_people(session, segment_id, limit, cursor)
