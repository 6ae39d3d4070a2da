"""Time zones the database knows: `known_zone()` for the SQL that uses stored zones, and
stored zones repaired to what the API now accepts.

The API took any zone Python's zoneinfo loaded, while the sending window, the daily lead
limit and the end date are computed in SQL with PostgreSQL's own tz database: a zone only
Python knew (`posixrules`, `localtime`, `posix/...`, one newer than the server's) failed every
planner and completion run of its organization. Now the API takes only IANA names the
database lists (outreach.kit.timezones); stored zones outside that rule become the zone they
are a copy of (`posix/Europe/Paris` -> `Europe/Paris`), else NULL, so the fallback applies (a
contact's zone falls back to its campaign's, a campaign's to UTC). The repair is not undone by
the downgrade.

Revision ID: 0005_tz
Revises: 0004_sending
Create Date: 2026-11-29
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005_tz"
down_revision: str | None = "0004_sending"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A stored zone may still be one this server does not know: written before zones were
# checked, or gone from the tz database of a server the data moved to. The SQL that uses a
# stored zone skips it, as if it were unset, instead of failing for the whole batch.
KNOWN_ZONE = """
CREATE FUNCTION known_zone(VARIADIC zones text[]) RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
  zone text;
BEGIN
  FOREACH zone IN ARRAY zones LOOP
    CONTINUE WHEN zone IS NULL;
    BEGIN
      PERFORM now() AT TIME ZONE zone;
      RETURN zone;
    EXCEPTION WHEN invalid_parameter_value THEN
      NULL;  -- not a zone of this server: try the next one
    END;
  END LOOP;
  RETURN 'UTC';
END $$
"""

# The API's rule (outreach.kit.timezones), as it stands at this revision.
ACCEPTED_ZONES = """
CREATE TEMPORARY TABLE accepted_zones ON COMMIT DROP AS
  SELECT name FROM pg_timezone_names
  WHERE name NOT IN ('posixrules', 'localtime', 'Factory') AND name !~ '^(posix|right)/'
"""
# Row-level security is forced on the tables, for their owner too: lifted for the repair
# (inside the migration's transaction) so that every organization's rows are seen.
REPAIR = """
UPDATE {table} SET timezone = (
  SELECT name FROM accepted_zones WHERE name = regexp_replace(timezone, '^(posix|right)/', ''))
WHERE timezone NOT IN (SELECT name FROM accepted_zones)
"""


def upgrade() -> None:
    op.execute(KNOWN_ZONE)
    op.execute(ACCEPTED_ZONES)
    for table in ("campaigns", "contacts"):
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        op.execute(REPAIR.format(table=table))
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")


def downgrade() -> None:
    op.execute("DROP FUNCTION known_zone(text[])")
