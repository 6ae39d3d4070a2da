"""The figures of one variant of one split node, with its significance and winner flag."""

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Boolean, DateTime, Integer, Numeric, Text, func
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from outreach.models.base import Base, IdMixin, TenantMixin


class AbTestResult(IdMixin, TenantMixin, Base):
    __tablename__ = "campaign_ab_test_results"

    campaign_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    node_id: Mapped[str] = mapped_column(Text, nullable=False)
    variant_id: Mapped[str] = mapped_column(Text, nullable=False)
    total_sent: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    total_delivered: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    total_opened: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    total_clicked: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    total_replied: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    total_converted: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    total_unsubscribed: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    total_bounced: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    delivery_rate: Mapped[Decimal] = mapped_column(
        Numeric(5, 2), nullable=False, server_default="0"
    )
    open_rate: Mapped[Decimal] = mapped_column(Numeric(5, 2), nullable=False, server_default="0")
    click_rate: Mapped[Decimal] = mapped_column(Numeric(5, 2), nullable=False, server_default="0")
    reply_rate: Mapped[Decimal] = mapped_column(Numeric(5, 2), nullable=False, server_default="0")
    conversion_rate: Mapped[Decimal] = mapped_column(
        Numeric(5, 2), nullable=False, server_default="0"
    )
    engagement_score: Mapped[Decimal] = mapped_column(
        Numeric(5, 2), nullable=False, server_default="0"
    )
    confidence_level: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    p_value: Mapped[Decimal | None] = mapped_column(Numeric(10, 8))
    is_statistically_significant: Mapped[bool] = mapped_column(
        Boolean, nullable=False, server_default="false"
    )
    is_winner: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")
    test_started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    test_ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    winner_declared_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    winner_declared_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
