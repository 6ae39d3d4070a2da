"""A campaign's draft sequence graph, and its published, immutable versions."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, DateTime, Integer, Text, func
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from outreach.models.base import Base, IdMixin, TenantMixin, TimestampMixin


class CampaignWorkflow(TenantMixin, TimestampMixin, Base):
    __tablename__ = "campaign_workflows"

    campaign_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    canvas: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    published_version: Mapped[int | None] = mapped_column(Integer)
    draft_changed: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="true")
    trigger_key: Mapped[str] = mapped_column(Text, nullable=False)  # of the webhook trigger URL
    signing_secret: Mapped[str] = mapped_column(Text, nullable=False)  # of webhook actions
    updated_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))


class CampaignVersion(IdMixin, TenantMixin, Base):
    __tablename__ = "campaign_versions"

    campaign_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    change_type: Mapped[str] = mapped_column(Text, nullable=False)
    change_description: Mapped[str | None] = mapped_column(Text)
    campaign_snapshot: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    steps_snapshot: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, nullable=False)
    canvas_snapshot: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    created_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
