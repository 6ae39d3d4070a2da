"""Campaign rules that need no database: the status workflow, edit locks, allocations, bands."""

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from outreach.models.campaign import CampaignStatus


class CampaignType(StrEnum):
    TALENT_SOURCING = "talent_sourcing"
    BUSINESS_DEVELOPMENT = "business_development"
    MIXED = "mixed"


class Channel(StrEnum):
    EMAIL = "email"
    LINKEDIN = "linkedin"
    COMBINED = "combined"


class PermissionMode(StrEnum):
    AUTOPILOT = "autopilot"
    CO_PILOT = "co_pilot"
    MANUAL = "manual"


class Action(StrEnum):
    ACTIVATE = "activate"
    SCHEDULE = "schedule"
    PAUSE = "pause"
    RESUME = "resume"
    COMPLETE = "complete"
    ARCHIVE = "archive"


S = CampaignStatus
TRANSITIONS: dict[Action, tuple[frozenset[CampaignStatus], CampaignStatus]] = {
    Action.ACTIVATE: (frozenset({S.DRAFT, S.SCHEDULED, S.PAUSED}), S.ACTIVE),
    Action.SCHEDULE: (frozenset({S.DRAFT}), S.SCHEDULED),
    Action.PAUSE: (frozenset({S.ACTIVE}), S.PAUSED),
    Action.RESUME: (frozenset({S.PAUSED}), S.ACTIVE),
    Action.COMPLETE: (frozenset({S.ACTIVE, S.PAUSED}), S.COMPLETED),
    Action.ARCHIVE: (frozenset({S.COMPLETED}), S.ARCHIVED),
}

READ_ONLY_STATUSES = frozenset({S.COMPLETED, S.ARCHIVED})
EDITABLE_IN_ALL_STATUSES = frozenset({S.DRAFT, S.SCHEDULED})

# Fields that define what the campaign is and whom it sends what: fixed once it has run.
LOCKED_WHILE_RUNNING = frozenset(
    {
        "campaign_type",
        "channel",
        "template_id",
        "is_ab_test",
        "variant_a_template_id",
        "variant_b_template_id",
        "ab_split_percentage",
        "email_allocation",
        "linkedin_allocation",
        "voice_allocation",
        "sms_allocation",
        "mail_allocation",
        "start_date",
    }
)

# The spec's conversions of each campaign type (mixed accepts them all).
TALENT_CONVERSIONS = frozenset({"phone_screen", "submission", "interview", "placement"})
BD_CONVERSIONS = frozenset({"discovery_call", "meeting", "proposal", "deal"})
CONVERSION_TYPES: dict[CampaignType, frozenset[str]] = {
    CampaignType.TALENT_SOURCING: TALENT_CONVERSIONS,
    CampaignType.BUSINESS_DEVELOPMENT: BD_CONVERSIONS,
    CampaignType.MIXED: TALENT_CONVERSIONS | BD_CONVERSIONS,
}

ALLOCATION_FIELDS = (
    "email_allocation",
    "linkedin_allocation",
    "voice_allocation",
    "sms_allocation",
    "mail_allocation",
)
DEFAULT_ALLOCATIONS: dict[Channel, tuple[int, int, int, int, int]] = {
    Channel.EMAIL: (100, 0, 0, 0, 0),
    Channel.LINKEDIN: (0, 100, 0, 0, 0),
    Channel.COMBINED: (40, 30, 20, 5, 5),  # the client spec's default split
}
# Which template channels each campaign channel can send.
TEMPLATE_CHANNELS: dict[Channel, frozenset[str]] = {
    Channel.EMAIL: frozenset({"email"}),
    Channel.LINKEDIN: frozenset({"linkedin"}),
    Channel.COMBINED: frozenset({"email", "linkedin", "sms"}),
}


def allocation_error(channel: Channel, allocations: dict[str, int]) -> str | None:
    """Why the channel allocation is not acceptable, or None."""
    if sum(allocations.values()) != 100:
        return "Channel allocations must add up to 100"
    if channel is Channel.EMAIL and allocations["email_allocation"] != 100:
        return "An email campaign sends all of its contacts email (email_allocation 100)"
    if channel is Channel.LINKEDIN and allocations["linkedin_allocation"] != 100:
        return (
            "A LinkedIn campaign reaches all of its contacts on LinkedIn (linkedin_allocation 100)"
        )
    return None


@dataclass(frozen=True, eq=False)  # five singletons: identity is equality, and hashes fast
class ResponseRateBand:
    key: str
    label: str
    color: str


# The talent spec's colour coding; each band holds rates from its floor up to the next floor.
RESPONSE_RATE_BANDS = (
    (Decimal(30), ResponseRateBand("excellent", "Excellent", "green")),
    (Decimal(20), ResponseRateBand("good", "Good", "light_green")),
    (Decimal(10), ResponseRateBand("average", "Average", "yellow")),
    (Decimal(5), ResponseRateBand("below_average", "Below Average", "orange")),
    (Decimal(0), ResponseRateBand("poor", "Poor", "red")),
)


def response_rate_band(response_rate: Decimal, contacts_reached: int) -> ResponseRateBand | None:
    """None until someone was reached: a 0% rate of nobody is not a poor result."""
    if contacts_reached == 0:
        return None
    return next(band for floor, band in RESPONSE_RATE_BANDS if response_rate >= floor)


def percentage(part: int, whole: int | None) -> Decimal:
    """part / whole as a percentage with two decimals (half up), at most 100."""
    if not whole:
        return Decimal("0.00")
    hundredths = min(10_000, (part * 20_000 + whole) // (2 * whole))  # integer math: hot path
    return Decimal(hundredths).scaleb(-2)
