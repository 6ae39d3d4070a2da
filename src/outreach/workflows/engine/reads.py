"""What the engine reads besides states and facts (read-only SQL: nothing is written here)."""

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

# -- name: latest-auto-replies. The newest auto-reply of each contact, for its return date.
_AUTO_REPLIES = text("""
SELECT DISTINCT ON (campaign_contact_id) campaign_contact_id, event_data
FROM engagement_events
WHERE campaign_contact_id = ANY(CAST(:ids AS uuid[])) AND event_type = 'auto_replied'
ORDER BY campaign_contact_id, event_timestamp DESC, created_at DESC
""")


async def auto_reply_data(
    session: AsyncSession, campaign_contact_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, dict[str, Any]]:
    """The data of each contact's latest auto-reply event (its `return_date`, when read)."""
    if not campaign_contact_ids:
        return {}
    rows = await session.execute(_AUTO_REPLIES, {"ids": list(campaign_contact_ids)})
    return {row.campaign_contact_id: row.event_data or {} for row in rows}
