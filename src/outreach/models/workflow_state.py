"""One enrolled campaign contact's walk through its campaign's sequence (one per contact)."""

import uuid
from datetime import datetime
from typing import Any, Literal, get_args

from sqlalchemy import ARRAY, DateTime, Integer, Text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from outreach.models.base import Base, IdMixin, TenantMixin, TimestampMixin

WorkflowStatus = Literal["running", "waiting", "paused", "completed", "failed", "exited"]
WORKFLOW_STATUSES: tuple[WorkflowStatus, ...] = get_args(WorkflowStatus)
LIVE_STATUSES = ("running", "waiting", "paused")


class WorkflowState(IdMixin, TenantMixin, TimestampMixin, Base):
    __tablename__ = "campaign_workflow_states"

    campaign_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    campaign_contact_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    current_node_id: Mapped[str] = mapped_column(Text, nullable=False)
    workflow_status: Mapped[str] = mapped_column(Text, nullable=False, server_default="running")
    paused_status: Mapped[str | None] = mapped_column(Text)
    execution_path: Mapped[list[str]] = mapped_column(
        ARRAY(Text), nullable=False, server_default="{}"
    )
    workflow_variables: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, server_default="{}"
    )
    wait_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    wait_for_event: Mapped[str | None] = mapped_column(Text)
    wait_started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    interrupt: Mapped[str | None] = mapped_column(Text)
    retry_count: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    max_retries: Mapped[int] = mapped_column(Integer, nullable=False, server_default="3")
    assigned_variant: Mapped[str | None] = mapped_column(Text)
    variants: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, server_default="{}")
    variant_assigned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    last_executed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    next_execution_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    exit_reason: Mapped[str | None] = mapped_column(Text)
    last_error: Mapped[str | None] = mapped_column(Text)
