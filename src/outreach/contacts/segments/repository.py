"""Queries for segments and the campaigns they are enrolled in (the one writer of `segments`
and `campaign_segments`)."""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from outreach.kit.keyset import Position
from outreach.models import Campaign, CampaignSegment, Segment


async def get_segment(
    session: AsyncSession, segment_id: uuid.UUID, *, for_update: bool = False
) -> Segment | None:
    query = select(Segment).where(Segment.id == segment_id)
    if for_update:
        query = query.with_for_update()
    found: Segment | None = await session.scalar(query)
    return found


async def name_holder(session: AsyncSession, name: str) -> uuid.UUID | None:
    holder: uuid.UUID | None = await session.scalar(
        select(Segment.id).where(func.lower(Segment.name) == name.lower())
    )
    return holder


async def flush_named(session: AsyncSession) -> bool:
    """Write a segment's creation or rename; False when its name was taken meanwhile (by a
    create that committed after the name was checked: the unique index decides)."""
    try:
        await session.flush()
    except IntegrityError as exc:
        diag = getattr(exc.orig, "diag", None)
        if diag is not None and diag.constraint_name == "uq_segments_org_name":
            return False
        raise
    return True


async def segments_page(session: AsyncSession, after: Position | None, limit: int) -> list[Segment]:
    query = select(Segment)
    if after is not None:
        query = query.where(tuple_(Segment.created_at, Segment.id) < tuple_(*after))
    query = query.order_by(Segment.created_at.desc(), Segment.id.desc()).limit(limit)
    return list(await session.scalars(query))


async def follow(
    session: AsyncSession,
    org_id: uuid.UUID,
    campaign_id: uuid.UUID,
    segment_id: uuid.UUID,
    *,
    follow: bool,
    enrolled_by: uuid.UUID | None,
) -> None:
    """Record the segment as enrolled into the campaign (again: `follow` is the latest asked,
    and the people who match are to be added once more)."""
    values: dict[str, Any] = {
        "org_id": org_id,
        "campaign_id": campaign_id,
        "segment_id": segment_id,
        "follow": follow,
        "enrolled_by": enrolled_by,
        "last_enrolled_at": None,
    }
    statement = insert(CampaignSegment).values(values)
    statement = statement.on_conflict_do_update(
        index_elements=["org_id", "campaign_id", "segment_id"],
        set_={"follow": follow, "enrolled_by": enrolled_by, "last_enrolled_at": None},
    )
    await session.execute(statement)


async def caught_up(
    session: AsyncSession, campaign_id: uuid.UUID, segment_id: uuid.UUID, at: datetime
) -> None:
    """Every person who matched the segment by `at` has been added."""
    await session.execute(
        update(CampaignSegment)
        .where(CampaignSegment.campaign_id == campaign_id, CampaignSegment.segment_id == segment_id)
        .values(last_enrolled_at=at)
    )


@dataclass(frozen=True)
class DueSegment:
    campaign_id: uuid.UUID
    segment_id: uuid.UUID
    filters: dict[str, Any]


async def claim_due(
    session: AsyncSession, statuses: frozenset[str], limit: int
) -> list[DueSegment]:
    """The enrolled segments with people to add: those that follow, and those not caught up
    yet, of campaigns in `statuses`. Claimed (SKIP LOCKED): another process takes others."""
    query = (
        select(CampaignSegment.campaign_id, CampaignSegment.segment_id, Segment.filters)
        .join(Segment, Segment.id == CampaignSegment.segment_id)
        .join(Campaign, Campaign.id == CampaignSegment.campaign_id)
        .where(
            CampaignSegment.follow | CampaignSegment.last_enrolled_at.is_(None),
            Campaign.status.in_(statuses),
            Campaign.deleted_at.is_(None),
        )
        .order_by(CampaignSegment.last_enrolled_at.asc().nulls_first())
        .limit(limit)
        .with_for_update(of=CampaignSegment, skip_locked=True)
    )
    return [DueSegment(*row) for row in await session.execute(query)]
