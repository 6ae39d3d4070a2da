"""A person's words carry the person's `created_at`, so that a search led by a rare word reads
its people newest first from the words alone (an index-only scan and a sort of that word's
entries) before it reads the 50 people of the page.

Without it the page either walked every person newest first, probing each for the words (fast
for a common word, seconds for a rare pair of common names: "Mark Muller" read 106,000 people
at 1M), or joined every person of the rare word to sort them by age.

`created_at` is in the key's INCLUDE list, not the key: entries stay one per person and word.
The table is derived from `contacts`, so it is rebuilt, not altered. A contact's `created_at`
never changes; the update trigger rewrites the words if it ever did.

Revision ID: 0016_search_words_by_age
Revises: 0015_contact_search_words
Create Date: 2026-11-29
"""

from collections.abc import Sequence

from alembic import context, op
from psycopg import sql

revision: str = "0016_search_words_by_age"
down_revision: str | None = "0015_contact_search_words"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CURRENT_ORG = "(SELECT nullif(current_setting('app.org_id', true), '')::uuid)"

TABLE = """
DROP TABLE contact_search_words;
CREATE TABLE contact_search_words (
  org_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  word text COLLATE "C" NOT NULL CHECK (word <> '' AND char_length(word) <= 64),
  contact_id uuid NOT NULL,
  {created_at}
  PRIMARY KEY (org_id, word, contact_id) {include},
  CONSTRAINT fk_contact_search_words_contact FOREIGN KEY (org_id, contact_id)
    REFERENCES contacts (org_id, id) ON DELETE CASCADE
);
CREATE INDEX idx_contact_search_words_contact
  ON contact_search_words (org_id, contact_id, word);
ALTER TABLE contact_search_words ALTER COLUMN word SET STATISTICS 1000;
"""

TRIGGER = """
CREATE OR REPLACE FUNCTION add_contact_search_words() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' THEN
    DELETE FROM contact_search_words w USING old_rows o, new_rows n
    WHERE w.org_id = o.org_id AND w.contact_id = o.id
      AND n.org_id = o.org_id AND n.id = o.id
      AND (n.first_name, n.last_name, n.company_name, n.email, n.erased_at{new_age})
      IS DISTINCT FROM (o.first_name, o.last_name, o.company_name, o.email, o.erased_at{old_age});
    INSERT INTO contact_search_words (org_id, word, contact_id{age_column})
    SELECT n.org_id, word, n.id{new_age}
    FROM new_rows n JOIN old_rows o ON o.org_id = n.org_id AND o.id = n.id,
         contact_words(n.first_name, n.last_name, n.company_name, n.email) AS word
    WHERE n.erased_at IS NULL
      AND (n.first_name, n.last_name, n.company_name, n.email, n.erased_at{new_age})
      IS DISTINCT FROM (o.first_name, o.last_name, o.company_name, o.email, o.erased_at{old_age});
  ELSE
    INSERT INTO contact_search_words (org_id, word, contact_id{age_column})
    SELECT n.org_id, word, n.id{new_age}
    FROM new_rows n, contact_words(n.first_name, n.last_name, n.company_name, n.email) AS word
    WHERE n.erased_at IS NULL;
  END IF;
  RETURN NULL;
END $$;
"""

# The policies are lifted for the backfill's own transaction, as in 0015: the migration sets no
# organization and the forced policy holds the owner too.
BACKFILL = """
ALTER TABLE contacts NO FORCE ROW LEVEL SECURITY;
INSERT INTO contact_search_words (org_id, word, contact_id{age_column})
SELECT c.org_id, word, c.id{contact_age}
FROM contacts c, contact_words(c.first_name, c.last_name, c.company_name, c.email) AS word
WHERE c.erased_at IS NULL;
ALTER TABLE contacts FORCE ROW LEVEL SECURITY;
"""


def build(*, with_age: bool) -> None:
    """The words table, its trigger and its rows, with or without the people's ages."""
    age = {
        "created_at": "created_at timestamptz NOT NULL," if with_age else "",
        "include": "INCLUDE (created_at)" if with_age else "",
        "age_column": ", created_at" if with_age else "",
        "new_age": ", n.created_at" if with_age else "",
        "old_age": ", o.created_at" if with_age else "",
        "contact_age": ", c.created_at" if with_age else "",
    }
    connection = op.get_bind().connection.driver_connection
    assert connection is not None
    # Several statements at once: sent through the driver, as one simple query.
    connection.execute(TABLE.format_map(age))
    connection.execute(TRIGGER.format_map(age))
    connection.execute(BACKFILL.format_map(age))
    op.execute("ALTER TABLE contact_search_words ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE contact_search_words FORCE ROW LEVEL SECURITY")
    op.execute(
        "CREATE POLICY tenant_isolation ON contact_search_words "
        f"USING (org_id = {CURRENT_ORG}) WITH CHECK (org_id = {CURRENT_ORG})"
    )
    role = sql.Identifier(context.config.attributes["app_role"])
    connection.execute(
        sql.SQL("GRANT SELECT, INSERT, DELETE ON contact_search_words TO {}").format(role)
    )


def upgrade() -> None:
    build(with_age=True)


def downgrade() -> None:
    build(with_age=False)
