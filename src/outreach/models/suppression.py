"""The organization's do-not-contact list, checked before every add and every send."""

import uuid
from datetime import datetime

from sqlalchemy import DateTime, Text, func
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from outreach.models.base import Base, IdMixin, TenantMixin


class Suppression(IdMixin, TenantMixin, Base):
    __tablename__ = "suppressions"

    # NULL once the person was erased: the hash alone still keeps them from being contacted
    email: Mapped[str | None] = mapped_column(Text)
    # sha256 hex of the lowercased address, set by a trigger from `email` (migration 0012)
    email_hash: Mapped[str] = mapped_column(Text, nullable=False)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    note: Mapped[str | None] = mapped_column(Text)
    campaign_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    created_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    # The engagement event that put the address here (an unsubscribe, a complaint, a hard
    # bounce); an undone unsubscribe lifts only the suppression its own event made.
    event_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
