"""A sender's own IMAP mailbox, read for what contacts answer, with its sync state."""

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Integer, Text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from outreach.models.base import Base, TenantMixin, TimestampMixin


class SenderMailbox(TenantMixin, TimestampMixin, Base):
    __tablename__ = "sender_mailboxes"

    sender_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    imap_host: Mapped[str] = mapped_column(Text, nullable=False)
    imap_port: Mapped[int] = mapped_column(Integer, nullable=False)
    imap_tls: Mapped[str] = mapped_column(Text, nullable=False)  # none / starttls / tls
    imap_username: Mapped[str] = mapped_column(Text, nullable=False)
    auth: Mapped[str] = mapped_column(Text, nullable=False)  # password / oauth2 (XOAUTH2)
    # Fernet ciphertext of the password or the access token (outreach.sending.secrets)
    secret_encrypted: Mapped[str] = mapped_column(Text, nullable=False)
    uid_validity: Mapped[int | None] = mapped_column(BigInteger)
    last_uid: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    last_sync_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    next_sync_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default="now()"
    )
    leased_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
