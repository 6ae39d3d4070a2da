"""Indexes for the organization's people: their list in the API's default order, and each
membership's events newest first (a person's activity, and the `active_since` filter).

Revision ID: 0013_people
Revises: 0012_contacts_at_scale
Create Date: 2026-11-29
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013_people"
down_revision: str | None = "0012_contacts_at_scale"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("CREATE INDEX idx_contacts_newest ON contacts (org_id, created_at DESC, id DESC)")
    # Replaces (org_id, campaign_contact_id): the same lookups, and each membership's latest
    # events without reading the older ones.
    op.execute(
        "CREATE INDEX idx_engagement_events_member_time "
        "ON engagement_events (org_id, campaign_contact_id, event_timestamp DESC, id DESC)"
    )
    op.execute("DROP INDEX idx_engagement_events_contact")


def downgrade() -> None:
    op.execute(
        "CREATE INDEX idx_engagement_events_contact "
        "ON engagement_events (org_id, campaign_contact_id)"
    )
    op.execute("DROP INDEX idx_engagement_events_member_time")
    op.execute("DROP INDEX idx_contacts_newest")
