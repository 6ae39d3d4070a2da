"""The A/B variant column of campaign memberships."""

import uuid

from sqlalchemy import case, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from outreach.models import CampaignContact


async def variant_counts(session: AsyncSession, campaign_id: uuid.UUID) -> dict[str | None, int]:
    rows = await session.execute(
        select(CampaignContact.ab_variant, func.count())
        .where(CampaignContact.campaign_id == campaign_id)
        .group_by(CampaignContact.ab_variant)
    )
    return {variant: count for variant, count in rows}


async def unassigned_member_ids(session: AsyncSession, campaign_id: uuid.UUID) -> list[uuid.UUID]:
    rows = await session.scalars(
        select(CampaignContact.id).where(
            CampaignContact.campaign_id == campaign_id, CampaignContact.ab_variant.is_(None)
        )
    )
    return list(rows)


async def assign_variants(
    session: AsyncSession, campaign_id: uuid.UUID, variant_a_ids: list[uuid.UUID]
) -> None:
    """Variant A for these members, B for every other member that has no variant yet."""
    await session.execute(
        update(CampaignContact)
        .where(CampaignContact.campaign_id == campaign_id, CampaignContact.ab_variant.is_(None))
        .values(ab_variant=case((CampaignContact.id.in_(variant_a_ids), "A"), else_="B"))
        .execution_options(synchronize_session=False)
    )
