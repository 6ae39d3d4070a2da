"""Engagement: per-contact engagement timestamps, campaign counters, auto-replies, inbound secrets.

Every counter on campaigns is a function of the campaign's contacts and events; the event
recorder keeps them current in the same transaction as the event, and the reconciliation job
recomputes them to prove it.

Revision ID: 0002_engagement
Revises: 0001_foundation
Create Date: 2026-11-23
"""

from collections.abc import Sequence
from typing import Any

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


# The A/B results of a campaign of 50,000 contacts would count them all on every read: these
# per-variant counters follow the contacts, statement by statement, in the same transaction.
_APPLY = """UPDATE campaign_variant_counters v SET
      contacts = v.contacts + c.contacts,
      responses = v.responses + c.responses,
      conversions = v.conversions + c.conversions,
      converted_responders = v.converted_responders + c.converted_responders
    FROM (SELECT org_id, campaign_id, ab_variant, sum(sign) AS contacts,
            sum(sign * (responded_at IS NOT NULL)::int) AS responses,
            sum(sign * (converted_at IS NOT NULL)::int) AS conversions,
            sum(sign * (responded_at IS NOT NULL AND converted_at IS NOT NULL)::int)
              AS converted_responders
          FROM """
_GROUP = """
          WHERE ab_variant IS NOT NULL GROUP BY 1, 2, 3) AS c
    WHERE v.org_id = c.org_id AND v.campaign_id = c.campaign_id AND v.ab_variant = c.ab_variant"""
VARIANT_COUNTERS_TEMPLATE = """
CREATE TABLE campaign_variant_counters (
  org_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  campaign_id uuid NOT NULL,
  ab_variant text NOT NULL CHECK (ab_variant IN ('A', 'B')),
  contacts integer NOT NULL DEFAULT 0 CHECK (contacts >= 0),
  responses integer NOT NULL DEFAULT 0 CHECK (responses >= 0),
  conversions integer NOT NULL DEFAULT 0 CHECK (conversions >= 0),
  converted_responders integer NOT NULL DEFAULT 0 CHECK (converted_responders >= 0),
  PRIMARY KEY (org_id, campaign_id, ab_variant),
  FOREIGN KEY (org_id, campaign_id) REFERENCES campaigns (org_id, id) ON DELETE CASCADE
);
ALTER TABLE campaign_variant_counters ENABLE ROW LEVEL SECURITY;
ALTER TABLE campaign_variant_counters FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON campaign_variant_counters
  USING (org_id = (SELECT nullif(current_setting('app.org_id', true), '')::uuid))
  WITH CHECK (org_id = (SELECT nullif(current_setting('app.org_id', true), '')::uuid));
-- Every campaign has both rows from its creation on, so the trigger below only ever updates
-- (an upsert would check the constraints on a negative insert before finding the row).
INSERT INTO campaign_variant_counters (org_id, campaign_id, ab_variant)
  SELECT org_id, id, variant FROM campaigns, (VALUES ('A'), ('B')) AS v (variant);
UPDATE campaign_variant_counters v SET contacts = c.contacts, responses = c.responses,
    conversions = c.conversions, converted_responders = c.converted_responders
  FROM (SELECT org_id, campaign_id, ab_variant, count(*) AS contacts,
          count(responded_at) AS responses, count(converted_at) AS conversions,
          count(*) FILTER (WHERE responded_at IS NOT NULL AND converted_at IS NOT NULL)
            AS converted_responders
        FROM campaign_contacts WHERE ab_variant IS NOT NULL GROUP BY 1, 2, 3) AS c
  WHERE v.org_id = c.org_id AND v.campaign_id = c.campaign_id AND v.ab_variant = c.ab_variant;

CREATE FUNCTION add_variant_counters() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO campaign_variant_counters (org_id, campaign_id, ab_variant)
    SELECT org_id, id, variant FROM new_campaigns, (VALUES ('A'), ('B')) AS v (variant);
  RETURN NULL;
END $$;
CREATE TRIGGER campaigns_variant_counters AFTER INSERT ON campaigns
  REFERENCING NEW TABLE AS new_campaigns
  FOR EACH STATEMENT EXECUTE FUNCTION add_variant_counters();

CREATE FUNCTION count_variant_changes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- Each branch names only the transition tables its operation has.
  IF TG_OP = 'INSERT' THEN
    {apply}(SELECT 1 AS sign, * FROM new_rows) AS changed{group};
  ELSIF TG_OP = 'DELETE' THEN
    {apply}(SELECT -1 AS sign, * FROM old_rows) AS changed{group};
  ELSE
    {apply}(SELECT 1 AS sign, * FROM new_rows UNION ALL SELECT -1, * FROM old_rows)
      AS changed{group};
  END IF;
  RETURN NULL;
END $$;
"""


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
    _variant_counters(connection)
    role = sql.Identifier(context.config.attributes["app_role"])
    connection.execute(sql.SQL("GRANT SELECT, INSERT ON tenant_directory TO {}").format(role))
    connection.execute(
        sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON campaign_variant_counters TO {}").format(
            role
        )
    )


def _variant_counters(connection: Any) -> None:
    # Several statements at once: sent through the driver, as one simple query.
    connection.execute(
        VARIANT_COUNTERS_TEMPLATE.replace("{apply}", _APPLY).replace("{group}", _GROUP)
    )
    for op_name, referencing in (
        ("INSERT", "NEW TABLE AS new_rows"),
        ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
        ("DELETE", "OLD TABLE AS old_rows"),
    ):
        op.execute(
            f"CREATE TRIGGER campaign_contacts_variant_{op_name.lower()} AFTER {op_name} "
            f"ON campaign_contacts REFERENCING {referencing} "
            "FOR EACH STATEMENT EXECUTE FUNCTION count_variant_changes()"
        )


def downgrade() -> None:
    op.execute("DROP TABLE campaign_variant_counters")
    op.execute("DROP FUNCTION count_variant_changes(), add_variant_counters() CASCADE")
    op.execute("DROP TABLE tenant_directory")
    op.execute("DELETE FROM engagement_events WHERE event_type = 'auto_replied'")
    _event_type_check(EVENT_TYPES_BEFORE)
    op.execute("ALTER TABLE organizations DROP COLUMN inbound_secrets")
    op.execute("ALTER TABLE campaign_contacts DROP COLUMN bounce_type")
    for column in CONTACT_TIMESTAMPS:
        op.execute(f"ALTER TABLE campaign_contacts DROP COLUMN {column}")
    for counter in COUNTERS:
        op.execute(f"ALTER TABLE campaigns DROP COLUMN {counter}")
