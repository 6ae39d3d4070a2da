"""API keys for machine clients: each key is a user profile of its own (`kind = 'api_key'`, the
key's id), so what a key creates is owned by a valid user and every role rule holds for it.

Only the SHA-256 of a key is stored. The key names its organization (`ok_live_<org>_<secret>`),
so the request that presents it looks it up under row-level security like any tenant row: no
table or function reads keys across organizations.

Revision ID: 0019_api_keys
Revises: 0018_webhooks
Create Date: 2026-11-29
"""

from collections.abc import Sequence

from alembic import context, op
from psycopg import sql

revision: str = "0019_api_keys"
down_revision: str | None = "0018_webhooks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CURRENT_ORG = "(SELECT nullif(current_setting('app.org_id', true), '')::uuid)"

API_KEYS = """
CREATE TABLE api_keys (
  org_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  id uuid NOT NULL,
  name text NOT NULL CONSTRAINT ck_api_keys_name CHECK (char_length(btrim(name)) BETWEEN 1 AND 100),
  role text NOT NULL CONSTRAINT ck_api_keys_role
    CHECK (role IN ('admin', 'ta_manager', 'recruiter', 'viewer')),
  key_hash bytea NOT NULL CONSTRAINT ck_api_keys_key_hash CHECK (length(key_hash) = 32),
  key_hint text NOT NULL CONSTRAINT ck_api_keys_key_hint CHECK (char_length(key_hint) <= 16),
  created_by uuid NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz,
  last_used_at timestamptz,
  revoked_at timestamptz,
  CONSTRAINT pk_api_keys PRIMARY KEY (org_id, id),
  CONSTRAINT uq_api_keys_key_hash UNIQUE (org_id, key_hash),
  -- the key acts as this profile: campaigns it creates are owned by it
  CONSTRAINT fk_api_keys_profile FOREIGN KEY (org_id, id) REFERENCES user_profiles (org_id, id),
  CONSTRAINT fk_api_keys_created_by FOREIGN KEY (org_id, created_by)
    REFERENCES user_profiles (org_id, id),
  CONSTRAINT ck_api_keys_expiry CHECK (expires_at IS NULL OR expires_at > created_at)
)
"""


def upgrade() -> None:
    op.execute(
        "ALTER TABLE user_profiles ADD COLUMN kind text NOT NULL DEFAULT 'user' "
        "CONSTRAINT ck_user_profiles_kind CHECK (kind IN ('user', 'api_key'))"
    )
    op.execute(API_KEYS)
    op.execute("ALTER TABLE api_keys ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE api_keys FORCE ROW LEVEL SECURITY")
    op.execute(
        "CREATE POLICY tenant_isolation ON api_keys "
        f"USING (org_id = {CURRENT_ORG}) WITH CHECK (org_id = {CURRENT_ORG})"
    )
    connection = op.get_bind().connection.driver_connection
    assert connection is not None
    role = sql.Identifier(context.config.attributes["app_role"])
    # No DELETE: a revoked key stays, its profile owns what the key created.
    connection.execute(sql.SQL("GRANT SELECT, INSERT, UPDATE ON api_keys TO {}").format(role))


def downgrade() -> None:
    # The keys' profiles stay, as plain users: campaigns they created still point at them.
    op.execute("DROP TABLE api_keys")
    op.execute("ALTER TABLE user_profiles DROP COLUMN kind")
