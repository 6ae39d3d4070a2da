"""Campaign rules that do not need the database: statuses, transitions, edit locks, bands."""

from enum import StrEnum


class CampaignStatus(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    ACTIVE = "active"
    PAUSED = "paused"
    COMPLETED = "completed"
    ARCHIVED = "archived"


READ_ONLY_STATUSES = frozenset({CampaignStatus.COMPLETED, CampaignStatus.ARCHIVED})
