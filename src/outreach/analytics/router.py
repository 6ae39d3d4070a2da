"""Analytics routes: A/B results, dashboard, timeseries, links, engaged contacts, events."""

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from outreach.analytics import service
from outreach.analytics.report import campaign_report
from outreach.analytics.report_pages import report_page
from outreach.analytics.schemas import (
    AbTestOut,
    CampaignReportOut,
    DashboardCampaignOut,
    EngagedContactsOut,
    EventOut,
    LinksOut,
    TimeseriesOut,
)
from outreach.auth.dependencies import TenantSession
from outreach.events.state import EventType
from outreach.kit.pagination import Cursor, Limit, Page
from outreach.kit.problems import problem_responses
from outreach.kit.times import UtcDatetime

router = APIRouter(tags=["analytics"])


@router.get(
    "/campaigns/{campaign_id}/ab-test",
    summary="An A/B test's figures per variant, p-values, and the winner or why none yet",
    response_model=AbTestOut,
    responses=problem_responses(401, 404, 409, codes={409: ["CAMPAIGN_NOT_AB_TEST"]}),
)
async def get_ab_test(campaign_id: uuid.UUID, session: TenantSession) -> AbTestOut:
    """Per variant over all its contacts: sent, opened, clicked, replied and converted with rates,
    the p-value of the difference, the confidence, and the winner or why there is none yet. A
    campaign that is not an A/B test is `409 CAMPAIGN_NOT_AB_TEST`."""
    return await service.get_ab_test(session, campaign_id)


@router.get(
    "/dashboard",
    summary="The organization's active and paused campaigns, with metrics and pending counts",
    response_model=Page[DashboardCampaignOut],
    responses=problem_responses(401),
)
async def get_dashboard(
    session: TenantSession, limit: Limit = 50, cursor: Cursor = None
) -> Page[DashboardCampaignOut]:
    """Active and paused campaigns with their metrics, plus what waits for people: approvals pending
    and tasks due."""
    return await service.get_dashboard(session, limit, cursor)


@router.get(
    "/campaigns/{campaign_id}/timeseries",
    summary="Sends, opens, clicks, responses and conversions per day or hour",
    response_model=TimeseriesOut,
    responses=problem_responses(
        401, 404, codes={422: ["RANGE_INVALID", "RANGE_TOO_LONG", "TIMEZONE_INVALID"]}
    ),
)
async def get_timeseries(
    campaign_id: uuid.UUID,
    session: TenantSession,
    bucket: Literal["day", "hour"] = "day",
    since: Annotated[UtcDatetime | None, Query(description="Default: the campaign's start")] = None,
    until: Annotated[UtcDatetime | None, Query(description="Default: now")] = None,
    tz: Annotated[
        str,
        Query(
            max_length=64,
            description="IANA time zone of the buckets, one the database knows "
            "(pg_timezone_names); else TIMEZONE_INVALID",
        ),
    ] = "UTC",
) -> TimeseriesOut:
    """Counts per `bucket` (`day`, default, or `hour`) between `since` and `until`, in the time zone
    `tz` (default: the campaign's). A range that is inverted or too long is `422`."""
    return await service.get_timeseries(session, campaign_id, bucket, since, until, tz)


@router.get(
    "/campaigns/{campaign_id}/links",
    summary="The most clicked links, with total and unique clicks by people",
    response_model=LinksOut,
    responses=problem_responses(401, 404),
)
async def get_links(
    campaign_id: uuid.UUID,
    session: TenantSession,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> LinksOut:
    """Clicked URLs of the campaign's messages, most clicked first: total clicks and unique people
    who clicked."""
    return await service.get_links(session, campaign_id, limit)


@router.get(
    "/campaigns/{campaign_id}/engaged-contacts",
    summary="Highly engaged contacts (3+ clicks by default) with their engagement score",
    response_model=EngagedContactsOut,
    responses=problem_responses(401, 404),
)
async def get_engaged_contacts(
    campaign_id: uuid.UUID,
    session: TenantSession,
    min_clicks: Annotated[int, Query(ge=1, le=1000)] = 3,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> EngagedContactsOut:
    """Contacts whose clicks by people (scanner clicks left out) reach `min_clicks`, most engaged
    first, with their engagement score."""
    return await service.get_engaged_contacts(session, campaign_id, min_clicks, limit)


@router.get(
    "/campaigns/{campaign_id}/events",
    summary="The campaign's event log, newest first",
    response_model=Page[EventOut],
    responses=problem_responses(401, 404),
)
async def list_events(
    campaign_id: uuid.UUID,
    session: TenantSession,
    event_type: Annotated[list[EventType] | None, Query()] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[EventOut]:
    """Every event of the campaign (sent, delivered, opened, clicked, bounced, replied, ...),
    machine opens and scanner clicks flagged. Filter by `event_type`."""
    types = [t.value for t in event_type or []]
    return await service.list_events(session, campaign_id, types, limit, cursor)


@router.get(
    "/campaigns/{campaign_id}/report",
    summary="The campaign's report (its completion report; while it runs, the figures so far)",
    description="JSON by default; a self-contained HTML page with `?format=html` or, when no "
    "format is given, an `Accept` header that asks for text/html.",
    response_model=CampaignReportOut,
    responses={
        **problem_responses(401, 404),
        200: {"content": {"text/html": {"schema": {"type": "string"}}}},
    },
)
async def get_report(
    campaign_id: uuid.UUID,
    request: Request,
    session: TenantSession,
    format: Literal["json", "html"] | None = None,
) -> CampaignReportOut | HTMLResponse:
    report = await campaign_report(session, campaign_id)
    wants_html = format == "html" or (
        format is None and "text/html" in request.headers.get("accept", "")
    )
    if wants_html:
        return HTMLResponse(report_page(report))
    return report
