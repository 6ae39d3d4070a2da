"""Senders: the SMTP mailboxes an organization sends from, with their per-sender limits.

The SMTP password is stored encrypted by the application (Fernet, keys from the environment);
the database never sees it in clear.

Revision ID: 0003_senders
Revises: 0002_engagement
Create Date: 2026-11-23
"""

from collections.abc import Sequence

from alembic import context, op
from psycopg import sql

revision: str = "0003_senders"
down_revision: str | None = "0002_engagement"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CURRENT_ORG = "(SELECT nullif(current_setting('app.org_id', true), '')::uuid)"

SENDERS = """
CREATE TABLE senders (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  from_email text NOT NULL CONSTRAINT ck_senders_from_email
    CHECK (from_email ~ '^[^@\\s]+@[^@\\s]+$'),
  from_name text,
  smtp_host text NOT NULL CONSTRAINT ck_senders_smtp_host
    CHECK (char_length(btrim(smtp_host)) BETWEEN 1 AND 253),
  smtp_port integer NOT NULL CONSTRAINT ck_senders_smtp_port
    CHECK (smtp_port BETWEEN 1 AND 65535),
  smtp_tls text NOT NULL CONSTRAINT ck_senders_smtp_tls
    CHECK (smtp_tls IN ('none', 'starttls', 'tls')),
  smtp_username text,
  smtp_password_encrypted text,
  hourly_limit integer NOT NULL DEFAULT 200 CONSTRAINT ck_senders_hourly_limit
    CHECK (hourly_limit >= 1),
  daily_limit integer NOT NULL DEFAULT 1000 CONSTRAINT ck_senders_daily_limit
    CHECK (daily_limit >= 1),
  min_spacing_seconds integer NOT NULL DEFAULT 30 CONSTRAINT ck_senders_min_spacing_seconds
    CHECK (min_spacing_seconds >= 0),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT uq_senders_org_id_id UNIQUE (org_id, id)
)
"""


def upgrade() -> None:
    op.execute(SENDERS)
    op.execute(
        "CREATE UNIQUE INDEX uq_senders_org_from_email ON senders (org_id, lower(from_email))"
    )
    op.execute(
        "CREATE TRIGGER senders_updated_at BEFORE UPDATE ON senders "
        "FOR EACH ROW EXECUTE FUNCTION set_updated_at()"
    )
    op.execute("ALTER TABLE senders ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE senders FORCE ROW LEVEL SECURITY")
    op.execute(
        "CREATE POLICY tenant_isolation ON senders "
        f"USING (org_id = {CURRENT_ORG}) WITH CHECK (org_id = {CURRENT_ORG})"
    )
    connection = op.get_bind().connection.driver_connection
    assert connection is not None
    role = sql.Identifier(context.config.attributes["app_role"])
    connection.execute(
        sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON senders TO {}").format(role)
    )


def downgrade() -> None:
    op.execute("DROP TABLE senders")
