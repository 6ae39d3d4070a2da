"""Analytics queries."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from outreach.analytics.ab_test import VariantCounts
from outreach.models import EngagementEvent

# Kept by a trigger on campaign_contacts: two rows to read, however large the campaign.
_VARIANT_COUNTS = text("""
SELECT ab_variant, contacts, responses, conversions, converted_responders
FROM campaign_variant_counters
WHERE campaign_id = :campaign_id
""")


async def variant_counts(session: AsyncSession, campaign_id: uuid.UUID) -> dict[str, VariantCounts]:
    """Each variant's contacts, responses and conversions, all contacts counted."""
    connection = await session.connection()  # Core: no ORM objects on this hot read
    rows = await connection.execute(_VARIANT_COUNTS, {"campaign_id": campaign_id})
    counted = {variant: VariantCounts(*counts) for variant, *counts in rows}
    empty = VariantCounts(contacts=0, responses=0, conversions=0, converted_responders=0)
    return {variant: counted.get(variant, empty) for variant in ("A", "B")}


_TIMESERIES = text("""
WITH buckets AS (
  SELECT generate_series(
    date_trunc(:bucket, CAST(:since AS timestamptz), :tz),
    date_trunc(:bucket, CAST(:until AS timestamptz), :tz),
    CAST('1 ' || :bucket AS interval)) AS bucket
), counted AS (
  SELECT date_trunc(:bucket, event_timestamp, :tz) AS bucket,
    count(*) FILTER (WHERE event_type IN ('email_sent', 'linkedin_sent', 'sms_sent',
                                          'call_completed', 'letter_sent')) AS sends,
    count(*) FILTER (WHERE event_type = 'opened' AND NOT is_machine) AS opens,
    count(*) FILTER (WHERE event_type = 'clicked' AND NOT is_machine) AS clicks,
    count(*) FILTER (WHERE event_type = 'response_received') AS responses,
    count(*) FILTER (WHERE event_type = 'converted') AS conversions,
    count(*) FILTER (WHERE event_type = 'bounced') AS bounces,
    count(*) FILTER (WHERE event_type IN ('unsubscribed', 'spam_reported')) AS unsubscribes
  FROM engagement_events
  WHERE campaign_id = :campaign_id
    AND event_timestamp >= date_trunc(:bucket, CAST(:since AS timestamptz), :tz)
    AND event_timestamp < CAST(:until AS timestamptz)
  GROUP BY 1
)
SELECT b.bucket, coalesce(sends, 0) AS sends, coalesce(opens, 0) AS opens,
  coalesce(clicks, 0) AS clicks, coalesce(responses, 0) AS responses,
  coalesce(conversions, 0) AS conversions, coalesce(bounces, 0) AS bounces,
  coalesce(unsubscribes, 0) AS unsubscribes
FROM buckets b LEFT JOIN counted c ON c.bucket = b.bucket
ORDER BY b.bucket
""")

_LINKS = text("""
SELECT clicked_url AS url,
  count(*) FILTER (WHERE NOT is_machine) AS total_clicks,
  count(DISTINCT campaign_contact_id) FILTER (WHERE NOT is_machine) AS unique_clicks,
  count(*) FILTER (WHERE is_machine) AS machine_clicks
FROM engagement_events
WHERE campaign_id = :campaign_id AND event_type = 'clicked' AND clicked_url IS NOT NULL
GROUP BY clicked_url
ORDER BY total_clicks DESC, unique_clicks DESC, url
LIMIT :limit
""")

# The score weighs what a person did: a reply or conversion says far more than an open.
ENGAGEMENT_SCORE_SQL = (
    "opens + 3 * clicks + 10 * (responded_at IS NOT NULL)::int "
    "+ 20 * (converted_at IS NOT NULL)::int"
)
_ENGAGED = text(f"""
WITH activity AS (
  SELECT campaign_contact_id,
    count(*) FILTER (WHERE event_type = 'opened') AS opens,
    count(*) FILTER (WHERE event_type = 'clicked') AS clicks
  FROM engagement_events
  WHERE campaign_id = :campaign_id AND NOT is_machine AND event_type IN ('opened', 'clicked')
  GROUP BY campaign_contact_id
  HAVING count(*) FILTER (WHERE event_type = 'clicked') >= :min_clicks
)
SELECT cc.id AS campaign_contact_id, p.id AS contact_id, p.email, p.first_name, p.last_name,
  cc.status, a.opens, a.clicks, cc.responded_at, cc.converted_at,
  {ENGAGEMENT_SCORE_SQL} AS engagement_score
FROM activity a
JOIN campaign_contacts cc ON cc.id = a.campaign_contact_id
JOIN contacts p ON p.org_id = cc.org_id AND p.id = cc.contact_id
ORDER BY engagement_score DESC, clicks DESC, cc.id
LIMIT :limit
""")  # noqa: S608 - the score expression is the constant above


async def _rows(session: AsyncSession, query: Any, params: dict[str, Any]) -> list[dict[str, Any]]:
    connection = await session.connection()
    result = await connection.execute(query, params)
    return [dict(row) for row in result.mappings()]


async def timeseries(
    session: AsyncSession,
    campaign_id: uuid.UUID,
    bucket: str,
    since: datetime,
    until: datetime,
    tz: str,
) -> list[dict[str, Any]]:
    params = {
        "campaign_id": campaign_id,
        "bucket": bucket,
        "since": since,
        "until": until,
        "tz": tz,
    }
    return await _rows(session, _TIMESERIES, params)


async def clicked_links(
    session: AsyncSession, campaign_id: uuid.UUID, limit: int
) -> list[dict[str, Any]]:
    return await _rows(session, _LINKS, {"campaign_id": campaign_id, "limit": limit})


async def engaged_contacts(
    session: AsyncSession, campaign_id: uuid.UUID, min_clicks: int, limit: int
) -> list[dict[str, Any]]:
    params = {"campaign_id": campaign_id, "min_clicks": min_clicks, "limit": limit}
    return await _rows(session, _ENGAGED, params)


async def events_page(
    session: AsyncSession,
    campaign_id: uuid.UUID,
    event_types: list[str],
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[dict[str, Any]]:
    """The campaign's event log, newest first."""
    events = EngagementEvent.__table__
    query = select(events).where(events.c.campaign_id == campaign_id)
    if event_types:
        query = query.where(events.c.event_type.in_(event_types))
    if after is not None:
        query = query.where(tuple_(events.c.event_timestamp, events.c.id) < tuple_(*after))
    query = query.order_by(events.c.event_timestamp.desc(), events.c.id.desc()).limit(limit)
    return await _rows(session, query, {})


_DASHBOARD = text("""
SELECT c.*, (SELECT count(*) FROM campaign_contacts cc
             WHERE cc.campaign_id = c.id AND cc.status = 'pending') AS pending_contacts
FROM campaigns c
WHERE c.deleted_at IS NULL AND c.status IN ('active', 'paused')
  AND (CAST(:after_time AS timestamptz) IS NULL
       OR (c.created_at, c.id) < (CAST(:after_time AS timestamptz), CAST(:after_id AS uuid)))
ORDER BY c.created_at DESC, c.id DESC
LIMIT :limit
""")


async def dashboard(
    session: AsyncSession, after: tuple[datetime, uuid.UUID] | None, limit: int
) -> list[dict[str, Any]]:
    """The organization's running campaigns (active and paused), newest first, each with
    how many of its contacts are still pending."""
    after_time, after_id = after if after is not None else (None, None)
    params = {"after_time": after_time, "after_id": after_id, "limit": limit}
    return await _rows(session, _DASHBOARD, params)


# A click sets opened_at too (events/state.py): this counts the opened and clicked as well.
_DELIVERED_OR_OPENED = text("""
SELECT count(*) FROM campaign_contacts
WHERE campaign_id = :campaign_id AND (delivered_at IS NOT NULL OR opened_at IS NOT NULL)
""")


async def delivered_or_opened(session: AsyncSession, campaign_id: uuid.UUID) -> int:
    """The campaign's contacts whose message was reported delivered, or was opened."""
    connection = await session.connection()
    found = await connection.scalar(_DELIVERED_OR_OPENED, {"campaign_id": campaign_id})
    return int(found or 0)


_EVENT_SPAN = text("""
SELECT min(event_timestamp), max(event_timestamp) FROM engagement_events
WHERE campaign_id = :campaign_id
""")


async def event_span(
    session: AsyncSession, campaign_id: uuid.UUID
) -> tuple[datetime | None, datetime | None]:
    """The times of the campaign's first and last events."""
    connection = await session.connection()
    row = (await connection.execute(_EVENT_SPAN, {"campaign_id": campaign_id})).one()
    return row[0], row[1]
