"""Segments: saved filters over the organization's people, each answered with the live count
of the people it matches; the people a segment matches, for a page or to add to a campaign."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from outreach.auth.dependencies import require_owner_or_manager, require_writer
from outreach.auth.tokens import Principal
from outreach.contacts.people import repository as people
from outreach.contacts.people.filters import SegmentFilters
from outreach.contacts.people.schemas import PersonOut
from outreach.contacts.segments import repository
from outreach.contacts.segments.schemas import SegmentIn, SegmentOut, SegmentUpdate
from outreach.errors import Conflict, not_found
from outreach.kit.keyset import page_of, position_after
from outreach.kit.pagination import Page
from outreach.models import Segment


def filters_of(segment: Segment) -> SegmentFilters:
    """The segment's saved filters, read back through the model that checked them."""
    return SegmentFilters.model_validate(segment.filters)


async def _out(session: AsyncSession, segment: Segment) -> SegmentOut:
    return SegmentOut(
        id=segment.id,
        name=segment.name,
        description=segment.description,
        filters=segment.filters,
        count=await people.count_people(session, filters_of(segment)),
        created_by=segment.created_by,
        created_at=segment.created_at,
        updated_at=segment.updated_at,
    )


async def get_segment(
    session: AsyncSession, segment_id: uuid.UUID, *, for_update: bool = False
) -> Segment:
    segment = await repository.get_segment(session, segment_id, for_update=for_update)
    if segment is None:
        raise not_found("Segment")
    return segment


async def _check_name_free(
    session: AsyncSession, name: str, segment_id: uuid.UUID | None = None
) -> None:
    holder = await repository.name_holder(session, name)
    if holder is not None and holder != segment_id:
        raise _name_taken()


def _name_taken() -> Conflict:
    return Conflict("SEGMENT_NAME_TAKEN", "Another segment already has this name")


def _saved(filters: SegmentFilters) -> dict[str, object]:
    return filters.model_dump(mode="json", exclude_defaults=True)


async def create_segment(
    session: AsyncSession, principal: Principal, body: SegmentIn
) -> SegmentOut:
    require_writer(principal)
    await _check_name_free(session, body.name)
    segment = Segment(
        org_id=principal.org_id,
        name=body.name,
        description=body.description,
        filters=_saved(body.filters),
        created_by=principal.user_id,
    )
    session.add(segment)
    if not await repository.flush_named(session):
        raise _name_taken()
    await session.refresh(segment)
    return await _out(session, segment)


async def list_segments(session: AsyncSession, limit: int, cursor: str | None) -> Page[SegmentOut]:
    rows = await repository.segments_page(session, position_after(cursor), limit + 1)
    page = page_of(rows, limit, lambda segment: segment)
    return Page(
        items=[await _out(session, segment) for segment in page.items],
        next_cursor=page.next_cursor,
    )


async def read_segment(session: AsyncSession, segment_id: uuid.UUID) -> SegmentOut:
    return await _out(session, await get_segment(session, segment_id))


async def update_segment(
    session: AsyncSession, principal: Principal, segment_id: uuid.UUID, body: SegmentUpdate
) -> SegmentOut:
    segment = await get_segment(session, segment_id, for_update=True)
    require_owner_or_manager(principal, segment.created_by, "segments")
    given = body.model_fields_set
    if "name" in given:
        if body.name is None:
            raise Conflict("SEGMENT_NAME_REQUIRED", "A segment's name cannot be cleared")
        await _check_name_free(session, body.name, segment.id)
        segment.name = body.name
    if "description" in given:
        segment.description = body.description
    if "filters" in given:
        segment.filters = _saved(body.filters or SegmentFilters())
    if not await repository.flush_named(session):
        raise _name_taken()
    await session.refresh(segment)
    return await _out(session, segment)


async def delete_segment(
    session: AsyncSession, principal: Principal, segment_id: uuid.UUID
) -> None:
    """The segment, and its enrollments into campaigns (the people added stay in them)."""
    segment = await get_segment(session, segment_id, for_update=True)
    require_owner_or_manager(principal, segment.created_by, "segments")
    await session.delete(segment)
    await session.flush()


async def segment_people(
    session: AsyncSession, segment_id: uuid.UUID, limit: int, cursor: str | None
) -> Page[PersonOut]:
    filters = filters_of(await get_segment(session, segment_id))
    rows = await people.people_page(session, filters, position_after(cursor), limit + 1)
    return page_of(rows, limit, PersonOut.model_validate)
