"""Contacts at scale: CSV imports, segments, data-subject requests and their audit log, and the
search over the organization's people.

- `contact_imports`: one CSV upload and its job. The file itself is kept in the database in
  chunks (`contact_import_chunks`), streamed in as it is uploaded, so any worker can run or
  resume the job; a crash resumes after the last committed row (`rows_done`). The invalid and
  skipped rows are kept with their codes (`contact_import_problems`) for the errors CSV.
- `segments`: saved filters over contacts; `campaign_segments`: a segment enrolled into a
  campaign, and whether the contacts who match later are enrolled too (`follow`).
- `audit_log`: who exported or erased whom, when (the app role may only add and read).
- `suppressions.email_hash`: the SHA-256 of the lower-cased address, kept for every
  suppression; an erased person's suppression keeps only the hash (`email` NULL), so the
  person is never contacted again and the address is not stored.
- Search: a GIN index over the words of a person's name, email and company ('simple'
  configuration: no stemming, no stop words), for prefix searches (`q`).

Revision ID: 0012_contacts_at_scale
Revises: 0011_mailboxes
Create Date: 2026-11-29
"""

from collections.abc import Sequence

from alembic import context, op
from psycopg import sql

revision: str = "0012_contacts_at_scale"
down_revision: str | None = "0011_mailboxes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CURRENT_ORG = "(SELECT nullif(current_setting('app.org_id', true), '')::uuid)"
TABLES = (
    "contact_imports",
    "contact_import_chunks",
    "contact_import_problems",
    "segments",
    "campaign_segments",
    "audit_log",
)
APPEND_ONLY = ("audit_log",)

# The search document of a person; queries must use this same expression to use the index.
CONTACT_SEARCH = (
    "to_tsvector('simple'::regconfig, coalesce(first_name, '') || ' ' || "
    "coalesce(last_name, '') || ' ' || coalesce(email, '') || ' ' || coalesce(company_name, ''))"
)

UPGRADE = f"""
CREATE TABLE contact_imports (
  id uuid NOT NULL DEFAULT gen_random_uuid(),
  org_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  campaign_id uuid,            -- NULL: into the organization's contacts only
  created_by uuid,
  status text NOT NULL DEFAULT 'uploading' CONSTRAINT ck_contact_imports_status
    CHECK (status IN ('uploading', 'queued', 'running', 'completed', 'failed')),
  file_name text NOT NULL DEFAULT '' CHECK (char_length(file_name) <= 255),
  file_bytes bigint NOT NULL DEFAULT 0 CHECK (file_bytes >= 0),
  file_sha256 text,
  mapping jsonb NOT NULL DEFAULT '{{}}' CHECK (jsonb_typeof(mapping) = 'object'),
  encoding text,               -- as detected: utf-8, utf-8-sig, cp1252
  delimiter text CHECK (char_length(delimiter) = 1),
  rows_total integer CHECK (rows_total >= 0),
  rows_done integer NOT NULL DEFAULT 0 CHECK (rows_done >= 0),
  created integer NOT NULL DEFAULT 0,
  updated integer NOT NULL DEFAULT 0,
  skipped integer NOT NULL DEFAULT 0,
  invalid integer NOT NULL DEFAULT 0,
  error text,
  started_at timestamptz,
  finished_at timestamptz,
  leased_until timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_id, id),
  CONSTRAINT fk_contact_imports_campaign FOREIGN KEY (org_id, campaign_id)
    REFERENCES campaigns (org_id, id) ON DELETE CASCADE,
  CONSTRAINT fk_contact_imports_created_by FOREIGN KEY (org_id, created_by)
    REFERENCES user_profiles (org_id, id)
);
-- workers take queued (or abandoned) imports in order
CREATE INDEX idx_contact_imports_waiting ON contact_imports (org_id, created_at)
  WHERE status IN ('queued', 'running');

CREATE TABLE contact_import_chunks (
  org_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  import_id uuid NOT NULL,
  seq integer NOT NULL CHECK (seq >= 0),
  data bytea NOT NULL,
  PRIMARY KEY (org_id, import_id, seq),
  CONSTRAINT fk_contact_import_chunks_import FOREIGN KEY (org_id, import_id)
    REFERENCES contact_imports (org_id, id) ON DELETE CASCADE
);

CREATE TABLE contact_import_problems (
  org_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  import_id uuid NOT NULL,
  row_number integer NOT NULL CHECK (row_number >= 1),  -- the file's line of the row's start
  outcome text NOT NULL CHECK (outcome IN ('invalid', 'skipped')),
  codes text[] NOT NULL,
  message text NOT NULL,
  raw text NOT NULL,           -- the row as read, bounded
  PRIMARY KEY (org_id, import_id, row_number),
  CONSTRAINT fk_contact_import_problems_import FOREIGN KEY (org_id, import_id)
    REFERENCES contact_imports (org_id, id) ON DELETE CASCADE
);

CREATE TABLE segments (
  id uuid NOT NULL DEFAULT gen_random_uuid(),
  org_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  name text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
  description text CHECK (char_length(description) <= 2000),
  filters jsonb NOT NULL CHECK (jsonb_typeof(filters) = 'object'),
  created_by uuid,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_id, id),
  CONSTRAINT fk_segments_created_by FOREIGN KEY (org_id, created_by)
    REFERENCES user_profiles (org_id, id)
);
CREATE UNIQUE INDEX uq_segments_org_name ON segments (org_id, lower(name));

CREATE TABLE campaign_segments (
  org_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  campaign_id uuid NOT NULL,
  segment_id uuid NOT NULL,
  follow boolean NOT NULL DEFAULT false,  -- also the contacts who match later
  enrolled_by uuid,
  last_enrolled_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_id, campaign_id, segment_id),
  CONSTRAINT fk_campaign_segments_campaign FOREIGN KEY (org_id, campaign_id)
    REFERENCES campaigns (org_id, id) ON DELETE CASCADE,
  CONSTRAINT fk_campaign_segments_segment FOREIGN KEY (org_id, segment_id)
    REFERENCES segments (org_id, id) ON DELETE CASCADE
);
CREATE INDEX idx_campaign_segments_following ON campaign_segments (org_id, last_enrolled_at)
  WHERE follow;

CREATE TABLE audit_log (
  id bigint GENERATED ALWAYS AS IDENTITY,
  org_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  actor_id uuid,               -- the user who asked (NULL: the service itself)
  action text NOT NULL CHECK (char_length(action) BETWEEN 1 AND 100),
  subject_type text NOT NULL,
  subject_id uuid,
  details jsonb NOT NULL DEFAULT '{{}}',
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_id, id)
);
CREATE INDEX idx_audit_log_newest ON audit_log (org_id, created_at DESC, id DESC);

ALTER TABLE suppressions ALTER COLUMN email DROP NOT NULL;
ALTER TABLE suppressions ADD COLUMN email_hash text;
-- an owner that is not a superuser is held by the forced policies: lifted for this transaction
ALTER TABLE suppressions NO FORCE ROW LEVEL SECURITY;
UPDATE suppressions SET email_hash = encode(sha256(convert_to(lower(email), 'UTF8')), 'hex');
ALTER TABLE suppressions FORCE ROW LEVEL SECURITY;
ALTER TABLE suppressions ALTER COLUMN email_hash SET NOT NULL;
ALTER TABLE suppressions ADD CONSTRAINT ck_suppressions_email_hash
  CHECK (email_hash ~ '^[0-9a-f]{{64}}$');
CREATE UNIQUE INDEX uq_suppressions_org_email_hash ON suppressions (org_id, email_hash);
-- the hash follows the address; a row without one (an erased person's) keeps the hash it has
CREATE FUNCTION suppressions_email_hash() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.email IS NOT NULL THEN
    NEW.email_hash := encode(sha256(convert_to(lower(NEW.email), 'UTF8')), 'hex');
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER suppressions_email_hash BEFORE INSERT OR UPDATE ON suppressions
  FOR EACH ROW EXECUTE FUNCTION suppressions_email_hash();

CREATE INDEX idx_contacts_search ON contacts USING gin (({CONTACT_SEARCH}));
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
    for table in ("contact_imports", "segments"):
        op.execute(
            f"CREATE TRIGGER {table}_updated_at BEFORE UPDATE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION set_updated_at()"
        )
    connection = op.get_bind().connection.driver_connection
    assert connection is not None
    role = sql.Identifier(context.config.attributes["app_role"])
    for table in TABLES:
        rights = "SELECT, INSERT" if table in APPEND_ONLY else "SELECT, INSERT, UPDATE, DELETE"
        connection.execute(
            sql.SQL("GRANT {} ON {} TO {}").format(sql.SQL(rights), sql.Identifier(table), role)
        )


def downgrade() -> None:
    op.execute("DROP INDEX idx_contacts_search")
    op.execute("DROP TRIGGER suppressions_email_hash ON suppressions")
    op.execute("DROP FUNCTION suppressions_email_hash()")
    op.execute("DELETE FROM suppressions WHERE email IS NULL")
    op.execute("ALTER TABLE suppressions DROP COLUMN email_hash")
    op.execute("ALTER TABLE suppressions ALTER COLUMN email SET NOT NULL")
    for table in reversed(TABLES):
        op.execute(f"DROP TABLE {table}")
