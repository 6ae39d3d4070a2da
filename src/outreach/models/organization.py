"""The tenant."""

from sqlalchemy import Text
from sqlalchemy.orm import Mapped, mapped_column

from outreach.models.base import Base, IdMixin, TimestampMixin


class Organization(IdMixin, TimestampMixin, Base):
    __tablename__ = "organizations"

    name: Mapped[str] = mapped_column(Text, nullable=False)
