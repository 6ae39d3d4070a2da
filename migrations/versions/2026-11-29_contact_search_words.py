"""The search over the organization's people, usable under row-level security: a table of each
person's words (`contact_search_words`), kept by triggers on `contacts`, read by prefix.

Why not the GIN index of 0012 (`idx_contacts_search`): under row-level security PostgreSQL
evaluates a query's condition before the policy only when its functions are LEAKPROOF, and
`@@`, `to_tsvector` and `coalesce` are not; the application role's searches therefore read
every row of the organization. A word prefix is two comparisons of text in the "C" collation
(`text_ge`, `text_lt`: leakproof), which the primary key (org_id, word, contact_id) serves.

A person's words: the lower-cased runs of letters and digits of first_name, last_name,
company_name and email, distinct, cut to 64 characters; an erased person (`erased_at`) has
none. outreach.contacts.people.filters splits a query the same way.

The triggers are per statement, with transition tables: a COPY or an import batch is one
statement's work. An update rewrites the words of the rows whose searched fields changed
only; a deleted person's words go with them (the foreign key cascades).

Revision ID: 0015_contact_search_words
Revises: 0014_erased_contacts
Create Date: 2026-11-29
"""

from collections.abc import Sequence

from alembic import context, op
from psycopg import sql

revision: str = "0015_contact_search_words"
down_revision: str | None = "0014_erased_contacts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CURRENT_ORG = "(SELECT nullif(current_setting('app.org_id', true), '')::uuid)"

UPGRADE = """
CREATE TABLE contact_search_words (
  org_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  word text COLLATE "C" NOT NULL CHECK (word <> '' AND char_length(word) <= 64),
  contact_id uuid NOT NULL,
  PRIMARY KEY (org_id, word, contact_id),
  CONSTRAINT fk_contact_search_words_contact FOREIGN KEY (org_id, contact_id)
    REFERENCES contacts (org_id, id) ON DELETE CASCADE
);
-- a person's words: rewritten on update, deleted with the person, and whether one person
-- has a word with a prefix (a search ordered by the newest people probes it)
CREATE INDEX idx_contact_search_words_contact
  ON contact_search_words (org_id, contact_id, word);
-- A prefix's range often falls within one bucket of the default histogram (100 bounds over
-- millions of words), estimated at one row: the planner then starts from a common word
-- rather than the rare one of the query. 1,000 common words and bounds estimate them well.
ALTER TABLE contact_search_words ALTER COLUMN word SET STATISTICS 1000;

CREATE FUNCTION contact_words(VARIADIC fields text[]) RETURNS SETOF text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT DISTINCT left(word, 64)
  FROM unnest(fields) AS field,
       regexp_split_to_table(lower(field), '[^[:alnum:]]+') AS word
  WHERE word <> ''
$$;

CREATE FUNCTION add_contact_search_words() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' THEN
    DELETE FROM contact_search_words w USING old_rows o, new_rows n
    WHERE w.org_id = o.org_id AND w.contact_id = o.id
      AND n.org_id = o.org_id AND n.id = o.id
      AND (n.first_name, n.last_name, n.company_name, n.email, n.erased_at)
          IS DISTINCT FROM (o.first_name, o.last_name, o.company_name, o.email, o.erased_at);
    INSERT INTO contact_search_words (org_id, word, contact_id)
    SELECT n.org_id, word, n.id
    FROM new_rows n JOIN old_rows o ON o.org_id = n.org_id AND o.id = n.id,
         contact_words(n.first_name, n.last_name, n.company_name, n.email) AS word
    WHERE n.erased_at IS NULL
      AND (n.first_name, n.last_name, n.company_name, n.email, n.erased_at)
          IS DISTINCT FROM (o.first_name, o.last_name, o.company_name, o.email, o.erased_at);
  ELSE
    INSERT INTO contact_search_words (org_id, word, contact_id)
    SELECT n.org_id, word, n.id
    FROM new_rows n, contact_words(n.first_name, n.last_name, n.company_name, n.email) AS word
    WHERE n.erased_at IS NULL;
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER contacts_search_words_inserted AFTER INSERT ON contacts
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION add_contact_search_words();
CREATE TRIGGER contacts_search_words_updated AFTER UPDATE ON contacts
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION add_contact_search_words();
"""

# The words of the people already there. A forced policy holds the owner too, and the
# migration sets no organization: the backfill reads and writes across organizations with the
# policies lifted for its own transaction (ALTER TABLE is transactional).
BACKFILL = """
ALTER TABLE contacts NO FORCE ROW LEVEL SECURITY;
INSERT INTO contact_search_words (org_id, word, contact_id)
SELECT c.org_id, word, c.id
FROM contacts c, contact_words(c.first_name, c.last_name, c.company_name, c.email) AS word
WHERE c.erased_at IS NULL;
ALTER TABLE contacts FORCE ROW LEVEL SECURITY;
"""

# The index of 0012 (CONTACT_SEARCH there), which no query uses any more.
GIN_INDEX = """
CREATE INDEX idx_contacts_search ON contacts USING gin ((
  to_tsvector('simple'::regconfig, coalesce(first_name, '') || ' ' ||
  coalesce(last_name, '') || ' ' || coalesce(email, '') || ' ' || coalesce(company_name, ''))))
"""


def upgrade() -> None:
    connection = op.get_bind().connection.driver_connection
    assert connection is not None
    # Several statements at once: sent through the driver, as one simple query.
    connection.execute(UPGRADE)
    connection.execute(BACKFILL)
    op.execute("ALTER TABLE contact_search_words ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE contact_search_words FORCE ROW LEVEL SECURITY")
    op.execute(
        "CREATE POLICY tenant_isolation ON contact_search_words "
        f"USING (org_id = {CURRENT_ORG}) WITH CHECK (org_id = {CURRENT_ORG})"
    )
    role = sql.Identifier(context.config.attributes["app_role"])
    # Written by the triggers, in the statement of the role that changes a contact.
    connection.execute(
        sql.SQL("GRANT SELECT, INSERT, DELETE ON contact_search_words TO {}").format(role)
    )
    op.execute("DROP INDEX idx_contacts_search")


def downgrade() -> None:
    op.execute(GIN_INDEX)
    op.execute("DROP TRIGGER contacts_search_words_inserted ON contacts")
    op.execute("DROP TRIGGER contacts_search_words_updated ON contacts")
    op.execute("DROP FUNCTION add_contact_search_words(), contact_words(VARIADIC text[])")
    op.execute("DROP TABLE contact_search_words")
