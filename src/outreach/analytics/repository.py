"""Analytics queries."""

import uuid

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from outreach.analytics.ab_test import VariantCounts

_VARIANT_COUNTS = text("""
SELECT ab_variant,
       count(*) AS contacts,
       count(*) FILTER (WHERE responded_at IS NOT NULL) AS responses,
       count(*) FILTER (WHERE converted_at IS NOT NULL) AS conversions,
       count(*) FILTER (WHERE responded_at IS NOT NULL
                          AND converted_at IS NOT NULL) AS converted_responders
FROM campaign_contacts
WHERE campaign_id = :campaign_id AND ab_variant IN ('A', 'B')
GROUP BY ab_variant
""")


async def variant_counts(session: AsyncSession, campaign_id: uuid.UUID) -> dict[str, VariantCounts]:
    """Each variant's contacts, responses and conversions, all contacts counted."""
    connection = await session.connection()  # Core: no ORM objects on this hot read
    rows = await connection.execute(_VARIANT_COUNTS, {"campaign_id": campaign_id})
    counted = {variant: VariantCounts(*counts) for variant, *counts in rows}
    empty = VariantCounts(contacts=0, responses=0, conversions=0, converted_responders=0)
    return {variant: counted.get(variant, empty) for variant in ("A", "B")}
