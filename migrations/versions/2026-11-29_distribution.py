"""Primary keys that include org_id: the schema can be distributed by organization (Citus).

The tenant tables were keyed by `id` alone, with a second unique key `(org_id, id)` for the
foreign keys between them. Citus enforces uniqueness shard by shard, so a distributed table's
keys must include its distribution column: the primary key becomes `(org_id, id)` and takes
the place of the second key (the same index the foreign keys and the lookups used). The
foreign keys that pointed at the old key are dropped and created again on the new one, as
they were. Ids stay unique as before (random UUIDs); nothing else changes.
tests/test_distribution.py holds the rules; README.md, "Scaling out", the distribution.

Revision ID: 0008_distribution
Revises: 0007_small
Create Date: 2026-11-29
"""

from collections.abc import Sequence

from alembic import op
from sqlalchemy import text

revision: str = "0008_distribution"
down_revision: str | None = "0007_small"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Tables keyed by id alone, with (org_id, id) as a second key: the foreign keys point at it.
KEYED_TWICE = (
    "message_templates",
    "campaigns",
    "contacts",
    "campaign_contacts",
    "senders",
    "outbox_messages",
    "tasks",
)
# Tables keyed by id alone that nothing points at.
KEYED_BY_ID = ("engagement_events", "suppressions", "caught_messages")

FOREIGN_KEYS_TO = """
SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint
WHERE contype = 'f' AND confrelid = CAST(:table AS regclass)
ORDER BY conrelid::regclass::text, conname
"""


def _rekey(table: str, keys: str) -> None:
    """Replace the keys of `table` (`keys`: the ALTER TABLE actions), keeping the foreign keys
    that point at it."""
    foreign_keys = op.get_bind().execute(text(FOREIGN_KEYS_TO), {"table": table}).all()
    for referencing, name, _ in foreign_keys:
        op.execute(f"ALTER TABLE {referencing} DROP CONSTRAINT {name}")
    op.execute(f"ALTER TABLE {table} {keys}")
    for referencing, name, definition in foreign_keys:
        op.execute(f"ALTER TABLE {referencing} ADD CONSTRAINT {name} {definition}")


def upgrade() -> None:
    for table in KEYED_TWICE:
        _rekey(
            table,
            f"DROP CONSTRAINT {table}_pkey, DROP CONSTRAINT uq_{table}_org_id_id, "
            f"ADD CONSTRAINT {table}_pkey PRIMARY KEY (org_id, id)",
        )
    for table in KEYED_BY_ID:
        _rekey(
            table,
            f"DROP CONSTRAINT {table}_pkey, ADD CONSTRAINT {table}_pkey PRIMARY KEY (org_id, id)",
        )


def downgrade() -> None:
    for table in KEYED_TWICE:
        _rekey(
            table,
            f"DROP CONSTRAINT {table}_pkey, ADD CONSTRAINT {table}_pkey PRIMARY KEY (id), "
            f"ADD CONSTRAINT uq_{table}_org_id_id UNIQUE (org_id, id)",
        )
    for table in KEYED_BY_ID:
        _rekey(
            table,
            f"DROP CONSTRAINT {table}_pkey, ADD CONSTRAINT {table}_pkey PRIMARY KEY (id)",
        )
