"""An SMTP mailbox the organization sends from, with its sending limits."""

from sqlalchemy import Integer, Text
from sqlalchemy.orm import Mapped, mapped_column

from outreach.models.base import Base, IdMixin, TenantMixin, TimestampMixin


class Sender(IdMixin, TenantMixin, TimestampMixin, Base):
    __tablename__ = "senders"

    from_email: Mapped[str] = mapped_column(Text, nullable=False)
    from_name: Mapped[str | None] = mapped_column(Text)
    smtp_host: Mapped[str] = mapped_column(Text, nullable=False)
    smtp_port: Mapped[int] = mapped_column(Integer, nullable=False)
    smtp_tls: Mapped[str] = mapped_column(Text, nullable=False)
    smtp_username: Mapped[str | None] = mapped_column(Text)
    # Fernet ciphertext (outreach.sending.secrets); never leaves the service.
    smtp_password_encrypted: Mapped[str | None] = mapped_column(Text)
    hourly_limit: Mapped[int] = mapped_column(Integer, nullable=False, server_default="200")
    daily_limit: Mapped[int] = mapped_column(Integer, nullable=False, server_default="1000")
    min_spacing_seconds: Mapped[int] = mapped_column(Integer, nullable=False, server_default="30")
