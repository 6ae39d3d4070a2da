"""A contact's membership of a campaign: status, A/B variant, engagement and conversion."""

import uuid
from datetime import datetime
from typing import Literal, get_args

from sqlalchemy import DateTime, Text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from outreach.models.base import Base, IdMixin, TenantMixin, TimestampMixin

# The statuses of a campaign contact, the one list: the API's schemas, the per-status counts and
# the engagement rules use it; the table's CHECK constraint is compared to it by a test.
ContactStatus = Literal[
    "pending", "sent", "opened", "responded", "converted", "bounced", "unsubscribed"
]
CONTACT_STATUSES: tuple[ContactStatus, ...] = get_args(ContactStatus)


class CampaignContact(IdMixin, TenantMixin, TimestampMixin, Base):
    __tablename__ = "campaign_contacts"

    campaign_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    contact_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    contact_type: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default="pending")
    ab_variant: Mapped[str | None] = mapped_column(Text)
    template_used_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    channel: Mapped[str | None] = mapped_column(Text)

    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    email_sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    linkedin_sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    opened_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    clicked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    responded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    response_text: Mapped[str | None] = mapped_column(Text)
    converted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    conversion_type: Mapped[str | None] = mapped_column(Text)
    conversion_entity_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    bounced_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    unsubscribed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    complained_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    bounce_type: Mapped[str | None] = mapped_column(Text)
    error_message: Mapped[str | None] = mapped_column(Text)
    # when the campaign started working on this contact (planned its first touch)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
