"""A user of one organization: a person, created just in time from the token (id = the token's
sub), or an API key (id = the key's id), created with the key."""

from sqlalchemy import Text
from sqlalchemy.orm import Mapped, mapped_column

from outreach.models.base import Base, IdMixin, TenantMixin, TimestampMixin


class UserProfile(IdMixin, TenantMixin, TimestampMixin, Base):
    __tablename__ = "user_profiles"

    email: Mapped[str | None] = mapped_column(Text)
    name: Mapped[str | None] = mapped_column(Text)
    role: Mapped[str] = mapped_column(Text, nullable=False)
    kind: Mapped[str] = mapped_column(Text, nullable=False, server_default="user")  # or api_key
