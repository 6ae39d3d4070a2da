"""The campaign report: one function computes its figures, for the JSON answer, the HTML page
and the owner's summary email alike. It exists for any campaign: while the campaign runs it
says so and gives the figures so far; once completed it is the completion report."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from outreach.analytics import ab_test, repository
from outreach.analytics.schemas import (
    HOURLY_SPAN_HOURS,
    AbTestOut,
    CampaignReportOut,
    FunnelStepOut,
    ReportDayOut,
    ReportHourOut,
    ReportRatesOut,
)
from outreach.campaigns.rules import percentage
from outreach.campaigns.service import get_campaign_detail

# The daily chart covers at most this many days (the latest), as the timeseries route does.
MAX_DAYS = 400
FINAL_STATUSES = frozenset({"completed", "archived"})


async def campaign_report(
    session: AsyncSession, campaign_id: uuid.UUID, now: datetime | None = None
) -> CampaignReportOut:
    now = now or datetime.now(UTC)
    campaign = await get_campaign_detail(session, campaign_id)
    contacts = campaign.total_contacts

    def step(key: str, label: str, count: int) -> FunnelStepOut:
        return FunnelStepOut(
            key=key, label=label, count=count, percent_of_contacts=percentage(count, contacts)
        )

    # Most SMTP servers and providers report no delivery: an open (a click sets one too)
    # proves the message arrived. Once the contacts' data is gone (retention), only the
    # counters are left, and the larger of the two is what they prove.
    delivered = max(
        campaign.emails_delivered,
        campaign.opens_unique,
        await repository.delivered_or_opened(session, campaign.id),
    )
    funnel = [
        step("contacts", "Contacts", contacts),
        step("reached", "Reached", campaign.contacts_reached),
        step("sent", "Emails sent", campaign.emails_sent),
        step("delivered", "Delivered", delivered),
        step("opened", "Opened", campaign.opens_unique),
        step("clicked", "Clicked", campaign.clicks_unique),
        step("responded", "Responded", campaign.responses_received),
        step("converted", "Converted", campaign.conversions),
    ]
    losses = [
        step("bounced", "Bounced", campaign.emails_bounced),
        step("unsubscribed", "Unsubscribed", campaign.unsubscribes),
    ]
    rates = ReportRatesOut(
        open_rate=campaign.open_rate,
        click_rate=campaign.click_rate,
        response_rate=campaign.response_rate,
        bounce_rate=campaign.bounce_rate,
        conversion_rate=campaign.conversion_rate,
        unsubscribe_rate=percentage(campaign.unsubscribes, campaign.emails_sent),
    )
    final = campaign.status in FINAL_STATUSES
    end = campaign.completed_at if final and campaign.completed_at else now
    duration = None
    if campaign.started_at is not None:
        duration = round((end - campaign.started_at) / timedelta(days=1), 1)

    ab: AbTestOut | None = None
    if campaign.is_ab_test:
        counts = await repository.variant_counts(session, campaign.id)
        ab = AbTestOut.model_validate(ab_test.evaluate(counts["A"], counts["B"]))

    notes = []
    if not final:
        notes.append(f"The campaign is {campaign.status}: these are its figures so far.")
    kept_contacts = sum(campaign.contact_counts.values())
    if contacts and not kept_contacts:
        notes.append(
            "Its contact data was deleted under the retention policy: the figures are the "
            "campaign's kept counters, and the daily chart is empty."
        )
    if delivered > campaign.emails_delivered:
        notes.append(
            f"Delivered counts {delivered - campaign.emails_delivered} people whose open or "
            "click proves their message arrived, though no delivery report said so "
            f"({campaign.emails_delivered} reported)."
        )
    if campaign.machine_opens or campaign.machine_clicks:
        notes.append(
            f"Left out as machine activity: {campaign.machine_opens} opens by mail privacy "
            f"proxies and {campaign.machine_clicks} clicks by link scanners."
        )

    daily, hourly = await _activity(
        session, campaign.id, campaign.started_at or campaign.created_at, end
    )
    return CampaignReportOut(
        campaign_id=campaign.id,
        name=campaign.name,
        status=campaign.status,
        campaign_type=campaign.campaign_type,
        channel=campaign.channel,
        final=final,
        generated_at=now,
        start_date=campaign.start_date,
        end_date=campaign.end_date,
        started_at=campaign.started_at,
        completed_at=campaign.completed_at,
        duration_days=duration,
        funnel=funnel,
        losses=losses,
        contact_counts=campaign.contact_counts,
        rates=rates,
        daily=daily,
        hourly=hourly,
        ab_test=ab,
        notes=notes,
    )


async def _activity(
    session: AsyncSession, campaign_id: uuid.UUID, start: datetime, end: datetime
) -> tuple[list[ReportDayOut], list[ReportHourOut]]:
    """Each UTC day from the campaign's start (or first event) to its end (or last event);
    each hour too when that is short enough to chart by the hour."""
    first, last = await repository.event_span(session, campaign_id)
    since = min(start, first) if first else start
    until = max(end, last) if last else end
    since = max(since, until - timedelta(days=MAX_DAYS - 1))
    # The timeseries counts events before its end: the last event's own instant is included.
    after_last = until + timedelta(microseconds=1)
    days = await repository.timeseries(session, campaign_id, "day", since, after_last, "UTC")
    daily = [ReportDayOut(day=p["bucket"].astimezone(UTC).date(), **_counts(p)) for p in days]
    if until - since > timedelta(hours=HOURLY_SPAN_HOURS):
        return daily, []
    hours = await repository.timeseries(session, campaign_id, "hour", since, after_last, "UTC")
    return daily, [ReportHourOut(hour=p["bucket"].astimezone(UTC), **_counts(p)) for p in hours]


def _counts(point: dict[str, Any]) -> dict[str, int]:
    return {key: point[key] for key in ("sends", "opens", "clicks", "responses")}
