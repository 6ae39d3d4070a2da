"""Analytics response bodies."""

import uuid
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from outreach.analytics.ab_test import NoWinnerReason, Variant
from outreach.campaigns.schemas import CampaignOut
from outreach.kit.numbers import Percentage

# A report whose activity spans at most this many hours has its chart by the hour: by the day
# it would be one or two groups of bars.
HOURLY_SPAN_HOURS = 48


class _FromResult(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class VariantStatsOut(_FromResult):
    contacts: int = Field(description="Contacts assigned to the variant")
    responses: int = Field(description="Contacts who responded")
    conversions: int = Field(description="Contacts who converted")
    response_rate: Percentage = Field(description="responses / contacts, %")
    conversion_rate: Percentage = Field(
        description="conversions / responses, %: the conversions of contacts who responded"
    )
    overall_rate: Percentage = Field(description="conversions / contacts, %")


class VariantsOut(_FromResult):
    A: VariantStatsOut
    B: VariantStatsOut


class ComparisonOut(_FromResult):
    """One rate compared by a two-sided pooled two-proportion z-test (the same p-value as
    Pearson's chi-square test without continuity correction on the 2x2 table)."""

    leader: Variant | None = Field(description="The variant with the higher rate; null: equal")
    difference: Percentage = Field(description="The leader's rate minus the other's, in points")
    z: float
    p_value: float
    confidence: Percentage = Field(description="(1 - p_value) as a percentage")
    significant: bool = Field(description="p_value < 0.05")
    winner: Variant | None = Field(
        description="The leader, once the minimums are met and the difference is significant"
    )


class ComparisonsOut(_FromResult):
    by_response_rate: ComparisonOut = Field(description="Responses out of contacts")
    by_conversion_rate: ComparisonOut = Field(
        description="Conversions out of responses: decides the winner"
    )
    by_overall: ComparisonOut = Field(description="Conversions out of contacts")


class AbTestOut(_FromResult):
    """An A/B test's figures per variant and its verdict."""

    variants: VariantsOut
    comparisons: ComparisonsOut
    minimums_met: bool = Field(
        description="Each variant has at least 100 contacts and there are at least 30 "
        "responses in all"
    )
    winner: Variant | None = Field(
        description="The winner by conversion rate (the business outcome), or null"
    )
    reason: NoWinnerReason | None = Field(description="Why there is no winner yet")
    summary: str = Field(description="The verdict in plain words, as the UI displays it")


class TimeseriesPoint(BaseModel):
    bucket: datetime = Field(description="Start of the day or hour, in the requested time zone")
    sends: int = Field(
        description="Messages sent and manual touches: LinkedIn, SMS, calls, letters"
    )
    opens: int = Field(description="Opens by people")
    clicks: int = Field(description="Clicks by people")
    responses: int
    conversions: int
    bounces: int
    unsubscribes: int = Field(description="Unsubscribes and spam complaints")


class TimeseriesOut(BaseModel):
    bucket: Literal["day", "hour"]
    tz: str
    points: list[TimeseriesPoint]


class LinkOut(BaseModel):
    url: str
    total_clicks: int = Field(description="Clicks by people, repeats included")
    unique_clicks: int = Field(description="Contacts who clicked it")
    machine_clicks: int = Field(description="Clicks by link scanners, left out of the others")


class LinksOut(BaseModel):
    items: list[LinkOut]


class EngagedContactOut(BaseModel):
    campaign_contact_id: uuid.UUID
    contact_id: uuid.UUID
    email: str | None
    first_name: str | None
    last_name: str | None
    status: str
    opens: int
    clicks: int
    responded_at: datetime | None
    converted_at: datetime | None
    engagement_score: int = Field(
        description="opens + 3 x clicks + 10 if responded + 20 if converted (people only)"
    )


class EngagedContactsOut(BaseModel):
    items: list[EngagedContactOut]


class EventOut(BaseModel):
    id: uuid.UUID
    campaign_contact_id: uuid.UUID
    event_type: str
    event_timestamp: datetime
    is_machine: bool
    event_data: dict[str, Any]
    clicked_url: str | None
    user_agent: str | None
    ip_address: str | None
    provider: str | None
    provider_event_id: str | None
    created_at: datetime

    @field_validator("ip_address", mode="before")
    @classmethod
    def _ip_text(cls, value: object) -> str | None:
        return None if value is None else str(value)


class DashboardCampaignOut(CampaignOut):
    pending_contacts: int = Field(description="Contacts not contacted yet")


class FunnelStepOut(BaseModel):
    key: str
    label: str
    count: int
    percent_of_contacts: Percentage = Field(description="count / the campaign's contacts, %")


class ReportRatesOut(BaseModel):
    open_rate: Percentage = Field(description="Contacts who opened / emails sent, %")
    click_rate: Percentage = Field(description="Contacts who clicked / emails sent, %")
    response_rate: Percentage = Field(description="Responses / contacts reached, %")
    bounce_rate: Percentage = Field(description="Bounces / emails sent, %")
    conversion_rate: Percentage = Field(description="Conversions / responses, %")
    unsubscribe_rate: Percentage = Field(description="Unsubscribes / emails sent, %")


class _ReportActivity(BaseModel):
    sends: int
    opens: int = Field(description="Opens by people")
    clicks: int = Field(description="Clicks by people")
    responses: int


class ReportDayOut(_ReportActivity):
    day: date = Field(description="A UTC day")


class ReportHourOut(_ReportActivity):
    hour: datetime = Field(description="The start of a UTC hour")


class CampaignReportOut(BaseModel):
    """A campaign's completion report; while the campaign runs, its figures so far."""

    campaign_id: uuid.UUID
    name: str
    status: str
    campaign_type: str
    channel: str
    final: bool = Field(
        description="true once the campaign is completed or archived; false: the figures so far"
    )
    generated_at: datetime
    start_date: date | None
    end_date: date | None
    started_at: datetime | None
    completed_at: datetime | None
    duration_days: float | None = Field(
        description="Days from the start to completion (or to now while it runs), one decimal"
    )
    funnel: list[FunnelStepOut] = Field(
        description="contacts, reached, sent, delivered, opened, clicked, responded, "
        "converted. Delivered counts the contacts whose message was reported delivered or was "
        "opened (an open or a click proves it arrived), so it is never below opened"
    )
    losses: list[FunnelStepOut] = Field(description="bounced and unsubscribed")
    contact_counts: dict[str, int] = Field(description="Campaign contacts per status")
    rates: ReportRatesOut
    daily: list[ReportDayOut] = Field(
        description="Sends, human opens and clicks, and responses per UTC day, from the events"
    )
    hourly: list[ReportHourOut] = Field(
        description="The same per UTC hour when the campaign's activity spans at most "
        f"{HOURLY_SPAN_HOURS} hours (the chart then shows hours); otherwise empty"
    )
    ab_test: AbTestOut | None = Field(description="The A/B results, for an A/B test campaign")
    notes: list[str] = Field(description="What the reader should know about the figures")
