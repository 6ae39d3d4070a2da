"""Ready to distribute by organization (Citus), proven over the catalog of the migrated database.

Every table is either distributed by `org_id` (a tenant table: it has the column) or a listed
reference table, copied whole to every node (small, with the reason it stays small). The rules
are the ones Citus enforces when the tables are distributed, colocated on `org_id`:

- a distributed table's primary key, unique constraints and unique indexes include `org_id`;
- a foreign key between two distributed tables pairs `org_id` with `org_id`;
- a foreign key from a reference table never points into a distributed table;
- no ON DELETE SET NULL / SET DEFAULT (nor an ON UPDATE action) on a key that includes `org_id`.

"No cross-org query outside the jobs' directory" is proven here in the catalog too, not by
reading the code: every table that holds tenant data has row-level security forced on with its
policy on the organization, and the application role may not bypass it (tests/test_schema.py),
so a query of the application sees one organization, whatever its SQL says. The only tables it
reads across organizations hold no tenant data: the jobs' directory and the bookkeeping below.
The distribution itself is written in deploy/citus.md; the last test holds its calls to the
catalog.
"""

import re
from dataclasses import dataclass
from pathlib import Path

import psycopg

DISTRIBUTION_COLUMN = "org_id"
CITUS_NOTE = Path(__file__).resolve().parents[1] / "deploy" / "citus.md"

# Replicated to every node. Each is small: its row count follows the organizations or the
# users, never the campaigns, contacts or messages.
REFERENCE_TABLES = {
    "organizations": "one row per organization; every tenant table's org_id references it",
    "tenant_directory": "the jobs' directory: one row per organization, read across them",
    "user_profiles": "one row per user; a user id is one organization's across all of them "
    "(auth.ensure_org_and_user inserts ON CONFLICT (id)), a key without org_id",
    "job_runs": "one row per background job: when it last ran and how it went",
    "alembic_version": "one row: the schema's revision",
}

# Reference tables the application reads across organizations (no policy): no tenant data.
READ_ACROSS_ORGANIZATIONS = {"tenant_directory", "job_runs", "alembic_version"}

# Citus refuses ON DELETE SET NULL on a foreign key that includes org_id, even PostgreSQL 15's
# `SET NULL (column)` that would never null org_id. Before distributing, each of these becomes
# NO ACTION and the delete of the parent row nulls the column itself (in its service): listed
# so that no new one appears, and so that the list shrinks as they are replaced.
SET_NULL_ON_DELETE = {
    "campaigns.fk_campaigns_sender": "deleting a sender unsets it on its campaigns",
    "outbox_messages.fk_outbox_messages_template": "deleting a template unsets it on messages",
    "suppressions.fk_suppressions_campaign": "deleting a campaign unsets it on suppressions",
}

WHAT_TO_DO = (
    "Every table is distributed by org_id or is a reference table (deploy/citus.md). Give "
    "a table that holds an organization's data an `org_id uuid NOT NULL "
    "REFERENCES organizations (id)` column, in its primary key, its unique constraints and "
    "its foreign keys to other tenant tables, with row-level security forced like the others; "
    "or, if it stays small whatever the organizations do, list it in REFERENCE_TABLES of "
    "tests/test_distribution.py with the reason. Then place it in deploy/citus.md "
    "(create_distributed_table or create_reference_table, after what it points at)."
)


@dataclass(frozen=True)
class ForeignKey:
    table: str
    name: str
    referenced: str
    columns: list[str]
    referenced_columns: list[str]
    on_delete: str  # pg_constraint.confdeltype: a = no action, r, c, n = set null, d
    on_update: str

    def __str__(self) -> str:
        return (
            f"{self.table}.{self.name} ({', '.join(self.columns)}) -> "
            f"{self.referenced} ({', '.join(self.referenced_columns)})"
        )


def _tables(conn: psycopg.Connection) -> dict[str, set[str]]:
    rows = conn.execute(
        "SELECT c.relname, a.attname FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public' "
        "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
        "WHERE c.relkind IN ('r', 'p')"
    ).fetchall()
    tables: dict[str, set[str]] = {}
    for table, column in rows:
        tables.setdefault(table, set()).add(column)
    return tables


def _distributed(tables: dict[str, set[str]]) -> set[str]:
    return {t for t, columns in tables.items() if DISTRIBUTION_COLUMN in columns} - set(
        REFERENCE_TABLES
    )


def _unique_indexes(conn: psycopg.Connection) -> list[tuple[str, str, bool, list[str]]]:
    """(table, index, is the primary key, its plain key columns) of every unique index."""
    rows = conn.execute(
        "SELECT t.relname, i.relname, x.indisprimary, "
        "  array(SELECT a.attname FROM unnest(x.indkey[:x.indnkeyatts - 1]) k (attnum) "
        "        JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum) "
        "FROM pg_index x JOIN pg_class t ON t.oid = x.indrelid "
        "JOIN pg_class i ON i.oid = x.indexrelid "
        "JOIN pg_namespace n ON n.oid = t.relnamespace AND n.nspname = 'public' "
        "WHERE x.indisunique"
    ).fetchall()
    return [(table, index, primary, list(columns)) for table, index, primary, columns in rows]


def _foreign_keys(conn: psycopg.Connection) -> list[ForeignKey]:
    rows = conn.execute(
        "SELECT t.relname, c.conname, r.relname, "
        "  array(SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY k (attnum, i) "
        "        JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum "
        "        ORDER BY k.i), "
        "  array(SELECT a.attname FROM unnest(c.confkey) WITH ORDINALITY k (attnum, i) "
        "        JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum "
        "        ORDER BY k.i), "
        "  c.confdeltype, c.confupdtype "
        "FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid "
        "JOIN pg_class r ON r.oid = c.confrelid "
        "JOIN pg_namespace n ON n.oid = t.relnamespace AND n.nspname = 'public' "
        "WHERE c.contype = 'f'"
    ).fetchall()
    return [ForeignKey(*row) for row in rows]


def test_every_table_is_distributed_by_org_id_or_a_listed_reference_table(
    as_owner: psycopg.Connection,
) -> None:
    tables = _tables(as_owner)
    unplaced = sorted(t for t, columns in tables.items() if DISTRIBUTION_COLUMN not in columns)
    unplaced = [t for t in unplaced if t not in REFERENCE_TABLES]
    assert not unplaced, f"Tables neither distributed nor reference: {unplaced}. {WHAT_TO_DO}"
    gone = sorted(set(REFERENCE_TABLES) - set(tables))
    assert not gone, f"REFERENCE_TABLES lists tables the schema no longer has: {gone}"


def test_the_distribution_column_is_one_type_never_null(as_owner: psycopg.Connection) -> None:
    """Colocation needs one type: every org_id, and organizations.id it references, is a uuid."""
    rows = as_owner.execute(
        "SELECT c.relname, format_type(a.atttypid, a.atttypmod), a.attnotnull "
        "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid AND c.relkind IN ('r', 'p') "
        "JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public' "
        "WHERE a.attname = %s AND NOT a.attisdropped",
        (DISTRIBUTION_COLUMN,),
    ).fetchall()
    assert rows
    assert [r for r in rows if r[1:] != ("uuid", True)] == []


def test_unique_keys_of_distributed_tables_include_org_id(as_owner: psycopg.Connection) -> None:
    distributed = _distributed(_tables(as_owner))
    without_key = sorted(
        distributed - {t for t, _, primary, _ in _unique_indexes(as_owner) if primary}
    )
    assert without_key == [], f"distributed tables without a primary key: {without_key}"
    wrong = [
        f"{table}.{index} ({', '.join(columns)})"
        for table, index, _, columns in _unique_indexes(as_owner)
        if table in distributed and DISTRIBUTION_COLUMN not in columns
    ]
    assert wrong == [], (
        f"Primary keys, unique constraints and unique indexes of distributed tables must "
        f"include org_id (Citus enforces uniqueness shard by shard): {wrong}"
    )


def test_foreign_keys_between_distributed_tables_pair_org_ids(
    as_owner: psycopg.Connection,
) -> None:
    distributed = _distributed(_tables(as_owner))
    wrong = [
        str(fk)
        for fk in _foreign_keys(as_owner)
        if fk.table in distributed
        and fk.referenced in distributed
        and not any(
            column == referenced == DISTRIBUTION_COLUMN
            for column, referenced in zip(fk.columns, fk.referenced_columns, strict=True)
        )
    ]
    assert wrong == [], (
        f"A foreign key between two distributed tables must pair org_id with org_id, so that "
        f"both rows live on the same shard: {wrong}"
    )


def test_reference_tables_point_into_no_distributed_table(as_owner: psycopg.Connection) -> None:
    distributed = _distributed(_tables(as_owner))
    wrong = [
        str(fk)
        for fk in _foreign_keys(as_owner)
        if fk.table in REFERENCE_TABLES and fk.referenced in distributed
    ]
    assert wrong == [], (
        f"Citus has no foreign key from a reference table to a distributed one: {wrong}"
    )


def test_no_set_null_on_keys_with_org_id_but_the_listed_ones(as_owner: psycopg.Connection) -> None:
    distributed = _distributed(_tables(as_owner))
    refused = {
        f"{fk.table}.{fk.name}"
        for fk in _foreign_keys(as_owner)
        if fk.table in distributed
        and DISTRIBUTION_COLUMN in fk.columns
        and (fk.on_delete in ("n", "d") or fk.on_update not in ("a", "r"))
    }
    assert refused == set(SET_NULL_ON_DELETE), (
        "Citus refuses ON DELETE SET NULL/SET DEFAULT and ON UPDATE actions on a foreign key "
        "that includes org_id: use NO ACTION and unset the column where the parent row is "
        "deleted. SET_NULL_ON_DELETE lists the ones left to replace; keep it exact."
    )


def test_tenant_data_is_read_one_organization_at_a_time(as_owner: psycopg.Connection) -> None:
    """Every table but the directory and the bookkeeping has row-level security forced on,
    with a policy on its organization: the application's queries cannot cross organizations."""
    rows = as_owner.execute(
        "SELECT c.relname, c.relforcerowsecurity, "
        "  array(SELECT p.qual || ' ' || coalesce(p.with_check, '') FROM pg_policies p "
        "        WHERE p.schemaname = 'public' AND p.tablename = c.relname) "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public' "
        "WHERE c.relkind IN ('r', 'p')"
    ).fetchall()
    tables = _tables(as_owner)
    open_tables = set()
    for table, forced, policies in rows:
        column = "id" if table == "organizations" else DISTRIBUTION_COLUMN
        scoped = forced and all(
            f"{column} = " in policy and "app.org_id" in policy for policy in policies
        )
        if not (scoped and policies):
            open_tables.add(table)
    assert open_tables == READ_ACROSS_ORGANIZATIONS, (
        "Only the jobs' directory and the bookkeeping are read across organizations; every "
        "other table needs row-level security forced on, with its policy on the organization "
        "(`org_id = current_setting('app.org_id')`, see the migrations)"
    )
    assert all(DISTRIBUTION_COLUMN not in tables[t] for t in READ_ACROSS_ORGANIZATIONS)


def test_the_citus_note_places_every_table_in_an_order_that_holds(
    as_owner: psycopg.Connection,
) -> None:
    """deploy/citus.md names every table once, as the catalog classifies it, colocated on
    org_id, each after the tables its foreign keys point at (Citus needs them placed first)."""
    note = CITUS_NOTE.read_text()
    references = re.findall(r"create_reference_table\('(\w+)'\)", note)
    distributed = re.findall(
        r"create_distributed_table\('(\w+)', 'org_id'(?:, colocate_with => '(\w+)')?\)", note
    )
    assert len(re.findall(r"create_\w+_table\(", note)) == len(references) + len(distributed)
    placed = references + [table for table, _ in distributed]
    assert len(placed) == len(set(placed))
    assert set(references) == set(REFERENCE_TABLES)
    assert set(placed) - set(references) == _distributed(_tables(as_owner))
    first = distributed[0][0]
    assert distributed[0][1] == ""
    assert {group for _, group in distributed[1:]} == {first}
    position = {table: i for i, table in enumerate(placed)}
    early = [
        str(fk) for fk in _foreign_keys(as_owner) if position[fk.referenced] > position[fk.table]
    ]
    assert early == [], f"deploy/citus.md places these tables before what they point at: {early}"
