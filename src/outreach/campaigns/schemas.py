"""Campaign request and response bodies."""

import re
import unicodedata
import uuid
from datetime import date, datetime, time
from decimal import Decimal
from functools import cache
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

from outreach.campaigns.rules import CampaignType, Channel, PermissionMode, ResponseRateBand
from outreach.kit import timezones
from outreach.kit.numbers import Percentage
from outreach.kit.times import UtcDatetime
from outreach.models.campaign import CampaignStatus

HH_MM = r"^([01]\d|2[0-3]):[0-5]\d$"
_HH_MM = re.compile(HH_MM)

# Control, format (bidi overrides), surrogate, private-use, unassigned, line/paragraph separators
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def _campaign_name(value: object) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise PydanticCustomError("CAMPAIGN_NAME_REQUIRED", "Campaign name is required")
    if not isinstance(value, str):
        raise PydanticCustomError("CAMPAIGN_NAME_INVALID", "Campaign name must be text")
    name = value.strip()
    if not 3 <= len(name) <= 200:
        raise PydanticCustomError(
            "CAMPAIGN_NAME_LENGTH", "Campaign name must be 3 to 200 characters"
        )
    if any(unicodedata.category(char) in _FORBIDDEN_CATEGORIES for char in name):
        raise PydanticCustomError(
            "CAMPAIGN_NAME_INVALID", "Campaign name cannot contain control characters"
        )
    return name


def _distinct(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _timezone(value: object) -> str:
    name = value.strip() if isinstance(value, str) else ""
    if timezones.is_known(name):
        return name
    raise PydanticCustomError(
        "CAMPAIGN_TIMEZONE_INVALID", "Unknown time zone: use an IANA name like Europe/Paris"
    )


def _send_days(value: object) -> list[int]:
    invalid = PydanticCustomError(
        "CAMPAIGN_SEND_DAYS_INVALID",
        "send_days lists ISO weekdays, each once: 1 (Monday) to 7 (Sunday), at least one",
    )
    if not isinstance(value, list) or not value:
        raise invalid
    if any(isinstance(day, bool) or not isinstance(day, int) or not 1 <= day <= 7 for day in value):
        raise invalid
    if len(set(value)) != len(value):
        raise invalid
    return sorted(value)


def _local_time(value: object) -> time:
    if isinstance(value, time):  # read from the database
        return value
    if not isinstance(value, str) or not _HH_MM.match(value):
        raise PydanticCustomError(
            "CAMPAIGN_SEND_HOURS_INVALID", "A sending hour is a local time as HH:MM, e.g. 09:00"
        )
    return time.fromisoformat(value)


CampaignName = Annotated[str, BeforeValidator(_campaign_name)]
Text500 = Annotated[str, StringConstraints(max_length=500)]
Text5000 = Annotated[str, StringConstraints(max_length=5000)]


Locations = Annotated[
    list[Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]],
    Field(max_length=50),
    AfterValidator(_distinct),
]
Skills = Annotated[
    list[Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]],
    Field(max_length=30),
    AfterValidator(_distinct),
]
CompanySize = Literal["1-10", "11-50", "51-200", "201-500", "501-1000", "1001-5000", "5001+"]
CompanySizes = Annotated[list[CompanySize], AfterValidator(_distinct)]
Percent = Annotated[int, Field(ge=0, le=100)]
SplitPercent = Annotated[int, Field(ge=10, le=90)]
TargetContacts = Annotated[int, Field(ge=1, le=100_000)]
TargetRate = Annotated[Decimal, Field(ge=0, le=100, max_digits=5, decimal_places=2)]
TargetConversions = Annotated[int, Field(ge=1, le=10_000)]
DailyLeadLimit = Annotated[int, Field(ge=1, le=100_000)]
TotalLeadLimit = Annotated[int, Field(ge=1, le=1_000_000)]
Timezone = Annotated[str, BeforeValidator(_timezone)]
SendDays = Annotated[
    list[int],
    BeforeValidator(_send_days),
    WithJsonSchema(
        {
            "type": "array",
            "items": {"type": "integer", "minimum": 1, "maximum": 7},
            "minItems": 1,
            "uniqueItems": True,
        }
    ),
]
LocalTime = Annotated[
    time,
    BeforeValidator(_local_time),
    PlainSerializer(lambda value: value.strftime("%H:%M"), return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": HH_MM, "example": "09:00"}),
]


class _CampaignFields(BaseModel):
    """Every editable field, optional: shared by create (with defaults) and patch."""

    model_config = ConfigDict(extra="forbid")

    description: Text5000 | None = None
    campaign_type: CampaignType | None = None
    channel: Channel | None = None
    permission_mode: PermissionMode | None = None
    target_audience: Text500 | None = None
    target_locations: Locations | None = None
    target_skills: Skills | None = None
    target_company_sizes: CompanySizes | None = None
    target_industries: Locations | None = None
    target_titles: Locations | None = None
    template_id: uuid.UUID | None = None
    is_ab_test: bool | None = None
    variant_a_template_id: uuid.UUID | None = None
    variant_b_template_id: uuid.UUID | None = None
    ab_split_percentage: SplitPercent | None = None
    email_allocation: Percent | None = None
    linkedin_allocation: Percent | None = None
    voice_allocation: Percent | None = None
    sms_allocation: Percent | None = None
    mail_allocation: Percent | None = None
    daily_lead_limit: DailyLeadLimit | None = None
    total_lead_limit: TotalLeadLimit | None = None
    target_contacts_count: TargetContacts | None = None
    target_response_rate: TargetRate | None = None
    target_conversion_count: TargetConversions | None = None
    start_date: date | None = None
    end_date: date | None = None
    owner_id: uuid.UUID | None = None
    sender_id: uuid.UUID | None = Field(
        None, description="The sender its email goes out from (one of the organization's)"
    )
    timezone: Timezone | None = Field(
        None,
        description="IANA time zone of the sending window, e.g. Europe/Paris: one the "
        "database knows (pg_timezone_names), else CAMPAIGN_TIMEZONE_INVALID",
    )
    send_days: SendDays | None = Field(
        None, description="ISO weekdays it sends on, 1 (Monday) to 7 (Sunday); default Mon-Fri"
    )
    send_start: LocalTime | None = Field(None, description="Local time sending starts; 09:00")
    send_end: LocalTime | None = Field(
        None, description="Local time sending stops (after send_start); 17:00"
    )


class CampaignCreate(_CampaignFields):
    """A new campaign, created as a draft. Unset fields take the spec's defaults."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "Senior backend engineers, Berlin",
                    "campaign_type": "talent_sourcing",
                    "channel": "email",
                    "permission_mode": "co_pilot",
                    "template_id": "7d4b7c1e-2f0a-4a53-9d35-0c5d1f6f2b11",
                    "sender_id": "0b7e9a8c-5d61-4c1b-8f7e-3a2d9c4e6f10",
                    "daily_lead_limit": 50,
                    "target_locations": ["Berlin"],
                    "timezone": "Europe/Berlin",
                    "send_days": [1, 2, 3, 4, 5],
                    "send_start": "09:00",
                    "send_end": "17:00",
                }
            ]
        },
    )
    name: CampaignName = Field(default=None, validate_default=True)


class CampaignUpdate(_CampaignFields):
    """A partial edit: only the fields sent change; `null` clears an optional field."""

    name: CampaignName = None  # type: ignore[assignment]


class ScheduleRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scheduled_at: UtcDatetime


class ResponseRateBandOut(BaseModel):
    key: str
    label: str
    color: str

    @classmethod
    @cache  # five bands: build each answer once
    def of(cls, band: ResponseRateBand | None) -> "ResponseRateBandOut | None":
        return None if band is None else cls(key=band.key, label=band.label, color=band.color)


class CampaignOut(BaseModel):
    """A campaign with its metrics."""

    id: uuid.UUID
    name: str
    description: str | None
    campaign_type: CampaignType
    channel: Channel
    status: CampaignStatus
    permission_mode: PermissionMode
    target_audience: str | None
    target_locations: list[str]
    target_skills: list[str]
    target_company_sizes: list[str]
    target_industries: list[str]
    target_titles: list[str]
    template_id: uuid.UUID | None
    is_ab_test: bool
    variant_a_template_id: uuid.UUID | None
    variant_b_template_id: uuid.UUID | None
    ab_split_percentage: int
    email_allocation: int
    linkedin_allocation: int
    voice_allocation: int
    sms_allocation: int
    mail_allocation: int
    daily_lead_limit: int
    total_lead_limit: int | None
    target_contacts_count: int | None
    target_response_rate: Percentage | None
    target_conversion_count: int | None
    total_contacts: int = Field(description="Contacts in the campaign")
    contacts_reached: int
    emails_sent: int
    linkedin_messages_sent: int
    responses_received: int
    conversions: int
    response_rate: Percentage
    emails_delivered: int
    emails_bounced: int
    opens_unique: int = Field(description="Contacts who opened (people, not machines)")
    opens_total: int = Field(description="Opens by people, repeats included")
    machine_opens: int = Field(description="Opens by mail privacy proxies and scanners")
    clicks_unique: int = Field(description="Contacts who clicked (people, not machines)")
    clicks_total: int = Field(description="Clicks by people, repeats included")
    machine_clicks: int = Field(description="Clicks by link scanners")
    unsubscribes: int
    complaints: int
    open_rate: Percentage = Field(description="opens_unique / emails_sent, %")
    click_rate: Percentage = Field(description="clicks_unique / emails_sent, %")
    reply_rate: Percentage = Field(description="responses_received / emails_sent, %")
    bounce_rate: Percentage = Field(description="emails_bounced / emails_sent, %")
    conversion_rate: Percentage = Field(description="conversions / responses_received, %")
    overall_performance: Percentage = Field(description="conversions / contacts_reached, %")
    progress_percentage: Percentage = Field(
        description="contacts_reached / target_contacts_count (or / all contacts), %"
    )
    response_rate_band: ResponseRateBandOut | None = Field(
        description="The spec's colour band of response_rate; null until someone is reached"
    )
    start_date: date | None
    end_date: date | None
    scheduled_at: datetime | None
    started_at: datetime | None
    completed_at: datetime | None
    archived_at: datetime | None
    last_error: str | None
    sender_id: uuid.UUID | None
    timezone: str | None
    send_days: list[int]
    send_start: LocalTime
    send_end: LocalTime
    owner_id: uuid.UUID
    created_by: uuid.UUID | None
    created_at: datetime
    updated_at: datetime


class CampaignDetail(CampaignOut):
    """A campaign with its metrics and how many of its contacts are in each status."""

    contact_counts: dict[str, int] = Field(
        description="Contacts per status: pending, sent, opened, responded, converted, "
        "bounced, unsubscribed"
    )
