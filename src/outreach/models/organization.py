"""The tenant."""

from sqlalchemy import ARRAY, Text
from sqlalchemy.orm import Mapped, mapped_column

from outreach.models.base import Base, IdMixin, TimestampMixin


class Organization(IdMixin, TimestampMixin, Base):
    __tablename__ = "organizations"

    name: Mapped[str] = mapped_column(Text, nullable=False)
    inbound_secrets: Mapped[list[str]] = mapped_column(
        ARRAY(Text), nullable=False, server_default="{}"
    )
