"""An erased person's row stays (their campaign memberships point at it, so the campaigns'
figures stay true) with every personal field gone; `erased_at` says so, and the organization's
contact lists, searches and segments leave such rows out.

Revision ID: 0014_erased_contacts
Revises: 0013_people
Create Date: 2026-11-29
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014_erased_contacts"
down_revision: str | None = "0013_people"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER TABLE contacts ADD COLUMN erased_at timestamptz")


def downgrade() -> None:
    op.execute("ALTER TABLE contacts DROP COLUMN erased_at")
