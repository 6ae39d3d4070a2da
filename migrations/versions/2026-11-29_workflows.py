"""Sequences: every campaign is a graph that each enrolled contact walks.

`campaign_workflows` holds a campaign's draft graph, `campaign_versions` its published,
immutable versions, `campaign_workflow_states` one walk per enrolled campaign contact, and
`campaign_ab_test_results` the figures of each split's variants. The outbox and tasks hold one
row per contact and step (the node id) instead of one per contact; every existing row was the
default graph's one touch, step `message`. Workflow events go to `engagement_events` with
their node and enrollment.

Triggers wake a walk without any package having to know the engine: a human open, click or
reply it waits for, a reply / unsubscribe / complaint / hard bounce / auto-reply that stops or
pauses it (`interrupt`), and its message or task reaching a final status each make the state
due now; `tenant_directory.workflow_due_at` tells engines which organizations have due walks.

Revision ID: 0009_workflows
Revises: 0008_distribution
Create Date: 2026-11-29
"""

from collections.abc import Sequence

from alembic import context, op
from psycopg import sql

revision: str = "0009_workflows"
down_revision: str | None = "0008_distribution"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CURRENT_ORG = "(SELECT nullif(current_setting('app.org_id', true), '')::uuid)"
TENANT_TABLES = (
    "campaign_workflows",
    "campaign_versions",
    "campaign_workflow_states",
    "campaign_ab_test_results",
)
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
    "sms_sent",
    "call_completed",
    "letter_sent",
)
WORKFLOW_EVENT_TYPES = (
    "enrollment_started",
    "enrollment_completed",
    "enrollment_exited",
    "enrollment_failed",
    "enrollment_paused",
    "enrollment_resumed",
    "wait_started",
    "wait_completed",
    "condition_evaluated",
    "variant_assigned",
    "tag_added",
    "tag_removed",
    "score_updated",
    "field_updated",
    "webhook_triggered",
    "webhook_succeeded",
    "webhook_failed",
    "step_skipped",
    "message_queued",
    "ab_test_completed",
)

TABLES = """
CREATE TABLE campaign_workflows (
  org_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  campaign_id uuid NOT NULL,
  canvas jsonb NOT NULL,
  published_version integer,
  draft_changed boolean NOT NULL DEFAULT true,
  trigger_key text NOT NULL,
  signing_secret text NOT NULL,
  updated_by uuid,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_id, campaign_id),
  CONSTRAINT fk_campaign_workflows_campaign FOREIGN KEY (org_id, campaign_id)
    REFERENCES campaigns (org_id, id) ON DELETE CASCADE
);

CREATE TABLE campaign_versions (
  id uuid NOT NULL DEFAULT gen_random_uuid(),
  org_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  campaign_id uuid NOT NULL,
  version integer NOT NULL CHECK (version >= 1),
  change_type text NOT NULL CONSTRAINT ck_campaign_versions_change_type
    CHECK (change_type IN ('draft', 'published', 'archived', 'ab_test_started',
                           'ab_test_completed')),
  change_description text,
  campaign_snapshot jsonb NOT NULL,
  steps_snapshot jsonb NOT NULL,
  canvas_snapshot jsonb NOT NULL,
  created_by uuid,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_id, id),
  CONSTRAINT uq_campaign_versions_version UNIQUE (org_id, campaign_id, version),
  CONSTRAINT fk_campaign_versions_campaign FOREIGN KEY (org_id, campaign_id)
    REFERENCES campaigns (org_id, id) ON DELETE CASCADE
);

CREATE TABLE campaign_workflow_states (
  id uuid NOT NULL DEFAULT gen_random_uuid(),
  org_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  campaign_id uuid NOT NULL,
  campaign_contact_id uuid NOT NULL,
  version integer NOT NULL,
  current_node_id text NOT NULL,
  workflow_status text NOT NULL DEFAULT 'running' CONSTRAINT ck_workflow_states_status
    CHECK (workflow_status IN ('running', 'waiting', 'paused', 'completed', 'failed', 'exited')),
  paused_status text CONSTRAINT ck_workflow_states_paused_status
    CHECK (paused_status IN ('running', 'waiting')),
  execution_path text[] NOT NULL DEFAULT '{}',
  workflow_variables jsonb NOT NULL DEFAULT '{}',
  wait_until timestamptz,
  wait_for_event text CONSTRAINT ck_workflow_states_wait_for_event
    CHECK (wait_for_event IN ('opened', 'clicked', 'replied', 'message')),
  wait_started_at timestamptz,
  interrupt text CONSTRAINT ck_workflow_states_interrupt
    CHECK (interrupt IN ('unsubscribed', 'complained', 'bounced', 'replied', 'auto_replied')),
  retry_count integer NOT NULL DEFAULT 0 CHECK (retry_count >= 0),
  max_retries integer NOT NULL DEFAULT 3 CHECK (max_retries >= 0),
  assigned_variant text,
  variants jsonb NOT NULL DEFAULT '{}',
  variant_assigned_at timestamptz,
  started_at timestamptz NOT NULL DEFAULT now(),
  last_executed_at timestamptz,
  next_execution_at timestamptz,
  completed_at timestamptz,
  exit_reason text,
  last_error text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_id, id),
  CONSTRAINT uq_workflow_states_contact UNIQUE (org_id, campaign_contact_id),
  CONSTRAINT ck_workflow_states_paused
    CHECK ((workflow_status = 'paused') = (paused_status IS NOT NULL)),
  CONSTRAINT fk_workflow_states_campaign FOREIGN KEY (org_id, campaign_id)
    REFERENCES campaigns (org_id, id) ON DELETE CASCADE,
  CONSTRAINT fk_workflow_states_campaign_contact FOREIGN KEY (org_id, campaign_contact_id)
    REFERENCES campaign_contacts (org_id, id) ON DELETE CASCADE,
  CONSTRAINT fk_workflow_states_version FOREIGN KEY (org_id, campaign_id, version)
    REFERENCES campaign_versions (org_id, campaign_id, version) ON DELETE RESTRICT
);
-- engines claim due walks in next_execution_at order
CREATE INDEX idx_workflow_states_due ON campaign_workflow_states (org_id, next_execution_at)
  WHERE workflow_status IN ('running', 'waiting');
CREATE INDEX idx_workflow_states_campaign
  ON campaign_workflow_states (org_id, campaign_id, workflow_status);

CREATE TABLE campaign_ab_test_results (
  id uuid NOT NULL DEFAULT gen_random_uuid(),
  org_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  campaign_id uuid NOT NULL,
  node_id text NOT NULL,
  variant_id text NOT NULL,
  total_sent integer NOT NULL DEFAULT 0,
  total_delivered integer NOT NULL DEFAULT 0,
  total_opened integer NOT NULL DEFAULT 0,
  total_clicked integer NOT NULL DEFAULT 0,
  total_replied integer NOT NULL DEFAULT 0,
  total_converted integer NOT NULL DEFAULT 0,
  total_unsubscribed integer NOT NULL DEFAULT 0,
  total_bounced integer NOT NULL DEFAULT 0,
  delivery_rate numeric(5, 2) NOT NULL DEFAULT 0,
  open_rate numeric(5, 2) NOT NULL DEFAULT 0,
  click_rate numeric(5, 2) NOT NULL DEFAULT 0,
  reply_rate numeric(5, 2) NOT NULL DEFAULT 0,
  conversion_rate numeric(5, 2) NOT NULL DEFAULT 0,
  engagement_score numeric(5, 2) NOT NULL DEFAULT 0,
  confidence_level numeric(5, 2),
  p_value numeric(10, 8),
  is_statistically_significant boolean NOT NULL DEFAULT false,
  is_winner boolean NOT NULL DEFAULT false,
  test_started_at timestamptz,
  test_ended_at timestamptz,
  winner_declared_at timestamptz,
  winner_declared_by uuid,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_id, id),
  CONSTRAINT uq_ab_test_results_variant UNIQUE (org_id, campaign_id, node_id, variant_id),
  CONSTRAINT fk_ab_test_results_campaign FOREIGN KEY (org_id, campaign_id)
    REFERENCES campaigns (org_id, id) ON DELETE CASCADE
);
-- at most one winner per split
CREATE UNIQUE INDEX uq_ab_test_results_winner
  ON campaign_ab_test_results (org_id, campaign_id, node_id)
  WHERE is_winner;

-- One row per contact and step (the node id, `#n` on a later visit of the same node).
ALTER TABLE outbox_messages
  ADD COLUMN enrollment_id uuid,
  ADD COLUMN step text NOT NULL DEFAULT 'message',
  DROP CONSTRAINT uq_outbox_messages_contact,
  ADD CONSTRAINT uq_outbox_messages_step UNIQUE (org_id, campaign_contact_id, step),
  ADD CONSTRAINT fk_outbox_messages_enrollment FOREIGN KEY (org_id, enrollment_id)
    REFERENCES campaign_workflow_states (org_id, id);
ALTER TABLE outbox_messages ALTER COLUMN step DROP DEFAULT;
ALTER TABLE tasks
  ADD COLUMN enrollment_id uuid,
  ADD COLUMN step text NOT NULL DEFAULT 'message',
  DROP CONSTRAINT uq_tasks_contact,
  ADD CONSTRAINT uq_tasks_step UNIQUE (org_id, campaign_contact_id, step),
  ADD CONSTRAINT fk_tasks_enrollment FOREIGN KEY (org_id, enrollment_id)
    REFERENCES campaign_workflow_states (org_id, id);
ALTER TABLE tasks ALTER COLUMN step DROP DEFAULT;
CREATE INDEX idx_outbox_messages_enrollment ON outbox_messages (org_id, enrollment_id)
  WHERE enrollment_id IS NOT NULL;
CREATE INDEX idx_tasks_enrollment ON tasks (org_id, enrollment_id)
  WHERE enrollment_id IS NOT NULL;

ALTER TABLE engagement_events ADD COLUMN node_id text, ADD COLUMN enrollment_id uuid;
CREATE INDEX idx_engagement_events_enrollment
  ON engagement_events (org_id, enrollment_id, created_at)
  WHERE enrollment_id IS NOT NULL;

ALTER TABLE tenant_directory ADD COLUMN workflow_due_at timestamptz;
CREATE INDEX idx_tenant_directory_workflow_due ON tenant_directory (workflow_due_at)
  WHERE workflow_due_at IS NOT NULL;
"""

TRIGGERS = """
CREATE FUNCTION note_workflow_due() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE tenant_directory d SET workflow_due_at = least(d.workflow_due_at, n.due_at)
    FROM (SELECT org_id, min(next_execution_at) AS due_at FROM new_rows
          WHERE workflow_status IN ('running', 'waiting') AND next_execution_at IS NOT NULL
          GROUP BY org_id) AS n
    WHERE d.id = n.org_id AND (d.workflow_due_at IS NULL OR d.workflow_due_at > n.due_at);
  RETURN NULL;
END $$;
CREATE TRIGGER workflow_states_due_inserted AFTER INSERT ON campaign_workflow_states
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION note_workflow_due();
CREATE TRIGGER workflow_states_due_updated AFTER UPDATE ON campaign_workflow_states
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION note_workflow_due();

-- Which interrupt wins when several arrive before the engine looks: the one that ends the most.
CREATE FUNCTION workflow_interrupt_rank(kind text) RETURNS integer LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE kind WHEN 'unsubscribed' THEN 1 WHEN 'complained' THEN 2 WHEN 'bounced' THEN 3
                   WHEN 'replied' THEN 4 WHEN 'auto_replied' THEN 5 ELSE 99 END
$$;

-- Row by row, each update one index lookup whatever the statistics say: a transition table has
-- none, and a join planned from stale ones can scan every waiting walk for each new row.
CREATE FUNCTION wake_workflows_on_events() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  e record;
BEGIN
  -- a human event a walk waits for
  FOR e IN SELECT DISTINCT org_id, campaign_contact_id,
                  CASE event_type WHEN 'response_received' THEN 'replied' ELSE event_type END
                    AS kind
           FROM new_rows
           WHERE NOT is_machine AND event_type IN ('opened', 'clicked', 'response_received')
  LOOP
    UPDATE campaign_workflow_states SET next_execution_at = now()
      WHERE org_id = e.org_id AND campaign_contact_id = e.campaign_contact_id
        AND workflow_status = 'waiting' AND wait_for_event = e.kind;
  END LOOP;
  -- an event that ends or pauses a walk
  FOR e IN SELECT DISTINCT ON (org_id, campaign_contact_id) org_id, campaign_contact_id, kind
           FROM (SELECT org_id, campaign_contact_id,
                        CASE event_type WHEN 'response_received' THEN 'replied'
                                        WHEN 'spam_reported' THEN 'complained'
                                        ELSE event_type END AS kind
                 FROM new_rows
                 WHERE event_type IN ('response_received', 'unsubscribed', 'spam_reported',
                                      'auto_replied')
                    OR (event_type = 'bounced' AND event_data ->> 'bounce_type' = 'hard')) AS k
           ORDER BY org_id, campaign_contact_id, workflow_interrupt_rank(kind)
  LOOP
    UPDATE campaign_workflow_states s
      SET interrupt = CASE WHEN s.interrupt IS NULL
                             OR workflow_interrupt_rank(e.kind)
                                < workflow_interrupt_rank(s.interrupt)
                           THEN e.kind ELSE s.interrupt END,
          next_execution_at = CASE WHEN s.workflow_status = 'paused' THEN s.next_execution_at
                                   ELSE now() END
      WHERE s.org_id = e.org_id AND s.campaign_contact_id = e.campaign_contact_id
        AND s.workflow_status IN ('running', 'waiting', 'paused');
  END LOOP;
  RETURN NULL;
END $$;
CREATE TRIGGER engagement_events_wake_workflows AFTER INSERT ON engagement_events
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION wake_workflows_on_events();

-- a walk's message or task reached a final status: the walk goes on
CREATE FUNCTION wake_workflows_on_steps() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  n record;
BEGIN
  FOR n IN SELECT DISTINCT org_id, enrollment_id FROM new_rows
           WHERE enrollment_id IS NOT NULL
             AND status IN ('sent', 'failed', 'cancelled', 'rejected', 'done', 'skipped')
  LOOP
    UPDATE campaign_workflow_states SET next_execution_at = now()
      WHERE org_id = n.org_id AND id = n.enrollment_id
        AND workflow_status = 'waiting' AND wait_for_event = 'message';
  END LOOP;
  RETURN NULL;
END $$;
CREATE TRIGGER outbox_messages_wake_workflows AFTER UPDATE ON outbox_messages
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION wake_workflows_on_steps();
CREATE TRIGGER tasks_wake_workflows AFTER UPDATE ON tasks
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION wake_workflows_on_steps();
"""


def _event_type_check(types: Sequence[str]) -> None:
    op.execute("ALTER TABLE engagement_events DROP CONSTRAINT ck_engagement_events_event_type")
    listed = ", ".join(f"'{t}'" for t in types)
    op.execute(
        "ALTER TABLE engagement_events ADD CONSTRAINT ck_engagement_events_event_type "
        f"CHECK (event_type IN ({listed}))"
    )


def upgrade() -> None:
    op.execute(TABLES)
    op.execute(TRIGGERS)
    _event_type_check((*EVENT_TYPES_BEFORE, *WORKFLOW_EVENT_TYPES))
    for table in ("campaign_workflows", "campaign_workflow_states", "campaign_ab_test_results"):
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
        # versions are immutable: the application may add them, never change or remove one
        grants = (
            "SELECT, INSERT" if table == "campaign_versions" else "SELECT, INSERT, UPDATE, DELETE"
        )
        connection.execute(
            sql.SQL(f"GRANT {grants} ON {{}} TO {{}}").format(sql.Identifier(table), role)
        )


def downgrade() -> None:
    op.execute(
        "DELETE FROM engagement_events WHERE event_type IN ("
        + ", ".join(f"'{t}'" for t in WORKFLOW_EVENT_TYPES)
        + ")"
    )
    _event_type_check(EVENT_TYPES_BEFORE)
    op.execute("DROP TRIGGER engagement_events_wake_workflows ON engagement_events")
    op.execute("DROP TRIGGER outbox_messages_wake_workflows ON outbox_messages")
    op.execute("DROP TRIGGER tasks_wake_workflows ON tasks")
    op.execute("DROP FUNCTION wake_workflows_on_steps(), wake_workflows_on_events()")
    op.execute("DROP FUNCTION workflow_interrupt_rank(text)")
    op.execute("ALTER TABLE tenant_directory DROP COLUMN workflow_due_at")
    op.execute("ALTER TABLE engagement_events DROP COLUMN node_id, DROP COLUMN enrollment_id")
    # back to one row per contact: a contact's later steps go
    for table, key in (
        ("outbox_messages", "uq_outbox_messages_contact"),
        ("tasks", "uq_tasks_contact"),
    ):
        op.execute(
            f"DELETE FROM {table} later USING {table} first "
            "WHERE later.org_id = first.org_id "
            "AND later.campaign_contact_id = first.campaign_contact_id "
            "AND (later.created_at, later.id) > (first.created_at, first.id)"
        )
        op.execute(
            f"ALTER TABLE {table} DROP COLUMN enrollment_id, DROP COLUMN step, "
            f"ADD CONSTRAINT {key} UNIQUE (org_id, campaign_contact_id)"
        )
    op.execute(
        "DROP TABLE campaign_ab_test_results, campaign_workflow_states, campaign_versions, "
        "campaign_workflows"
    )
    op.execute("DROP FUNCTION note_workflow_due()")
