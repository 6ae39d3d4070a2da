"""Analytics reads: A/B verdict, dashboard, timeseries, links, engaged contacts, event log."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from outreach.analytics import ab_test, repository
from outreach.analytics.schemas import (
    AbTestOut,
    DashboardCampaignOut,
    EngagedContactOut,
    EngagedContactsOut,
    EventOut,
    LinkOut,
    LinksOut,
    TimeseriesOut,
)
from outreach.campaigns.service import get_campaign_facts, with_metrics
from outreach.errors import Conflict, ValidationFailed
from outreach.kit import timezones
from outreach.kit.keyset import page_by, position_after
from outreach.kit.pagination import Page


async def get_ab_test(session: AsyncSession, campaign_id: uuid.UUID) -> AbTestOut:
    campaign = await get_campaign_facts(session, campaign_id)
    if not campaign.is_ab_test:
        raise Conflict(
            "CAMPAIGN_NOT_AB_TEST",
            "Campaign is not an A/B test",
            "Only a campaign created with is_ab_test has variants to compare.",
        )
    counts = await repository.variant_counts(session, campaign.id)
    return AbTestOut.model_validate(ab_test.evaluate(counts["A"], counts["B"]))


BUCKET_LIMITS = {"day": 400, "hour": 24 * 31}  # points one answer may hold


async def get_timeseries(
    session: AsyncSession,
    campaign_id: uuid.UUID,
    bucket: str,
    since: datetime | None,
    until: datetime | None,
    tz: str,
) -> TimeseriesOut:
    campaign = await get_campaign_facts(session, campaign_id)
    if not timezones.is_known(tz):
        raise ValidationFailed.field(
            "tz", "TIMEZONE_INVALID", "Unknown time zone: use an IANA name like Europe/Paris"
        )
    until = until or datetime.now(UTC)
    since = since or campaign.started_at or campaign.created_at
    step = timedelta(days=1) if bucket == "day" else timedelta(hours=1)
    if since > until:
        raise ValidationFailed.field("since", "RANGE_INVALID", "since must be before until")
    if (until - since) / step > BUCKET_LIMITS[bucket]:
        raise ValidationFailed.field(
            "since",
            "RANGE_TOO_LONG",
            f"At most {BUCKET_LIMITS[bucket]} {bucket}s in one answer: narrow the range",
        )
    points = await repository.timeseries(session, campaign.id, bucket, since, until, tz)
    return TimeseriesOut.model_validate({"bucket": bucket, "tz": tz, "points": points})


async def get_links(session: AsyncSession, campaign_id: uuid.UUID, limit: int) -> LinksOut:
    campaign = await get_campaign_facts(session, campaign_id)
    rows = await repository.clicked_links(session, campaign.id, limit)
    return LinksOut(items=[LinkOut.model_validate(row) for row in rows])


async def get_engaged_contacts(
    session: AsyncSession, campaign_id: uuid.UUID, min_clicks: int, limit: int
) -> EngagedContactsOut:
    campaign = await get_campaign_facts(session, campaign_id)
    rows = await repository.engaged_contacts(session, campaign.id, min_clicks, limit)
    return EngagedContactsOut(items=[EngagedContactOut.model_validate(row) for row in rows])


async def list_events(
    session: AsyncSession,
    campaign_id: uuid.UUID,
    event_types: list[str],
    limit: int,
    cursor: str | None,
) -> Page[EventOut]:
    campaign = await get_campaign_facts(session, campaign_id)
    after = position_after(cursor)
    rows = await repository.events_page(session, campaign.id, event_types, after, limit + 1)
    return _page(rows, limit, "event_timestamp", EventOut)


async def get_dashboard(
    session: AsyncSession, limit: int, cursor: str | None
) -> Page[DashboardCampaignOut]:
    rows = await repository.dashboard(session, position_after(cursor), limit + 1)
    items = [{**with_metrics(row), "pending_contacts": row["pending_contacts"]} for row in rows]
    return _page(items, limit, "created_at", DashboardCampaignOut)


M = TypeVar("M", bound=BaseModel)


def _page(rows: list[dict[str, Any]], limit: int, key: str, model: type[M]) -> Page[M]:
    """A page from up to `limit + 1` rows ordered by (`key`, id) descending."""
    return page_by(rows, limit, model.model_validate, lambda row: (row[key], row["id"]))
