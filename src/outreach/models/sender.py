"""An SMTP mailbox the organization sends from, with its sending limits."""

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Date, DateTime, Integer, Numeric, Text
from sqlalchemy.orm import Mapped, mapped_column

from outreach.models.base import Base, IdMixin, TenantMixin, TimestampMixin


class Sender(IdMixin, TenantMixin, TimestampMixin, Base):
    __tablename__ = "senders"

    from_email: Mapped[str] = mapped_column(Text, nullable=False)
    from_name: Mapped[str | None] = mapped_column(Text)
    # smtp: its own server; system: the service's relay (OUTREACH_SMTP_URL or the mail catcher)
    transport: Mapped[str] = mapped_column(Text, nullable=False, server_default="smtp")
    smtp_host: Mapped[str | None] = mapped_column(Text)
    smtp_port: Mapped[int | None] = mapped_column(Integer)
    smtp_tls: Mapped[str | None] = mapped_column(Text)
    smtp_username: Mapped[str | None] = mapped_column(Text)
    # Fernet ciphertext (outreach.sending.secrets); never leaves the service.
    smtp_password_encrypted: Mapped[str | None] = mapped_column(Text)
    hourly_limit: Mapped[int] = mapped_column(Integer, nullable=False, server_default="200")
    daily_limit: Mapped[int] = mapped_column(Integer, nullable=False, server_default="1000")
    min_spacing_seconds: Mapped[int] = mapped_column(Integer, nullable=False, server_default="30")
    warmup_start_per_day: Mapped[int | None] = mapped_column(Integer)
    warmup_increment_per_day: Mapped[int] = mapped_column(
        Integer, nullable=False, server_default="0"
    )
    warmup_started_on: Mapped[date | None] = mapped_column(Date)
    bounce_rate_threshold: Mapped[Decimal] = mapped_column(
        Numeric(5, 2), nullable=False, server_default="5.00"
    )
    complaint_rate_threshold: Mapped[Decimal] = mapped_column(
        Numeric(5, 2), nullable=False, server_default="0.30"
    )
    paused_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    paused_reason: Mapped[str | None] = mapped_column(Text)
    breaker_reset_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # the earliest moment of its next send (spacing plus jitter); None: now
    next_send_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
