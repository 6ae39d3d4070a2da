"""Outbound webhooks: the organization's subscriptions (a URL, the event types it wants, a
Standard Webhooks secret kept encrypted) and the durable queue of their deliveries.

`webhook_deliveries` has one row per event per subscription, written by the triggers below in
the transaction that records the fact itself (an engagement event, a campaign's new status, a
sender's pause), so a fact committed always has its deliveries and a fact rolled back has none.
Triggers rather than calls from the events, campaigns and senders code: every path that writes
those rows (the tracking writer's batches, provider events, mailboxes, the sequence engine, the
jobs, manual events) is covered without one of them importing the webhooks package.

Workers claim due deliveries with SKIP LOCKED; a claim pushes `next_attempt_at` out by its
lease and stamps it with a `lease` id, so a worker that dies mid-delivery leaves a row that is
due again when the lease ends (delivered again, never dropped), and a late worker cannot record
over a newer claim. `tenant_directory.webhook_due_at` tells workers which organizations have
deliveries due.

Revision ID: 0018_webhooks
Revises: 0017_resubscribe
Create Date: 2026-11-29
"""

from collections.abc import Sequence

from alembic import context, op
from psycopg import sql

revision: str = "0018_webhooks"
down_revision: str | None = "0017_resubscribe"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CURRENT_ORG = "(SELECT nullif(current_setting('app.org_id', true), '')::uuid)"
TABLES = ("webhook_subscriptions", "webhook_deliveries")
# The event types a subscription may ask for (outreach.webhooks.schemas.EventType).
EVENT_TYPES = (
    "contact.replied",
    "contact.bounced",
    "contact.unsubscribed",
    "contact.complained",
    "contact.clicked",
    "contact.converted",
    "enrollment.completed",
    "campaign.activated",
    "campaign.completed",
    "sender.paused",
)
LISTED = ", ".join(f"'{kind}'" for kind in EVENT_TYPES)

UPGRADE = f"""
CREATE TABLE webhook_subscriptions (
  id uuid NOT NULL DEFAULT gen_random_uuid(),
  org_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  url text NOT NULL CHECK (length(url) BETWEEN 1 AND 2048),
  description text NOT NULL DEFAULT '' CHECK (length(description) <= 500),
  event_types text[] NOT NULL
    CHECK (cardinality(event_types) >= 1 AND event_types <@ ARRAY[{LISTED}]),
  secret_encrypted text NOT NULL,  -- Fernet ciphertext (sending/secrets); shown once, at creation
  enabled boolean NOT NULL DEFAULT true,
  disabled_reason text CHECK (length(disabled_reason) <= 500),
  disabled_at timestamptz,
  last_success_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_id, id),
  CONSTRAINT ck_webhook_subscriptions_disabled CHECK (
    enabled = (disabled_reason IS NULL) AND enabled = (disabled_at IS NULL))
);
CREATE INDEX idx_webhook_subscriptions_newest
  ON webhook_subscriptions (org_id, created_at DESC, id DESC);

CREATE TABLE webhook_deliveries (
  id uuid NOT NULL DEFAULT gen_random_uuid(),
  org_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  subscription_id uuid NOT NULL,
  -- the webhook-id header: the same on every attempt, and on a redelivery of this message
  message_id uuid NOT NULL DEFAULT gen_random_uuid(),
  event_type text NOT NULL CHECK (event_type IN ({LISTED}, 'webhook.ping')),
  payload jsonb NOT NULL,
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
  -- pending: when it is due (a claim pushes it out by its lease); final: none
  next_attempt_at timestamptz DEFAULT now(),
  lease uuid,  -- the claim in flight, if any
  attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  last_attempt_at timestamptz,
  last_status_code integer,
  last_duration_ms integer,
  last_response text,  -- the start of the answer's body (2 KB at most)
  last_error text,
  delivered_at timestamptz,
  redelivery_of uuid,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_id, id),
  CONSTRAINT ck_webhook_deliveries_due CHECK ((status = 'pending') = (next_attempt_at IS NOT NULL)),
  CONSTRAINT fk_webhook_deliveries_subscription FOREIGN KEY (org_id, subscription_id)
    REFERENCES webhook_subscriptions (org_id, id) ON DELETE CASCADE
);
CREATE INDEX idx_webhook_deliveries_due ON webhook_deliveries (org_id, next_attempt_at)
  WHERE status = 'pending';
CREATE INDEX idx_webhook_deliveries_log
  ON webhook_deliveries (org_id, subscription_id, created_at DESC, id DESC);

ALTER TABLE tenant_directory ADD COLUMN webhook_due_at timestamptz;
CREATE INDEX idx_tenant_directory_webhook_due ON tenant_directory (webhook_due_at)
  WHERE webhook_due_at IS NOT NULL;

-- Workers look for organizations with due deliveries here instead of in every tenant's rows.
CREATE FUNCTION note_webhooks_due() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE tenant_directory d SET webhook_due_at = least(d.webhook_due_at, n.due_at)
    FROM (SELECT org_id, min(next_attempt_at) AS due_at FROM new_rows
          WHERE status = 'pending' GROUP BY org_id) AS n
    WHERE d.id = n.org_id AND (d.webhook_due_at IS NULL OR d.webhook_due_at > n.due_at);
  RETURN NULL;
END $$;
CREATE TRIGGER webhook_deliveries_due_inserted AFTER INSERT ON webhook_deliveries
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION note_webhooks_due();
CREATE TRIGGER webhook_deliveries_due_updated AFTER UPDATE ON webhook_deliveries
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION note_webhooks_due();

-- One delivery per enabled subscription of the organization that wants this kind of event.
CREATE FUNCTION enqueue_webhooks(org uuid, kind text, at timestamptz, data jsonb)
RETURNS void LANGUAGE sql AS $$
  INSERT INTO webhook_deliveries (org_id, subscription_id, event_type, payload)
  SELECT s.org_id, s.id, kind,
         jsonb_build_object('type', kind, 'timestamp', at, 'data', jsonb_strip_nulls(data))
  FROM webhook_subscriptions s
  WHERE s.org_id = org AND s.enabled AND kind = ANY (s.event_types)
$$;

-- What a contact did (machine opens and clicks never count), and a walk that ended. Row by
-- row, each lookup by primary key whatever the statistics say (a transition table has none),
-- and only for the kinds some subscription of the organization wants.
CREATE FUNCTION webhooks_on_events() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  wanted text[];
  e record;
  person record;
BEGIN
  SELECT array_agg(DISTINCT kind) INTO wanted
    FROM webhook_subscriptions, unnest(event_types) AS kind WHERE enabled;
  IF wanted IS NULL THEN
    RETURN NULL;  -- the common case: one index probe per statement (the policy names the org)
  END IF;
  FOR e IN
    SELECT n.org_id, n.id, n.campaign_id, n.campaign_contact_id, n.event_timestamp,
           n.event_data, n.clicked_url, n.enrollment_id, k.kind
    FROM new_rows n
    CROSS JOIN LATERAL (SELECT CASE n.event_type
        WHEN 'response_received' THEN 'contact.replied'
        WHEN 'bounced' THEN 'contact.bounced'
        WHEN 'unsubscribed' THEN 'contact.unsubscribed'
        WHEN 'spam_reported' THEN 'contact.complained'
        WHEN 'clicked' THEN 'contact.clicked'
        WHEN 'converted' THEN 'contact.converted'
        WHEN 'enrollment_completed' THEN 'enrollment.completed' END AS kind) k
    WHERE k.kind = ANY (wanted) AND NOT n.is_machine
    ORDER BY n.event_timestamp, n.id
  LOOP
    SELECT cc.contact_id, p.email INTO person
      FROM campaign_contacts cc JOIN contacts p ON p.org_id = cc.org_id AND p.id = cc.contact_id
      WHERE cc.org_id = e.org_id AND cc.id = e.campaign_contact_id;
    PERFORM enqueue_webhooks(e.org_id, e.kind, e.event_timestamp, jsonb_build_object(
      'event_id', e.id, 'campaign_id', e.campaign_id,
      'campaign_contact_id', e.campaign_contact_id, 'contact_id', person.contact_id,
      'email', person.email, 'occurred_at', e.event_timestamp,
      'channel', e.event_data ->> 'channel',
      'bounce_type', e.event_data ->> 'bounce_type',
      'url', e.clicked_url,
      'conversion_type', e.event_data ->> 'conversion_type',
      'conversion_entity_id', e.event_data ->> 'conversion_entity_id',
      'enrollment_id', e.enrollment_id));
  END LOOP;
  RETURN NULL;
END $$;
CREATE TRIGGER engagement_events_webhooks AFTER INSERT ON engagement_events
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION webhooks_on_events();

CREATE FUNCTION webhooks_on_campaign_status() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM enqueue_webhooks(NEW.org_id,
    CASE NEW.status WHEN 'active' THEN 'campaign.activated' ELSE 'campaign.completed' END,
    now(), jsonb_build_object('campaign_id', NEW.id, 'name', NEW.name, 'status', NEW.status,
                              'previous_status', OLD.status));
  RETURN NULL;
END $$;
-- Row by row, but only for a status that changed: the counters' updates never name `status`.
CREATE TRIGGER campaigns_webhooks AFTER UPDATE OF status ON campaigns FOR EACH ROW
  WHEN (OLD.status IS DISTINCT FROM NEW.status AND NEW.status IN ('active', 'completed'))
  EXECUTE FUNCTION webhooks_on_campaign_status();

CREATE FUNCTION webhooks_on_sender_paused() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM enqueue_webhooks(NEW.org_id, 'sender.paused', NEW.paused_at,
    jsonb_build_object('sender_id', NEW.id, 'from_email', NEW.from_email,
                       'reason', NEW.paused_reason, 'paused_at', NEW.paused_at));
  RETURN NULL;
END $$;
CREATE TRIGGER senders_webhooks AFTER UPDATE OF paused_at ON senders FOR EACH ROW
  WHEN (OLD.paused_at IS NULL AND NEW.paused_at IS NOT NULL)
  EXECUTE FUNCTION webhooks_on_sender_paused();
"""


def upgrade() -> None:
    op.execute(UPGRADE)
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY tenant_isolation ON {table} "
            f"USING (org_id = {CURRENT_ORG}) WITH CHECK (org_id = {CURRENT_ORG})"
        )
    op.execute(
        "CREATE TRIGGER webhook_subscriptions_updated_at BEFORE UPDATE ON webhook_subscriptions "
        "FOR EACH ROW EXECUTE FUNCTION set_updated_at()"
    )
    connection = op.get_bind().connection.driver_connection
    assert connection is not None
    role = sql.Identifier(context.config.attributes["app_role"])
    for table in TABLES:
        connection.execute(
            sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON {} TO {}").format(
                sql.Identifier(table), role
            )
        )


def downgrade() -> None:
    op.execute("DROP TRIGGER senders_webhooks ON senders")
    op.execute("DROP TRIGGER campaigns_webhooks ON campaigns")
    op.execute("DROP TRIGGER engagement_events_webhooks ON engagement_events")
    op.execute(
        "DROP FUNCTION webhooks_on_sender_paused(), webhooks_on_campaign_status(), "
        "webhooks_on_events(), enqueue_webhooks(uuid, text, timestamptz, jsonb)"
    )
    op.execute("DROP TABLE webhook_deliveries")
    op.execute("DROP TABLE webhook_subscriptions")
    op.execute("DROP FUNCTION note_webhooks_due()")
    op.execute("ALTER TABLE tenant_directory DROP COLUMN webhook_due_at")
