"""Analytics reads: a campaign's A/B test verdict."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from outreach.analytics import ab_test, repository
from outreach.analytics.schemas import AbTestOut
from outreach.campaigns.service import get_readable_campaign
from outreach.errors import Conflict


async def get_ab_test(session: AsyncSession, campaign_id: uuid.UUID) -> AbTestOut:
    campaign = await get_readable_campaign(session, campaign_id)
    if not campaign.is_ab_test:
        raise Conflict(
            "CAMPAIGN_NOT_AB_TEST",
            "Campaign is not an A/B test",
            "Only a campaign created with is_ab_test has variants to compare.",
        )
    counts = await repository.variant_counts(session, campaign.id)
    return AbTestOut.model_validate(ab_test.evaluate(counts["A"], counts["B"]))
