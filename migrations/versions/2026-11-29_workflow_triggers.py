"""Tag and score triggers: a contact gaining a tag, or a higher score, is noted for the trigger
job (workflows/triggers), which enrolls the contact in the campaigns whose trigger it meets.

The note is written by a trigger on `contacts`, so that every way a person changes (the
contacts API, a CSV import, a sequence's tag or score action) is seen, in the transaction that
makes the change, without the contacts package knowing about sequences. It is written only
while the organization has a live campaign (active or paused) whose published version starts
with a tag or score trigger, so that organizations not using them pay one lookup per statement.

Revision ID: 0010_workflow_triggers
Revises: 0009_workflows
Create Date: 2026-11-29
"""

from collections.abc import Sequence

from alembic import context, op
from psycopg import sql

revision: str = "0010_workflow_triggers"
down_revision: str | None = "0009_workflows"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CURRENT_ORG = "(SELECT nullif(current_setting('app.org_id', true), '')::uuid)"

UPGRADE = f"""
CREATE TABLE contact_trigger_signals (
  id bigint GENERATED ALWAYS AS IDENTITY,
  org_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  contact_id uuid NOT NULL,
  added_tags text[] NOT NULL DEFAULT '{{}}',
  score_before integer,
  score_after integer,
  -- a signal whose contact the lead limits held back is taken again from then on
  not_before timestamptz NOT NULL DEFAULT now(),
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_id, id),
  CONSTRAINT fk_contact_trigger_signals_contact FOREIGN KEY (org_id, contact_id)
    REFERENCES contacts (org_id, id) ON DELETE CASCADE
);
ALTER TABLE contact_trigger_signals ENABLE ROW LEVEL SECURITY;
ALTER TABLE contact_trigger_signals FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON contact_trigger_signals
  USING (org_id = {CURRENT_ORG}) WITH CHECK (org_id = {CURRENT_ORG});

-- Whether the organization has a live campaign started by a trigger of this type.
CREATE FUNCTION workflow_trigger_listens(org uuid, kind text) RETURNS boolean
LANGUAGE sql STABLE AS $$
  SELECT EXISTS (
    SELECT 1 FROM campaign_workflows w
    JOIN campaigns c ON c.org_id = w.org_id AND c.id = w.campaign_id
    JOIN campaign_versions v ON v.org_id = w.org_id AND v.campaign_id = w.campaign_id
                            AND v.version = w.published_version
    WHERE w.org_id = org AND c.status IN ('active', 'paused') AND c.deleted_at IS NULL
      AND v.steps_snapshot @> jsonb_build_array(
            jsonb_build_object('node_type', 'trigger', 'config', jsonb_build_object('type', kind))))
$$;

CREATE FUNCTION note_contact_trigger_signals() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    WITH listening AS MATERIALIZED (
      SELECT org_id FROM (SELECT DISTINCT org_id FROM new_rows) o
      WHERE workflow_trigger_listens(org_id, 'tag'))
    INSERT INTO contact_trigger_signals (org_id, contact_id, added_tags)
    SELECT n.org_id, n.id, n.tags
    FROM new_rows n JOIN listening l ON l.org_id = n.org_id
    WHERE cardinality(n.tags) > 0;
  ELSE
    WITH changed AS MATERIALIZED (
      SELECT n.org_id, n.id,
             ARRAY(SELECT t FROM unnest(n.tags) AS t WHERE NOT t = ANY (o.tags)) AS added,
             CASE WHEN n.score > o.score THEN o.score END AS score_before,
             CASE WHEN n.score > o.score THEN n.score END AS score_after
      FROM new_rows n JOIN old_rows o ON o.org_id = n.org_id AND o.id = n.id
      WHERE NOT n.tags <@ o.tags OR n.score > o.score),
    listening AS MATERIALIZED (
      SELECT org_id, workflow_trigger_listens(org_id, 'tag') AS tag,
             workflow_trigger_listens(org_id, 'score') AS score
      FROM (SELECT DISTINCT org_id FROM changed) o)
    INSERT INTO contact_trigger_signals (org_id, contact_id, added_tags, score_before, score_after)
    SELECT c.org_id, c.id, CASE WHEN l.tag THEN c.added ELSE '{{}}' END,
           CASE WHEN l.score THEN c.score_before END, CASE WHEN l.score THEN c.score_after END
    FROM changed c JOIN listening l ON l.org_id = c.org_id
    WHERE (l.tag AND cardinality(c.added) > 0) OR (l.score AND c.score_after IS NOT NULL);
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER contacts_trigger_signals_inserted AFTER INSERT ON contacts
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION note_contact_trigger_signals();
CREATE TRIGGER contacts_trigger_signals_updated AFTER UPDATE ON contacts
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION note_contact_trigger_signals();
"""


def upgrade() -> None:
    op.execute(UPGRADE)
    connection = op.get_bind().connection.driver_connection
    assert connection is not None
    role = sql.Identifier(context.config.attributes["app_role"])
    # UPDATE: the job takes signals with SELECT ... FOR UPDATE SKIP LOCKED, which needs it.
    connection.execute(
        sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON contact_trigger_signals TO {}").format(
            role
        )
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER contacts_trigger_signals_inserted ON contacts")
    op.execute("DROP TRIGGER contacts_trigger_signals_updated ON contacts")
    op.execute("DROP FUNCTION note_contact_trigger_signals()")
    op.execute("DROP FUNCTION workflow_trigger_listens(uuid, text)")
    op.execute("DROP TABLE contact_trigger_signals")
