"""Sending: the outbox, sender limits kept in PostgreSQL, tasks, SMS, the mail catcher, job runs.

Every message is an `outbox_messages` row before it is sent; workers claim due rows with
`FOR UPDATE SKIP LOCKED`. A sender's sends are counted per minute in `sender_usage`, under a
lock on the sender's row, so its hourly and daily limits hold across any number of processes.
`tenant_directory.outbox_due_at` tells workers which organizations have work without reading
tenant data; a statement-level trigger keeps it no later than the earliest queued message.

Revision ID: 0004_sending
Revises: 0003_senders
Create Date: 2026-11-23
"""

from collections.abc import Sequence

from alembic import context, op
from psycopg import sql

revision: str = "0004_sending"
down_revision: str | None = "0003_senders"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CURRENT_ORG = "(SELECT nullif(current_setting('app.org_id', true), '')::uuid)"
TENANT_TABLES = ("sender_usage", "outbox_messages", "tasks", "sms_providers", "caught_messages")
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
    "auto_replied",
)
EVENT_TYPES = (*EVENT_TYPES_BEFORE, "sms_sent", "call_completed", "letter_sent")

CAMPAIGN_COLUMNS = """
ALTER TABLE campaigns
  ADD COLUMN sender_id uuid,
  ADD COLUMN timezone text,
  ADD COLUMN send_days smallint[] NOT NULL DEFAULT '{1,2,3,4,5}'
    CONSTRAINT ck_campaigns_send_days
    CHECK (cardinality(send_days) BETWEEN 1 AND 7 AND send_days <@ '{1,2,3,4,5,6,7}'),
  ADD COLUMN send_start time NOT NULL DEFAULT '09:00',
  ADD COLUMN send_end time NOT NULL DEFAULT '17:00',
  ADD COLUMN summary_sent_at timestamptz,
  ADD CONSTRAINT ck_campaigns_send_hours CHECK (send_start < send_end),
  ADD CONSTRAINT fk_campaigns_sender FOREIGN KEY (org_id, sender_id)
    REFERENCES senders (org_id, id) ON DELETE SET NULL (sender_id);
ALTER TABLE campaign_contacts ADD COLUMN started_at timestamptz;
CREATE INDEX idx_campaign_contacts_unstarted ON campaign_contacts (org_id, campaign_id, created_at)
  WHERE started_at IS NULL;
CREATE INDEX idx_campaign_contacts_started ON campaign_contacts (org_id, campaign_id, started_at)
  WHERE started_at IS NOT NULL;
"""

SENDER_COLUMNS = """
ALTER TABLE senders
  ADD COLUMN transport text NOT NULL DEFAULT 'smtp'
    CONSTRAINT ck_senders_transport CHECK (transport IN ('smtp', 'system')),
  ALTER COLUMN smtp_host DROP NOT NULL,
  ALTER COLUMN smtp_port DROP NOT NULL,
  ALTER COLUMN smtp_tls DROP NOT NULL,
  ADD CONSTRAINT ck_senders_smtp_settings CHECK (
    transport = 'system' OR (smtp_host IS NOT NULL AND smtp_port IS NOT NULL
                             AND smtp_tls IS NOT NULL)),
  ADD COLUMN warmup_start_per_day integer CONSTRAINT ck_senders_warmup_start
    CHECK (warmup_start_per_day >= 1),
  ADD COLUMN warmup_increment_per_day integer NOT NULL DEFAULT 0
    CONSTRAINT ck_senders_warmup_increment CHECK (warmup_increment_per_day >= 0),
  ADD COLUMN warmup_started_on date,
  ADD COLUMN bounce_rate_threshold numeric(5, 2) NOT NULL DEFAULT 5.00
    CONSTRAINT ck_senders_bounce_rate_threshold CHECK (bounce_rate_threshold BETWEEN 0 AND 100),
  ADD COLUMN complaint_rate_threshold numeric(5, 2) NOT NULL DEFAULT 0.30
    CONSTRAINT ck_senders_complaint_rate_threshold
    CHECK (complaint_rate_threshold BETWEEN 0 AND 100),
  ADD COLUMN paused_at timestamptz,
  ADD COLUMN paused_reason text,
  ADD COLUMN breaker_reset_at timestamptz,
  ADD COLUMN next_send_at timestamptz;
-- One system sender (the service's own relay or the mail catcher) per organization.
CREATE UNIQUE INDEX uq_senders_org_system ON senders (org_id) WHERE transport = 'system';
"""

TABLES = """
CREATE TABLE sender_usage (
  org_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  sender_id uuid NOT NULL,
  minute timestamptz NOT NULL,
  sends integer NOT NULL CHECK (sends >= 0),
  PRIMARY KEY (org_id, sender_id, minute),
  FOREIGN KEY (org_id, sender_id) REFERENCES senders (org_id, id) ON DELETE CASCADE
);

CREATE TABLE outbox_messages (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  campaign_id uuid NOT NULL,
  campaign_contact_id uuid NOT NULL,
  channel text NOT NULL CONSTRAINT ck_outbox_messages_channel CHECK (channel IN ('email', 'sms')),
  status text NOT NULL CONSTRAINT ck_outbox_messages_status
    CHECK (status IN ('awaiting_approval', 'queued', 'sending', 'accepted', 'sent', 'failed',
                      'cancelled', 'rejected')),
  sender_id uuid,
  template_id uuid,
  subject_override text,
  body_text_override text,
  body_html_override text,
  due_at timestamptz NOT NULL DEFAULT now(),
  attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  lease_until timestamptz,
  last_error text,
  message_id text,
  provider_message_id text,
  sent_at timestamptz,
  decided_by uuid,
  decided_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT uq_outbox_messages_org_id_id UNIQUE (org_id, id),
  -- one first touch per campaign contact: never two messages for the same step
  CONSTRAINT uq_outbox_messages_contact UNIQUE (org_id, campaign_contact_id),
  CONSTRAINT ck_outbox_messages_email_sender CHECK (channel <> 'email' OR sender_id IS NOT NULL),
  CONSTRAINT ck_outbox_messages_lease
    CHECK (status NOT IN ('sending', 'accepted') OR lease_until IS NOT NULL),
  CONSTRAINT fk_outbox_messages_campaign FOREIGN KEY (org_id, campaign_id)
    REFERENCES campaigns (org_id, id) ON DELETE CASCADE,
  CONSTRAINT fk_outbox_messages_campaign_contact FOREIGN KEY (org_id, campaign_contact_id)
    REFERENCES campaign_contacts (org_id, id) ON DELETE CASCADE,
  CONSTRAINT fk_outbox_messages_sender FOREIGN KEY (org_id, sender_id)
    REFERENCES senders (org_id, id) ON DELETE RESTRICT,
  CONSTRAINT fk_outbox_messages_template FOREIGN KEY (org_id, template_id)
    REFERENCES message_templates (org_id, id) ON DELETE SET NULL (template_id)
);
-- claims walk a sender's queue (SMS: sender_id IS NULL) in (due_at, id) order, LIMIT n
CREATE INDEX idx_outbox_messages_due ON outbox_messages (org_id, sender_id, due_at, id)
  WHERE status = 'queued';
CREATE INDEX idx_outbox_messages_next_due ON outbox_messages (org_id, due_at)
  WHERE status = 'queued';
CREATE INDEX idx_outbox_messages_leased ON outbox_messages (org_id, lease_until)
  WHERE status IN ('sending', 'accepted');
CREATE INDEX idx_outbox_messages_campaign ON outbox_messages (org_id, campaign_id, status);
-- a sender's most recent finished sends, for its circuit breaker
CREATE INDEX idx_outbox_messages_sender_finished
  ON outbox_messages (org_id, sender_id, updated_at DESC) WHERE status IN ('sent', 'failed');

CREATE TABLE tasks (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  campaign_id uuid NOT NULL,
  campaign_contact_id uuid NOT NULL,
  owner_id uuid NOT NULL,
  channel text NOT NULL CONSTRAINT ck_tasks_channel
    CHECK (channel IN ('linkedin', 'voice', 'mail')),
  kind text NOT NULL CONSTRAINT ck_tasks_kind
    CHECK (kind IN ('connection_request', 'inmail', 'call', 'letter')),
  status text NOT NULL DEFAULT 'open' CONSTRAINT ck_tasks_status
    CHECK (status IN ('open', 'done', 'skipped', 'cancelled')),
  template_id uuid,
  subject text,
  body text NOT NULL,
  due_at timestamptz NOT NULL DEFAULT now(),
  completed_at timestamptz,
  completed_by uuid,
  note text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT uq_tasks_org_id_id UNIQUE (org_id, id),
  CONSTRAINT uq_tasks_contact UNIQUE (org_id, campaign_contact_id),
  CONSTRAINT fk_tasks_campaign FOREIGN KEY (org_id, campaign_id)
    REFERENCES campaigns (org_id, id) ON DELETE CASCADE,
  CONSTRAINT fk_tasks_campaign_contact FOREIGN KEY (org_id, campaign_contact_id)
    REFERENCES campaign_contacts (org_id, id) ON DELETE CASCADE
);
CREATE INDEX idx_tasks_owner ON tasks (org_id, owner_id, status, due_at);
CREATE INDEX idx_tasks_campaign ON tasks (org_id, campaign_id, status);
CREATE INDEX idx_tasks_owner_kind ON tasks (org_id, owner_id, kind, due_at);

CREATE TABLE sms_providers (
  org_id uuid PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
  base_url text NOT NULL DEFAULT 'https://api.twilio.com',
  account_sid text NOT NULL,
  auth_token_encrypted text NOT NULL,
  from_number text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE caught_messages (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  message_id text,
  mail_from text NOT NULL,
  recipients text[] NOT NULL,
  subject text,
  raw text NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX idx_caught_messages_received ON caught_messages (org_id, received_at DESC, id DESC);

-- Which job ran when and how it went, per process-independent job name; no tenant data.
CREATE TABLE job_runs (
  job text PRIMARY KEY,
  last_started_at timestamptz,
  last_finished_at timestamptz,
  last_outcome text CHECK (last_outcome IN ('ok', 'failed')),
  last_detail text,
  runs bigint NOT NULL DEFAULT 0
);

ALTER TABLE tenant_directory ADD COLUMN outbox_due_at timestamptz;
CREATE INDEX idx_tenant_directory_outbox_due ON tenant_directory (outbox_due_at)
  WHERE outbox_due_at IS NOT NULL;

-- Workers look for organizations with due messages here instead of in every tenant's rows.
CREATE FUNCTION note_outbox_due() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE tenant_directory d SET outbox_due_at = least(d.outbox_due_at, n.due_at)
    FROM (SELECT org_id, min(due_at) AS due_at FROM new_rows WHERE status = 'queued'
          GROUP BY org_id) AS n
    WHERE d.id = n.org_id AND (d.outbox_due_at IS NULL OR d.outbox_due_at > n.due_at);
  RETURN NULL;
END $$;
CREATE TRIGGER outbox_messages_due_inserted AFTER INSERT ON outbox_messages
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION note_outbox_due();
CREATE TRIGGER outbox_messages_due_updated AFTER UPDATE ON outbox_messages
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION note_outbox_due();

-- The first moment at or after `at` inside a weekly sending window, in time zone `tz`
-- (ISO weekdays 1 = Monday .. 7 = Sunday, hours [start, end) in local time).
CREATE FUNCTION next_in_window(at timestamptz, tz text, days smallint[], start_time time,
                               end_time time) RETURNS timestamptz
LANGUAGE plpgsql STABLE AS $$
DECLARE
  local_at timestamp := at AT TIME ZONE tz;
  day date := local_at::date;
BEGIN
  FOR i IN 0..7 LOOP
    IF extract(isodow FROM day + i)::smallint = ANY (days) THEN
      IF i > 0 OR local_at::time < start_time THEN
        RETURN (day + i + start_time) AT TIME ZONE tz;
      ELSIF local_at::time < end_time THEN
        RETURN at;
      END IF;
    END IF;
  END LOOP;
  RETURN at;
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
    op.execute(CAMPAIGN_COLUMNS)
    op.execute(SENDER_COLUMNS)
    op.execute(TABLES)
    _event_type_check(EVENT_TYPES)
    for table in ("outbox_messages", "tasks", "sms_providers"):
        op.execute(
            f"CREATE TRIGGER {table}_updated_at BEFORE UPDATE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION set_updated_at()"
        )
    for table in TENANT_TABLES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY tenant_isolation ON {table} "
            f"USING (org_id = {CURRENT_ORG}) WITH CHECK (org_id = {CURRENT_ORG})"
        )
    connection = op.get_bind().connection.driver_connection
    assert connection is not None
    role = sql.Identifier(context.config.attributes["app_role"])
    for table in TENANT_TABLES:
        connection.execute(
            sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON {} TO {}").format(
                sql.Identifier(table), role
            )
        )
    connection.execute(sql.SQL("GRANT SELECT, INSERT, UPDATE ON job_runs TO {}").format(role))
    connection.execute(sql.SQL("GRANT UPDATE ON tenant_directory TO {}").format(role))


def downgrade() -> None:
    _event_type_check(EVENT_TYPES_BEFORE)
    op.execute("DROP FUNCTION next_in_window(timestamptz, text, smallint[], time, time)")
    op.execute("DROP TABLE job_runs, caught_messages, sms_providers, tasks, outbox_messages")
    op.execute("DROP TABLE sender_usage")
    op.execute("DROP FUNCTION note_outbox_due() CASCADE")
    op.execute("ALTER TABLE tenant_directory DROP COLUMN outbox_due_at")
    op.execute("DROP INDEX uq_senders_org_system")
    op.execute(
        "ALTER TABLE senders DROP CONSTRAINT ck_senders_smtp_settings, DROP COLUMN transport, "
        "DROP COLUMN warmup_start_per_day, DROP COLUMN warmup_increment_per_day, "
        "DROP COLUMN warmup_started_on, DROP COLUMN bounce_rate_threshold, "
        "DROP COLUMN complaint_rate_threshold, DROP COLUMN paused_at, DROP COLUMN paused_reason, "
        "DROP COLUMN breaker_reset_at, DROP COLUMN next_send_at"
    )
    op.execute("DELETE FROM senders WHERE smtp_host IS NULL")
    op.execute(
        "ALTER TABLE senders ALTER COLUMN smtp_host SET NOT NULL, "
        "ALTER COLUMN smtp_port SET NOT NULL, ALTER COLUMN smtp_tls SET NOT NULL"
    )
    op.execute("DROP INDEX idx_campaign_contacts_unstarted, idx_campaign_contacts_started")
    op.execute("ALTER TABLE campaign_contacts DROP COLUMN started_at")
    op.execute(
        "ALTER TABLE campaigns DROP CONSTRAINT fk_campaigns_sender, "
        "DROP CONSTRAINT ck_campaigns_send_hours, DROP COLUMN sender_id, DROP COLUMN timezone, "
        "DROP COLUMN send_days, DROP COLUMN send_start, DROP COLUMN send_end, "
        "DROP COLUMN summary_sent_at"
    )
