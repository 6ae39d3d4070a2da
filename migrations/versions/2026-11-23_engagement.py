"""Engagement: per-contact engagement timestamps, campaign counters, auto-replies, inbound secrets.

Every counter on campaigns is a function of the campaign's contacts and events; the event
recorder keeps them current in the same transaction as the event, and the reconciliation job
recomputes them to prove it.

Revision ID: 0002_engagement
Revises: 0001_foundation
Create Date: 2026-11-23
"""

from collections.abc import Sequence

from alembic import context, op
from psycopg import sql

revision: str = "0002_engagement"
down_revision: str | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COUNTERS = (
    "emails_delivered",
    "emails_bounced",
    "opens_unique",
    "opens_total",
    "machine_opens",
    "clicks_unique",
    "clicks_total",
    "machine_clicks",
    "unsubscribes",
    "complaints",
)
CONTACT_TIMESTAMPS = ("email_sent_at", "linkedin_sent_at", "delivered_at", "complained_at")
EVENT_TYPES_BEFORE = (
    "email_sent",
    "delivered",
    "opened",
    "clicked",
    "bounced",
    "unsubscribed",
    "spam_reported",
    "response_received",
    "converted",
    "linkedin_sent",
    "linkedin_viewed",
)
EVENT_TYPES = (*EVENT_TYPES_BEFORE, "auto_replied")


def _event_type_check(types: tuple[str, ...]) -> None:
    op.execute("ALTER TABLE engagement_events DROP CONSTRAINT ck_engagement_events_event_type")
    listed = ", ".join(f"'{t}'" for t in types)
    op.execute(
        "ALTER TABLE engagement_events ADD CONSTRAINT ck_engagement_events_event_type "
        f"CHECK (event_type IN ({listed}))"
    )


def upgrade() -> None:
    for counter in COUNTERS:
        op.execute(
            f"ALTER TABLE campaigns ADD COLUMN {counter} integer NOT NULL DEFAULT 0 "
            f"CONSTRAINT ck_campaigns_{counter} CHECK ({counter} >= 0)"
        )
    for column in CONTACT_TIMESTAMPS:
        op.execute(f"ALTER TABLE campaign_contacts ADD COLUMN {column} timestamptz")
    op.execute(
        "ALTER TABLE campaign_contacts ADD COLUMN bounce_type text "
        "CONSTRAINT ck_campaign_contacts_bounce_type CHECK (bounce_type IN ('hard', 'soft'))"
    )
    _event_type_check(EVENT_TYPES)
    op.execute("ALTER TABLE organizations ADD COLUMN inbound_secrets text[] NOT NULL DEFAULT '{}'")
    # Background jobs work one organization at a time, and row-level security hides every
    # organization until one is chosen: this directory lists their ids (nothing else) so that
    # a job knows which to visit. It holds no tenant data, hence no policy.
    op.execute("CREATE TABLE tenant_directory (id uuid PRIMARY KEY)")
    op.execute("INSERT INTO tenant_directory (id) SELECT id FROM organizations")
    connection = op.get_bind().connection.driver_connection
    assert connection is not None
    connection.execute(
        sql.SQL("GRANT SELECT, INSERT ON tenant_directory TO {}").format(
            sql.Identifier(context.config.attributes["app_role"])
        )
    )


def downgrade() -> None:
    op.execute("DROP TABLE tenant_directory")
    op.execute("DELETE FROM engagement_events WHERE event_type = 'auto_replied'")
    _event_type_check(EVENT_TYPES_BEFORE)
    op.execute("ALTER TABLE organizations DROP COLUMN inbound_secrets")
    op.execute("ALTER TABLE campaign_contacts DROP COLUMN bounce_type")
    for column in CONTACT_TIMESTAMPS:
        op.execute(f"ALTER TABLE campaign_contacts DROP COLUMN {column}")
    for counter in COUNTERS:
        op.execute(f"ALTER TABLE campaigns DROP COLUMN {counter}")
