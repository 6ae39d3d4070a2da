"""Foundation: tenants, users, campaigns, contacts, templates, events, suppressions, idempotency.

Every tenant table carries org_id, has row-level security forced on, and is reachable by the
application role only through the policy `org_id = current app.org_id`. Foreign keys between
tenant tables include org_id, so a row can never point into another organization.

Revision ID: 0001_foundation
Revises:
Create Date: 2026-11-23
"""

from collections.abc import Sequence

from alembic import context, op
from psycopg import sql

revision: str = "0001_foundation"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TENANT_TABLES = (
    "user_profiles",
    "message_templates",
    "campaigns",
    "contacts",
    "campaign_contacts",
    "engagement_events",
    "suppressions",
    "idempotency_keys",
)
CURRENT_ORG = "(SELECT nullif(current_setting('app.org_id', true), '')::uuid)"

SCHEMA = """
CREATE FUNCTION set_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at = now();
  RETURN NEW;
END $$;

CREATE TABLE organizations (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE user_profiles (
  id uuid PRIMARY KEY,
  org_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  email text,
  name text,
  role text NOT NULL CONSTRAINT ck_user_profiles_role
    CHECK (role IN ('admin', 'ta_manager', 'recruiter', 'viewer')),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT uq_user_profiles_org_id_id UNIQUE (org_id, id)
);

CREATE TABLE message_templates (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  name text NOT NULL CONSTRAINT ck_message_templates_name
    CHECK (char_length(btrim(name)) BETWEEN 1 AND 200),
  channel text NOT NULL CONSTRAINT ck_message_templates_channel
    CHECK (channel IN ('email', 'linkedin', 'sms')),
  linkedin_kind text CONSTRAINT ck_message_templates_linkedin_kind
    CHECK (linkedin_kind IN ('connection_request', 'inmail')),
  subject text,
  body_text text,
  body_html text,
  created_by uuid,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT uq_message_templates_org_id_id UNIQUE (org_id, id),
  CONSTRAINT fk_message_templates_created_by FOREIGN KEY (org_id, created_by)
    REFERENCES user_profiles (org_id, id),
  CONSTRAINT ck_message_templates_kind_only_for_linkedin
    CHECK ((channel = 'linkedin') = (linkedin_kind IS NOT NULL)),
  CONSTRAINT ck_message_templates_email_has_subject_and_body
    CHECK (channel <> 'email' OR (subject IS NOT NULL
                                  AND coalesce(body_text, body_html) IS NOT NULL)),
  CONSTRAINT ck_message_templates_text_body
    CHECK (channel = 'email' OR body_text IS NOT NULL),
  CONSTRAINT ck_message_templates_connection_request_length
    CHECK (linkedin_kind IS DISTINCT FROM 'connection_request' OR char_length(body_text) <= 300),
  CONSTRAINT ck_message_templates_inmail_length
    CHECK (linkedin_kind IS DISTINCT FROM 'inmail' OR char_length(body_text) <= 1900)
);

CREATE TABLE campaigns (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  name text NOT NULL CONSTRAINT ck_campaigns_name
    CHECK (char_length(name) BETWEEN 3 AND 200 AND name = btrim(name)),
  description text CONSTRAINT ck_campaigns_description CHECK (char_length(description) <= 5000),
  campaign_type text NOT NULL DEFAULT 'talent_sourcing' CONSTRAINT ck_campaigns_campaign_type
    CHECK (campaign_type IN ('talent_sourcing', 'business_development', 'mixed')),
  channel text NOT NULL DEFAULT 'email' CONSTRAINT ck_campaigns_channel
    CHECK (channel IN ('email', 'linkedin', 'combined')),
  status text NOT NULL DEFAULT 'draft' CONSTRAINT ck_campaigns_status
    CHECK (status IN ('draft', 'scheduled', 'active', 'paused', 'completed', 'archived')),
  permission_mode text NOT NULL DEFAULT 'co_pilot' CONSTRAINT ck_campaigns_permission_mode
    CHECK (permission_mode IN ('autopilot', 'co_pilot', 'manual')),

  target_audience text CONSTRAINT ck_campaigns_target_audience
    CHECK (char_length(target_audience) <= 500),
  target_locations text[] NOT NULL DEFAULT '{}' CONSTRAINT ck_campaigns_target_locations
    CHECK (cardinality(target_locations) <= 50),
  target_skills text[] NOT NULL DEFAULT '{}' CONSTRAINT ck_campaigns_target_skills
    CHECK (cardinality(target_skills) <= 30),
  target_company_sizes text[] NOT NULL DEFAULT '{}' CONSTRAINT ck_campaigns_target_company_sizes
    CHECK (target_company_sizes
           <@ ARRAY['1-10', '11-50', '51-200', '201-500', '501-1000', '1001-5000', '5001+']),
  target_industries text[] NOT NULL DEFAULT '{}' CONSTRAINT ck_campaigns_target_industries
    CHECK (cardinality(target_industries) <= 50),
  target_titles text[] NOT NULL DEFAULT '{}' CONSTRAINT ck_campaigns_target_titles
    CHECK (cardinality(target_titles) <= 50),

  template_id uuid,
  is_ab_test boolean NOT NULL DEFAULT false,
  variant_a_template_id uuid,
  variant_b_template_id uuid,
  ab_split_percentage integer NOT NULL DEFAULT 50 CONSTRAINT ck_campaigns_ab_split_percentage
    CHECK (ab_split_percentage BETWEEN 10 AND 90),

  email_allocation integer NOT NULL DEFAULT 100
    CONSTRAINT ck_campaigns_email_allocation CHECK (email_allocation BETWEEN 0 AND 100),
  linkedin_allocation integer NOT NULL DEFAULT 0
    CONSTRAINT ck_campaigns_linkedin_allocation CHECK (linkedin_allocation BETWEEN 0 AND 100),
  voice_allocation integer NOT NULL DEFAULT 0
    CONSTRAINT ck_campaigns_voice_allocation CHECK (voice_allocation BETWEEN 0 AND 100),
  sms_allocation integer NOT NULL DEFAULT 0
    CONSTRAINT ck_campaigns_sms_allocation CHECK (sms_allocation BETWEEN 0 AND 100),
  mail_allocation integer NOT NULL DEFAULT 0
    CONSTRAINT ck_campaigns_mail_allocation CHECK (mail_allocation BETWEEN 0 AND 100),
  daily_lead_limit integer NOT NULL DEFAULT 50
    CONSTRAINT ck_campaigns_daily_lead_limit CHECK (daily_lead_limit BETWEEN 1 AND 100000),
  total_lead_limit integer
    CONSTRAINT ck_campaigns_total_lead_limit CHECK (total_lead_limit BETWEEN 1 AND 1000000),

  target_contacts_count integer CONSTRAINT ck_campaigns_target_contacts_count
    CHECK (target_contacts_count BETWEEN 1 AND 100000),
  target_response_rate numeric(5, 2) CONSTRAINT ck_campaigns_target_response_rate
    CHECK (target_response_rate BETWEEN 0 AND 100),
  target_conversion_count integer CONSTRAINT ck_campaigns_target_conversion_count
    CHECK (target_conversion_count BETWEEN 1 AND 10000),

  total_contacts integer NOT NULL DEFAULT 0 CHECK (total_contacts >= 0),
  contacts_reached integer NOT NULL DEFAULT 0 CHECK (contacts_reached >= 0),
  emails_sent integer NOT NULL DEFAULT 0 CHECK (emails_sent >= 0),
  linkedin_messages_sent integer NOT NULL DEFAULT 0 CHECK (linkedin_messages_sent >= 0),
  responses_received integer NOT NULL DEFAULT 0 CHECK (responses_received >= 0),
  conversions integer NOT NULL DEFAULT 0 CHECK (conversions >= 0),
  response_rate numeric(5, 2) GENERATED ALWAYS AS (
    CASE WHEN contacts_reached > 0
         THEN least(100, round(responses_received::numeric * 100 / contacts_reached, 2))
         ELSE 0 END) STORED,

  start_date date,
  end_date date,
  scheduled_at timestamptz,
  started_at timestamptz,
  completed_at timestamptz,
  archived_at timestamptz,
  last_error text,
  deleted_at timestamptz,

  owner_id uuid NOT NULL,
  created_by uuid,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),

  CONSTRAINT uq_campaigns_org_id_id UNIQUE (org_id, id),
  CONSTRAINT fk_campaigns_owner FOREIGN KEY (org_id, owner_id)
    REFERENCES user_profiles (org_id, id),
  CONSTRAINT fk_campaigns_created_by FOREIGN KEY (org_id, created_by)
    REFERENCES user_profiles (org_id, id),
  CONSTRAINT fk_campaigns_template FOREIGN KEY (org_id, template_id)
    REFERENCES message_templates (org_id, id),
  CONSTRAINT fk_campaigns_variant_a_template FOREIGN KEY (org_id, variant_a_template_id)
    REFERENCES message_templates (org_id, id),
  CONSTRAINT fk_campaigns_variant_b_template FOREIGN KEY (org_id, variant_b_template_id)
    REFERENCES message_templates (org_id, id),
  CONSTRAINT ck_campaigns_allocation_sums_to_100 CHECK (
    email_allocation + linkedin_allocation + voice_allocation
    + sms_allocation + mail_allocation = 100),
  CONSTRAINT ck_campaigns_dates CHECK (end_date >= start_date),
  CONSTRAINT ck_campaigns_ab_templates_differ
    CHECK (variant_a_template_id IS DISTINCT FROM variant_b_template_id
           OR variant_a_template_id IS NULL),
  CONSTRAINT ck_campaigns_scheduled_has_time
    CHECK (status <> 'scheduled' OR scheduled_at IS NOT NULL)
);
CREATE INDEX idx_campaigns_org_id ON campaigns (org_id, created_at DESC, id DESC)
  WHERE deleted_at IS NULL;
CREATE INDEX idx_campaigns_owner_id ON campaigns (org_id, owner_id);
CREATE INDEX idx_campaigns_status ON campaigns (org_id, status);
CREATE INDEX idx_campaigns_type ON campaigns (org_id, campaign_type);
CREATE INDEX idx_campaigns_dates ON campaigns (org_id, start_date, end_date);
CREATE INDEX idx_campaigns_created_at ON campaigns (created_at DESC);
CREATE INDEX idx_campaigns_name_search ON campaigns (org_id, lower(name) text_pattern_ops);
CREATE INDEX idx_campaigns_scheduled_at ON campaigns (scheduled_at) WHERE status = 'scheduled';

CREATE TABLE contacts (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  email text CONSTRAINT ck_contacts_email CHECK (email ~ '^[^@\\s]+@[^@\\s]+$'),
  lead_id uuid,
  first_name text CONSTRAINT ck_contacts_first_name CHECK (char_length(first_name) <= 100),
  last_name text CONSTRAINT ck_contacts_last_name CHECK (char_length(last_name) <= 100),
  linkedin_url text CONSTRAINT ck_contacts_linkedin_url
    CHECK (linkedin_url ~ '^https?://(www\\.)?linkedin\\.com/in/[a-zA-Z0-9-]+/?$'),
  company_name text CONSTRAINT ck_contacts_company_name CHECK (char_length(company_name) <= 200),
  title text CONSTRAINT ck_contacts_title CHECK (char_length(title) <= 200),
  phone text CONSTRAINT ck_contacts_phone CHECK (char_length(phone) <= 40),
  timezone text,
  lead_tier text CONSTRAINT ck_contacts_lead_tier CHECK (lead_tier IN ('hot', 'warm', 'cold')),
  tags text[] NOT NULL DEFAULT '{}',
  score integer NOT NULL DEFAULT 0,
  custom_fields jsonb NOT NULL DEFAULT '{}' CONSTRAINT ck_contacts_custom_fields
    CHECK (jsonb_typeof(custom_fields) = 'object'),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT uq_contacts_org_id_id UNIQUE (org_id, id),
  CONSTRAINT ck_contacts_identity CHECK (email IS NOT NULL OR lead_id IS NOT NULL)
);
CREATE UNIQUE INDEX uq_contacts_org_email ON contacts (org_id, lower(email))
  WHERE email IS NOT NULL;
CREATE UNIQUE INDEX uq_contacts_org_lead_id ON contacts (org_id, lead_id)
  WHERE lead_id IS NOT NULL AND email IS NULL;

CREATE TABLE campaign_contacts (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  campaign_id uuid NOT NULL,
  contact_id uuid NOT NULL,
  contact_type text NOT NULL DEFAULT 'candidate' CONSTRAINT ck_campaign_contacts_contact_type
    CHECK (contact_type IN ('candidate', 'hiring_manager', 'decision_maker', 'referral')),
  status text NOT NULL DEFAULT 'pending' CONSTRAINT ck_campaign_contacts_status
    CHECK (status IN ('pending', 'sent', 'opened', 'responded', 'converted',
                      'bounced', 'unsubscribed')),
  ab_variant text CONSTRAINT ck_campaign_contacts_ab_variant CHECK (ab_variant IN ('A', 'B')),
  template_used_id uuid,
  channel text CONSTRAINT ck_campaign_contacts_channel
    CHECK (channel IN ('email', 'linkedin', 'voice', 'sms', 'mail')),
  sent_at timestamptz,
  opened_at timestamptz,
  clicked_at timestamptz,
  responded_at timestamptz,
  response_text text,
  converted_at timestamptz,
  conversion_type text CONSTRAINT ck_campaign_contacts_conversion_type
    CHECK (conversion_type IN ('phone_screen', 'submission', 'interview', 'placement',
                               'discovery_call', 'meeting', 'proposal', 'deal')),
  conversion_entity_id uuid,
  bounced_at timestamptz,
  unsubscribed_at timestamptz,
  error_message text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT uq_campaign_contacts_org_id_id UNIQUE (org_id, id),
  CONSTRAINT uq_campaign_contacts_campaign_contact UNIQUE (org_id, campaign_id, contact_id),
  CONSTRAINT fk_campaign_contacts_campaign FOREIGN KEY (org_id, campaign_id)
    REFERENCES campaigns (org_id, id) ON DELETE CASCADE,
  CONSTRAINT fk_campaign_contacts_contact FOREIGN KEY (org_id, contact_id)
    REFERENCES contacts (org_id, id) ON DELETE CASCADE,
  CONSTRAINT fk_campaign_contacts_template_used FOREIGN KEY (org_id, template_used_id)
    REFERENCES message_templates (org_id, id)
);
CREATE INDEX idx_campaign_contacts_campaign_id
  ON campaign_contacts (org_id, campaign_id, created_at DESC, id DESC);
CREATE INDEX idx_campaign_contacts_status ON campaign_contacts (org_id, campaign_id, status);
CREATE INDEX idx_campaign_contacts_ab_variant
  ON campaign_contacts (org_id, campaign_id, ab_variant);
CREATE INDEX idx_campaign_contacts_contact_id ON campaign_contacts (org_id, contact_id);

-- campaigns.total_contacts follows its members, statement by statement (bulk adds stay cheap)
CREATE FUNCTION count_added_campaign_contacts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE campaigns c SET total_contacts = c.total_contacts + added.n
  FROM (SELECT org_id, campaign_id, count(*) AS n FROM added_rows GROUP BY 1, 2) added
  WHERE c.org_id = added.org_id AND c.id = added.campaign_id;
  RETURN NULL;
END $$;
CREATE FUNCTION count_removed_campaign_contacts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE campaigns c SET total_contacts = c.total_contacts - removed.n
  FROM (SELECT org_id, campaign_id, count(*) AS n FROM removed_rows GROUP BY 1, 2) removed
  WHERE c.org_id = removed.org_id AND c.id = removed.campaign_id;
  RETURN NULL;
END $$;
CREATE TRIGGER campaign_contacts_count_added AFTER INSERT ON campaign_contacts
  REFERENCING NEW TABLE AS added_rows
  FOR EACH STATEMENT EXECUTE FUNCTION count_added_campaign_contacts();
CREATE TRIGGER campaign_contacts_count_removed AFTER DELETE ON campaign_contacts
  REFERENCING OLD TABLE AS removed_rows
  FOR EACH STATEMENT EXECUTE FUNCTION count_removed_campaign_contacts();

CREATE TABLE engagement_events (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  campaign_id uuid NOT NULL,
  campaign_contact_id uuid NOT NULL,
  event_type text NOT NULL CONSTRAINT ck_engagement_events_event_type
    CHECK (event_type IN ('email_sent', 'delivered', 'opened', 'clicked', 'bounced',
                          'unsubscribed', 'spam_reported', 'response_received', 'converted',
                          'linkedin_sent', 'linkedin_viewed')),
  event_data jsonb NOT NULL DEFAULT '{}',
  event_timestamp timestamptz NOT NULL DEFAULT now(),
  tracking_id text,
  user_agent text,
  ip_address inet,
  clicked_url text,
  provider text,
  provider_event_id text,
  is_machine boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT fk_engagement_events_campaign_contact FOREIGN KEY (org_id, campaign_contact_id)
    REFERENCES campaign_contacts (org_id, id) ON DELETE CASCADE,
  CONSTRAINT fk_engagement_events_campaign FOREIGN KEY (org_id, campaign_id)
    REFERENCES campaigns (org_id, id) ON DELETE CASCADE,
  CONSTRAINT uq_engagement_events_provider_event UNIQUE (org_id, provider, provider_event_id)
);
CREATE INDEX idx_engagement_events_contact
  ON engagement_events (org_id, campaign_contact_id);
CREATE INDEX idx_engagement_events_campaign_time
  ON engagement_events (org_id, campaign_id, event_timestamp DESC);
CREATE INDEX idx_engagement_events_type ON engagement_events (org_id, campaign_id, event_type);
CREATE INDEX idx_engagement_events_tracking_id ON engagement_events (org_id, tracking_id)
  WHERE tracking_id IS NOT NULL;

CREATE TABLE suppressions (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  email text NOT NULL CONSTRAINT ck_suppressions_email CHECK (email ~ '^[^@\\s]+@[^@\\s]+$'),
  reason text NOT NULL CONSTRAINT ck_suppressions_reason
    CHECK (reason IN ('unsubscribed', 'hard_bounce', 'complaint', 'manual')),
  note text CONSTRAINT ck_suppressions_note CHECK (char_length(note) <= 1000),
  campaign_id uuid,
  created_by uuid,
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT fk_suppressions_campaign FOREIGN KEY (org_id, campaign_id)
    REFERENCES campaigns (org_id, id) ON DELETE SET NULL (campaign_id),
  CONSTRAINT fk_suppressions_created_by FOREIGN KEY (org_id, created_by)
    REFERENCES user_profiles (org_id, id)
);
CREATE UNIQUE INDEX uq_suppressions_org_email ON suppressions (org_id, lower(email));

CREATE TABLE idempotency_keys (
  org_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  key text NOT NULL CONSTRAINT ck_idempotency_keys_key CHECK (char_length(key) BETWEEN 1 AND 255),
  request_hash text NOT NULL,
  response_status integer NOT NULL,
  response_body jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_id, key)
);
CREATE INDEX idx_idempotency_keys_created_at ON idempotency_keys (created_at);
"""

UPDATED_AT_TABLES = (
    "organizations",
    "user_profiles",
    "message_templates",
    "campaigns",
    "contacts",
    "campaign_contacts",
)


def _app_role() -> tuple[str, str | None]:
    attributes = context.config.attributes
    return attributes["app_role"], attributes.get("app_password")


def _execute(statement: sql.Composable | str) -> None:
    connection = op.get_bind().connection.driver_connection
    assert connection is not None
    connection.execute(statement)


def upgrade() -> None:
    _execute(SCHEMA)
    for table in UPDATED_AT_TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_updated_at BEFORE UPDATE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION set_updated_at()"
        )

    op.execute("ALTER TABLE organizations ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE organizations FORCE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY tenant_isolation ON organizations "
        f"USING (id = {CURRENT_ORG}) WITH CHECK (id = {CURRENT_ORG})"
    )
    for table in TENANT_TABLES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY tenant_isolation ON {table} "
            f"USING (org_id = {CURRENT_ORG}) WITH CHECK (org_id = {CURRENT_ORG})"
        )

    role, password = _app_role()
    _execute(
        sql.SQL(
            "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {name}) THEN "
            "CREATE ROLE {role} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE; "
            "END IF; END $$"
        ).format(name=sql.Literal(role), role=sql.Identifier(role))
    )
    if password:
        _execute(
            sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(role), sql.Literal(password))
        )
    grants = [
        "GRANT USAGE ON SCHEMA public TO {role}",
        "GRANT SELECT ON alembic_version TO {role}",
        "GRANT SELECT, INSERT, UPDATE, DELETE ON organizations, {tables} TO {role}",
    ]
    tables = sql.SQL(", ").join(sql.Identifier(t) for t in TENANT_TABLES)
    for grant in grants:
        _execute(sql.SQL(grant).format(role=sql.Identifier(role), tables=tables))


def downgrade() -> None:
    role, _ = _app_role()
    tables = ", ".join(("organizations", *TENANT_TABLES))
    _execute(
        sql.SQL("REVOKE ALL ON {tables} FROM {role}").format(
            tables=sql.SQL(tables), role=sql.Identifier(role)
        )
    )
    op.execute(
        "DROP TABLE idempotency_keys, suppressions, engagement_events, campaign_contacts, "
        "contacts, campaigns, message_templates, user_profiles, organizations"
    )
    op.execute(
        "DROP FUNCTION set_updated_at(), count_added_campaign_contacts(), "
        "count_removed_campaign_contacts()"
    )
