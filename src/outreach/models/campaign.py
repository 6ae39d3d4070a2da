"""A campaign: the union of the talent, client and email specs' campaign fields."""

import uuid
from datetime import date, datetime, time
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import (
    ARRAY,
    Boolean,
    Computed,
    Date,
    DateTime,
    Integer,
    Numeric,
    SmallInteger,
    Text,
    Time,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from outreach.models.base import Base, IdMixin, TenantMixin, TimestampMixin


# The statuses of a campaign, the one list (campaigns.rules draws the workflow between them).
# Kept with the table, below the domains, so that tasks, which campaigns calls, may read them.
class CampaignStatus(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    ACTIVE = "active"
    PAUSED = "paused"
    COMPLETED = "completed"
    ARCHIVED = "archived"


RESPONSE_RATE_SQL = (
    "CASE WHEN contacts_reached > 0 THEN "
    "least(100, round(responses_received::numeric * 100 / contacts_reached, 2)) ELSE 0 END"
)


class Campaign(IdMixin, TenantMixin, TimestampMixin, Base):
    __tablename__ = "campaigns"

    name: Mapped[str] = mapped_column(Text, nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    campaign_type: Mapped[str] = mapped_column(Text, nullable=False)
    channel: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(Text, nullable=False)
    permission_mode: Mapped[str] = mapped_column(Text, nullable=False)

    target_audience: Mapped[str | None] = mapped_column(Text)
    target_locations: Mapped[list[str]] = mapped_column(ARRAY(Text), nullable=False)
    target_skills: Mapped[list[str]] = mapped_column(ARRAY(Text), nullable=False)
    target_company_sizes: Mapped[list[str]] = mapped_column(ARRAY(Text), nullable=False)
    target_industries: Mapped[list[str]] = mapped_column(ARRAY(Text), nullable=False)
    target_titles: Mapped[list[str]] = mapped_column(ARRAY(Text), nullable=False)

    template_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    is_ab_test: Mapped[bool] = mapped_column(Boolean, nullable=False)
    variant_a_template_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    variant_b_template_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    ab_split_percentage: Mapped[int] = mapped_column(Integer, nullable=False)

    email_allocation: Mapped[int] = mapped_column(Integer, nullable=False)
    linkedin_allocation: Mapped[int] = mapped_column(Integer, nullable=False)
    voice_allocation: Mapped[int] = mapped_column(Integer, nullable=False)
    sms_allocation: Mapped[int] = mapped_column(Integer, nullable=False)
    mail_allocation: Mapped[int] = mapped_column(Integer, nullable=False)
    daily_lead_limit: Mapped[int] = mapped_column(Integer, nullable=False)
    total_lead_limit: Mapped[int | None] = mapped_column(Integer)

    target_contacts_count: Mapped[int | None] = mapped_column(Integer)
    target_response_rate: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    target_conversion_count: Mapped[int | None] = mapped_column(Integer)

    total_contacts: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    contacts_reached: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    emails_sent: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    linkedin_messages_sent: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    responses_received: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    conversions: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    emails_delivered: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    emails_bounced: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    opens_unique: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    opens_total: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    machine_opens: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    clicks_unique: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    clicks_total: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    machine_clicks: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    unsubscribes: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    complaints: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    response_rate: Mapped[Decimal] = mapped_column(
        Numeric(5, 2), Computed(RESPONSE_RATE_SQL, persisted=True)
    )

    start_date: Mapped[date | None] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    scheduled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    archived_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    sender_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    timezone: Mapped[str | None] = mapped_column(Text)
    send_days: Mapped[list[int]] = mapped_column(
        ARRAY(SmallInteger), nullable=False, server_default="{1,2,3,4,5}"
    )
    send_start: Mapped[time] = mapped_column(Time, nullable=False, server_default="09:00")
    send_end: Mapped[time] = mapped_column(Time, nullable=False, server_default="17:00")
    summary_sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    owner_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    created_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
