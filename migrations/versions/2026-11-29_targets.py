"""Rate limit windows: per-organization counts of rate-limited operations (the sender test).

Revision ID: 0006_targets
Revises: 0005_tz
Create Date: 2026-11-29
"""

from collections.abc import Sequence

from alembic import context, op
from psycopg import sql

revision: str = "0006_targets"
down_revision: str | None = "0005_tz"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CURRENT_ORG = "(SELECT nullif(current_setting('app.org_id', true), '')::uuid)"

RATE_LIMIT_WINDOWS = """
CREATE TABLE rate_limit_windows (
  org_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  key text NOT NULL,
  window_start timestamptz NOT NULL,
  uses integer NOT NULL CHECK (uses >= 0),
  PRIMARY KEY (org_id, key, window_start)
)
"""


def upgrade() -> None:
    op.execute(RATE_LIMIT_WINDOWS)
    op.execute("ALTER TABLE rate_limit_windows ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE rate_limit_windows FORCE ROW LEVEL SECURITY")
    op.execute(
        "CREATE POLICY tenant_isolation ON rate_limit_windows "
        f"USING (org_id = {CURRENT_ORG}) WITH CHECK (org_id = {CURRENT_ORG})"
    )
    connection = op.get_bind().connection.driver_connection
    assert connection is not None
    role = sql.Identifier(context.config.attributes["app_role"])
    connection.execute(
        sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON rate_limit_windows TO {}").format(role)
    )


def downgrade() -> None:
    op.execute("DROP TABLE rate_limit_windows")
