"""A/B variant assignment, below campaigns and contacts, which both assign."""

import random

from sqlalchemy.ext.asyncio import AsyncSession

from outreach.models import Campaign
from outreach.variants import repository


async def assign_ab_variants(session: AsyncSession, campaign: Campaign) -> int:
    """Give every member of an A/B test campaign without a variant one, keeping the split as
    close to `ab_split_percentage` (% of A) as the members already assigned allow."""
    if not campaign.is_ab_test:
        return 0
    unassigned = await repository.unassigned_member_ids(session, campaign.id)
    if not unassigned:
        return 0
    counts = await repository.variant_counts(session, campaign.id)
    a, b = counts.get("A", 0), counts.get("B", 0)
    target = round((a + b + len(unassigned)) * campaign.ab_split_percentage / 100)
    new_a = min(max(target - a, 0), len(unassigned))
    variant_a = random.sample(unassigned, new_a)
    await repository.assign_variants(session, campaign.id, variant_a)
    return len(unassigned)
