"""Idempotency keys per user: the same Idempotency-Key from two users of one organization names
two requests, and one user's stored answer is never replayed to another.

Keys stored before this revision name no user: they are dropped (each is a replay cache of at
most 24 hours; a retry of such a request runs it again, as it would after 24 hours).

Revision ID: 0007_small
Revises: 0006_targets
Create Date: 2026-11-29
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007_small"
down_revision: str | None = "0006_targets"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("DELETE FROM idempotency_keys")
    op.execute(
        "ALTER TABLE idempotency_keys ADD COLUMN user_id uuid NOT NULL, "
        "DROP CONSTRAINT idempotency_keys_pkey, "
        "ADD CONSTRAINT pk_idempotency_keys PRIMARY KEY (org_id, user_id, key), "
        "ADD CONSTRAINT fk_idempotency_keys_user FOREIGN KEY (org_id, user_id) "
        "REFERENCES user_profiles (org_id, id) ON DELETE CASCADE"
    )


def downgrade() -> None:
    # One key per organization again: of the users' answers under one key, the newest stays.
    op.execute(
        "DELETE FROM idempotency_keys older USING idempotency_keys newer "
        "WHERE older.org_id = newer.org_id AND older.key = newer.key "
        "AND (older.created_at, older.user_id) < (newer.created_at, newer.user_id)"
    )
    op.execute(
        "ALTER TABLE idempotency_keys DROP CONSTRAINT pk_idempotency_keys, "
        "DROP CONSTRAINT fk_idempotency_keys_user, DROP COLUMN user_id, "
        "ADD CONSTRAINT idempotency_keys_pkey PRIMARY KEY (org_id, key)"
    )
