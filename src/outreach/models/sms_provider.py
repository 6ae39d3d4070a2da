"""An organization's SMS provider account (Twilio's API shape); the token is stored encrypted."""

import uuid
from datetime import datetime

from sqlalchemy import DateTime, Text, func
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from outreach.models.base import Base


class SmsProvider(Base):
    __tablename__ = "sms_providers"

    org_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    base_url: Mapped[str] = mapped_column(Text, nullable=False)
    account_sid: Mapped[str] = mapped_column(Text, nullable=False)
    # Fernet ciphertext (outreach.sending.secrets); never leaves the service.
    auth_token_encrypted: Mapped[str] = mapped_column(Text, nullable=False)
    from_number: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
