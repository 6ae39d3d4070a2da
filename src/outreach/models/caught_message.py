"""A message the embedded mail catcher received (local use: no real SMTP server configured)."""

from datetime import datetime

from sqlalchemy import ARRAY, DateTime, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from outreach.models.base import Base, IdMixin, TenantMixin


class CaughtMessage(IdMixin, TenantMixin, Base):
    __tablename__ = "caught_messages"

    message_id: Mapped[str | None] = mapped_column(Text)
    mail_from: Mapped[str] = mapped_column(Text, nullable=False)
    recipients: Mapped[list[str]] = mapped_column(ARRAY(Text), nullable=False)
    subject: Mapped[str | None] = mapped_column(Text)
    raw: Mapped[str] = mapped_column(Text, nullable=False)
    received_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
